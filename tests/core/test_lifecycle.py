"""backoffice.lifecycle: the transition table, atomic conditional updates, and that nothing else
writes an item's status."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backoffice import lifecycle
from backoffice.errors import ConflictError
from backoffice.lifecycle import QUEUED, STATUSES, TRANSITIONS, Event
from backoffice.queue import Queue
from backoffice.testing import queue_items

CORE = Path(__file__).resolve().parents[2] / "backoffice"
ITEM_STATUSES = set(STATUSES)


def _root_call(node: ast.expr) -> ast.Call | None:
    """The innermost call of a method chain: ``update(items)`` in ``update(items).where(..).values(..)``."""
    while True:
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                node = node.func.value
                continue
            return node
        if isinstance(node, ast.Attribute):
            node = node.value
            continue
        return None


def _on_items(call: ast.Call | None) -> bool:
    return call is not None and any(isinstance(a, ast.Name) and a.id == "items" for a in call.args)


def _status_writes(path: Path, root: Path = CORE.parent) -> list[str]:
    """Places in ``path`` that write ``items.status``, whatever the spelling, as ``file:line: what``."""
    found: list[str] = []
    text = path.read_text()
    tree = ast.parse(text)
    where = f"{path.relative_to(root)}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # insert(items) / pg_insert(items) / sqlite_insert(items) / items.insert(): every new row has a status
        if name.endswith("insert") and _on_items(node):
            found.append(f"{where}:{node.lineno}: {name}(items)")
        if isinstance(func, ast.Attribute) and func.attr == "insert" and _is_items(func.value):
            found.append(f"{where}:{node.lineno}: items.insert()")
        # update(items)....values(status=...) or values({"status": ...})
        if isinstance(func, ast.Attribute) and func.attr == "values" and _on_items(_root_call(func.value)):
            keys = {k.arg for k in node.keywords}
            for a in node.args:
                if isinstance(a, ast.Dict):
                    keys |= {k.value for k in a.keys if isinstance(k, ast.Constant)}
            if "status" in keys:
                found.append(f"{where}:{node.lineno}: update(items).values(status=...)")
        # a dict of values being prepared: values.update(status="resolved"), {"status": "open"}
        other_table = False  # insert(incidents).values(status="open") writes another table's status
        if isinstance(func, ast.Attribute) and func.attr == "values":
            root = _root_call(func.value)
            other_table = root is not None and bool(root.args) and not _on_items(root)
        for kw in node.keywords:
            constant = isinstance(kw.value, ast.Constant) and kw.value.value in ITEM_STATUSES
            if kw.arg == "status" and constant and name in ("update", "values", "dict") and not other_table:
                found.append(f"{where}:{node.lineno}: {name}(status={kw.value.value!r})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(k, ast.Constant)
                    and k.value == "status"
                    and isinstance(v, ast.Constant)
                    and v.value in ITEM_STATUSES
                ):
                    found.append(f'{where}:{node.lineno}: {{"status": {v.value!r}}}')
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if (
                    isinstance(t, ast.Subscript)
                    and isinstance(t.slice, ast.Constant)
                    and t.slice.value == "status"
                ):
                    found.append(f'{where}:{node.lineno}: [..]["status"] = ...')
    for m in re.finditer(r"(?i)\bupdate\s+items\s+set\b[^;\"']*\bstatus\b", text):
        found.append(f"{where}:{text.count(chr(10), 0, m.start()) + 1}: raw SQL {m.group(0)!r}")
    return found


def _is_items(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "items"


def test_only_the_lifecycle_writes_an_items_status() -> None:
    offenders = [
        hit
        for path in sorted(CORE.rglob("*.py"))
        if path != CORE / "lifecycle.py" and "migrations" not in path.parts
        for hit in _status_writes(path)
    ]
    assert offenders == []


def test_the_scan_finds_status_writes(tmp_path: Path) -> None:
    """The scan above is not vacuous: each spelling of a status write is caught."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlalchemy import insert, update\n"
        "from backoffice.schema import items\n"
        "def f(conn, values):\n"
        "    conn.execute(update(items).where(items.c.id == 1).values(status='open'))\n"
        "    conn.execute(insert(items), [{'bot': 'b'}])\n"
        "    values.update(status='resolved')\n"
        "    row = {'status': 'new'}\n"
        "    row['status'] = values\n"
        "    conn.exec_driver_sql('UPDATE items SET status = 1')\n"
        "    conn.execute(insert(incidents).values(status='open'))\n"
    )
    hits = _status_writes(sample, tmp_path)
    assert {int(h.split(":")[1]) for h in hits} == {4, 5, 6, 7, 8, 9}, hits


def test_the_table_uses_known_statuses_only() -> None:
    for (event, start), end in TRANSITIONS.items():
        assert isinstance(event, Event)
        assert start is None or start in STATUSES
        assert end in STATUSES
    assert lifecycle.allowed_from(Event.REOPEN) == ("done", "resolved", "closed")
    assert lifecycle.allowed_from(Event.ESCALATE) == QUEUED
    assert lifecycle.target(Event.CLAIM, "open") == "claimed"
    assert lifecycle.target(Event.ESCALATE, "pending_approval") == "pending_approval"
    with pytest.raises(ConflictError, match="cannot resolve"):
        lifecycle.target(Event.RESOLVE, "open")


def test_an_illegal_transition_raises_and_changes_nothing(bo_store, bo_users) -> None:
    (item_id,) = queue_items(bo_store, 1)
    with bo_store.write() as conn, pytest.raises(ConflictError):
        lifecycle.apply(conn, Event.RESOLVE, item_id, values={"decision": "reject"})  # open, not claimed
    it = Queue(bo_store).get(item_id)
    assert it.row["status"] == "open" and it.row["decision"] is None
    with bo_store.write() as conn, pytest.raises(ValueError, match="lifecycle"):
        lifecycle.apply(conn, Event.CLAIM, item_id, values={"status": "done"})


def test_of_two_identical_transitions_only_the_first_applies(bo_store, bo_users) -> None:
    (item_id,) = queue_items(bo_store, 1)
    with bo_store.write() as conn:
        lifecycle.apply(conn, Event.CLAIM, item_id, values={"assignee": "associate"})
        lifecycle.apply(conn, Event.RESOLVE, item_id, values={"decision": "reject"})
        with pytest.raises(ConflictError, match="status changed"):
            lifecycle.apply(conn, Event.RESOLVE, item_id, values={"decision": "approve"})
        assert lifecycle.apply_many(conn, Event.CLOSE, [item_id, item_id + 1000]) == {item_id}
        assert lifecycle.apply_many(conn, Event.CLOSE, [item_id]) == set()
    it = Queue(bo_store).get(item_id)
    assert it.row["status"] == "closed" and it.row["decision"] == "reject"


def test_escalating_keeps_the_status_and_a_lapsed_claim_reads_open(bo_store, bo_users) -> None:
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1)
    q.claim(item_id, "associate")
    assert q.escalate(item_id, "associate", "needs a lead").row["status"] == "claimed"
    row = q.get(item_id).row
    assert lifecycle.effective_status("claimed", row["lease_until"], row["lease_until"]) == "claimed"
    later = row["lease_until"].replace(year=row["lease_until"].year + 1)
    assert lifecycle.effective_status("claimed", row["lease_until"], later) == "open"
