"""A batch of audit entries (``append_many`` with many entries: a run's batch of outcomes) is
stored by one executemany of the driver's own INSERT, and every entry's hash covers its scalar
fields as canonical JSON written directly (``chain._head_json``). Both must give exactly the
bytes of the one-entry path and of ``canonical()``: the same rows, the same hashes, a chain
that verifies."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.audit.chain import _SCALARS, _head_json
from backoffice.jsonutil import canonical
from backoffice.schema import audit as audit_table
from backoffice.settings import reset_settings
from backoffice.store import Store

ODD = ["plain", 'quote " and \\ backslash', "new\nline\ttab\x01\x7f", "é ü € 漢字 \U0001f600", "\u2028", ""]


class Action(enum.StrEnum):
    DONE = "thing.done"


def _head(**values: object) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in _SCALARS}
    row.update(values)
    return row


@pytest.mark.parametrize("text", ODD)
def test_head_json_is_canonical_for_text_none_and_whole_numbers(text):
    for row in (
        _head(seq=7, at=text, actor=text, action="x.y", subject=text, outcome=text),
        _head(seq=0, actor=text, role=text, bot=text, ruleset_version=text),
        _head(seq=-3, actor="a", action=text),
        _head(seq=10**20, actor="a", action="x"),
    ):
        assert _head_json(row) == canonical({name: row[name] for name in _SCALARS})


@pytest.mark.parametrize("odd", [True, 1.5, Action.DONE, {"a": 1}, ["x"]])
def test_head_json_of_other_values_is_canonicals(odd):
    row = _head(seq=1, actor="a", action=odd)
    assert _head_json(row) == canonical({name: row[name] for name in _SCALARS})


def _entries(n: int) -> list[AuditEntry]:
    at = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    return [
        AuditEntry(
            actor=ODD[i % len(ODD)] or "bot:toy",
            role=None if i % 3 else "bot",
            action=str(Action.DONE) if i % 2 else "item.queued",
            subject=f"item:{i}",
            bot="toy" if i % 4 else None,
            data={"i": i, "text": ODD[i % len(ODD)], "amount": "1.50"},
            ruleset_version=ODD[(i + 1) % len(ODD)] or None,
            evidence=["a" * 64] if i % 5 == 0 else (),
            outcome="done",
            at=at + timedelta(microseconds=i),
        )
        for i in range(n)
    ]


def _rows(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(audit_table).order_by(audit_table.c.seq))]


def _stores(tmp_path, monkeypatch, key: str | None) -> tuple[Store, Store]:
    if key is not None:
        monkeypatch.setenv("BACKOFFICE_AUDIT_KEY", key)
    monkeypatch.setenv("BACKOFFICE_HOME", str(tmp_path / "home"))
    reset_settings()
    one = Store.open(f"sqlite:///{tmp_path / 'one.db'}")
    many = Store.open(f"sqlite:///{tmp_path / 'many.db'}")
    return one, many


@pytest.mark.parametrize("key", [None, "a key é"])
def test_a_batch_stores_the_rows_one_at_a_time_appends_store(tmp_path, monkeypatch, key):
    one, many = _stores(tmp_path, monkeypatch, key)
    try:
        first = AuditEntry(actor="cli", action="first", at=datetime(2026, 12, 3, 18, 0, tzinfo=UTC))
        for store in (one, many):  # the anchor and head, made by a single append
            with store.write() as conn:
                audit.append(conn, store, first)
        with one.write() as conn:
            seqs_one = [audit.append(conn, one, e) for e in _entries(40)]
        with many.write() as conn:
            seqs_many = audit.append_many(conn, many, _entries(40))
        assert seqs_one == seqs_many == list(range(2, 42))
        assert _rows(one) == _rows(many)  # every column, the hashes included
        result = audit.verify(many)
        assert result.ok and result.checked == 41 and result.head_seq == 41, result
    finally:
        Store.close_all()
        reset_settings()


@pytest.mark.slow
def test_a_batch_on_postgresql_verifies(pg_url):
    store = Store.open()
    audit.record(store, AuditEntry(actor="cli", action="first"))
    with store.write() as conn:
        seqs = audit.append_many(conn, store, _entries(30))
    assert seqs == list(range(2, 32))
    rows = _rows(store)
    assert [r["data"] for r in rows[1:]] == [canonical(e.data) for e in _entries(30)]
    result = audit.verify(store)
    assert result.ok and result.checked == 31, result
