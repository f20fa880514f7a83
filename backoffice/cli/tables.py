"""Tables the maintenance commands print (``backoffice reprocess``, ``backoffice escalate``);
``--json`` prints the same figures for scripts."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["escalate_table", "reprocess_table"]

_FIGURES = ("total", "done", "queued", "system_exceptions", "closed", "skipped")


def reprocess_table(result: dict[str, Any]) -> RenderableType:
    """One row per bot: items sent back, and where they ended."""
    if not result:
        return Text("no bot to reprocess")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title="reprocessed")
    t.add_column("bot")
    for col in _FIGURES:
        t.add_column(col.replace("_", " "), justify="right")
    t.add_column("codes")
    for bot, s in result.items():
        codes = " ".join(f"{c}×{n}" for c, n in (s.get("codes") or {}).items())
        t.add_row(bot, *(str(s.get(k, 0)) for k in _FIGURES), codes)
    total = sum(int(s.get("total", 0)) for s in result.values())
    note = Text(f"{total} resolved item(s) went back through their bots" if total else "nothing was resolved")
    return Group(t, note)


def escalate_table(result: dict[str, Any]) -> RenderableType:
    """The items moved up a tier."""
    ids = result.get("items") or []
    assigned = result.get("assigned")
    note = (
        Text(f"{len(assigned)} open item(s) assigned by least open work (auto_assign)") if assigned else None
    )
    if not ids:
        empty = Text("no overdue item to escalate")
        return Group(empty, note) if note else empty
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title="escalated")
    t.add_column("item", justify="right")
    for i in ids:
        t.add_row(str(i))
    done = Text(f"{result.get('escalated', len(ids))} overdue item(s) escalated to the next tier")
    return Group(t, done, note) if note else Group(t, done)
