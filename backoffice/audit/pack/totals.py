"""Control totals of a set of audit entries: per bot, entries, distinct items, entries per
action and outcome, evidence references, and the items' amounts per currency."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Totals", "control_totals"]

_NO_BOT = "(none)"


def _item_id(subject: str | None) -> int | None:
    if subject and subject.startswith("item:") and subject[5:].isdigit():
        return int(subject[5:])
    return None


class Totals:
    """Control totals, fed one entry at a time (see :func:`control_totals`)."""

    def __init__(self) -> None:
        self.total = 0
        self.per: dict[str, dict[str, Any]] = {}
        self.items: dict[str, set[int]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.total += 1
        bot = row.get("bot") or _NO_BOT
        b = self.per.get(bot)
        if b is None:
            b = self.per[bot] = {
                "entries": 0,
                "by_action": Counter(),
                "by_outcome": Counter(),
                "evidence_refs": 0,
            }
        b["entries"] += 1
        b["by_action"][row["action"]] += 1
        b["by_outcome"][row.get("outcome") or "-"] += 1
        ev = row["evidence"]
        if ev != "[]":
            b["evidence_refs"] += len(json.loads(ev) if isinstance(ev, str) else ev)
        item_id = _item_id(row.get("subject"))
        if item_id is not None:
            self.items.setdefault(bot, set()).add(item_id)

    def item_ids(self) -> set[int]:
        return set().union(*self.items.values()) if self.items else set()

    def result(self, amounts: dict[int, tuple[str | None, str | None]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for bot, b in sorted(self.per.items()):
            ids = self.items.get(bot, set())
            sums: dict[str, Decimal] = {}
            for i in ids:
                amount, currency = amounts.get(i, (None, None))
                if amount is None:
                    continue
                try:
                    sums[currency or "-"] = sums.get(currency or "-", Decimal("0")) + Decimal(amount)
                except InvalidOperation:
                    continue
            out[bot] = {
                "entries": b["entries"],
                "items": len(ids),
                "by_action": dict(sorted(b["by_action"].items())),
                "by_outcome": dict(sorted(b["by_outcome"].items())),
                "evidence_refs": b["evidence_refs"],
                "amount_total": {c: str(v) for c, v in sorted(sums.items())},
            }
        return {"entries": self.total, "per_bot": out}


def control_totals(
    rows: Iterable[dict[str, Any]], amounts: dict[int, tuple[str | None, str | None]]
) -> dict[str, Any]:
    """Per bot: entries, distinct items, entries per action and outcome, evidence references,
    and the sum of the distinct items' amounts per currency (Decimal as text)."""
    t = Totals()
    for row in rows:
        t.add(row)
    return t.result(amounts)
