"""The notices of the queue's events (:mod:`backoffice.notify`): SLA at risk and breached, found
by the escalate-overdue maintenance, and escalations, once they are committed.

An SLA notice is keyed by item and deadline, so each deadline is notified once: an escalation
gives the item a fresh deadline, which is notified again when it too comes close or passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select

from backoffice.lifecycle import QUEUED
from backoffice.notify import Notice, already_sent, enabled_events, item_notice
from backoffice.schema import items
from backoffice.store import Store

__all__ = ["escalation_notices", "sla_notices"]


def sla_notices(store: Store, now: datetime) -> list[Notice]:
    """``sla_breach`` for queued items past their deadline, ``sla_at_risk`` for those past their
    at-risk time only; without the ones notified before (and nothing when both are switched off)."""
    wanted = enabled_events(store.settings) & {"sla_at_risk", "sla_breach"}
    if not wanted:
        return []
    found: list[Notice] = []
    with store.read() as conn:
        q = select(items).where(items.c.status.in_(QUEUED), items.c.at_risk_at <= now)
        for r in conn.execute(q):
            row = dict(r._mapping)
            due = row.get("due_at")
            breached = due is not None and _aware(due) <= now
            event = "sla_breach" if breached else "sla_at_risk"
            if event in wanted:
                found.append(item_notice(event, row))
    sent = already_sent(store, [n.key for n in found])
    return [n for n in found if n.key not in sent]


def escalation_notices(store: Store, item_ids: Iterable[int]) -> list[Notice]:
    """``escalation`` notices of items as they are now (after their escalation committed)."""
    ids = list(item_ids)
    if not ids or "escalation" not in enabled_events(store.settings):
        return []
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(items).where(items.c.id.in_(ids)))]
    return [item_notice("escalation", row) for row in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
