"""The maintenance flows: resolved items back through their bots, overdue items up a tier.

- ``reprocess-resolved``: approve -> act, correct -> re-check all rules, reject -> close;
- ``escalate-overdue``: overdue queued items to the next tier (associate -> team lead -> approver).

``backoffice deploy`` schedules both (every 10 and 15 minutes, one run at a time).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from backoffice.orchestration.tasks import reprocess_flow_body
from backoffice.plugins import registry
from backoffice.queue import Queue
from backoffice.store import Store

__all__ = ["SCHEDULES", "escalate_overdue", "reprocess_resolved"]


@flow(name="reprocess-resolved")
def reprocess_resolved(bots: list[str] | None = None) -> dict[str, Any]:
    """Send resolved items back through their bots."""
    reg = registry()
    chosen = [reg.get(name) for name in bots] if bots else reg.bots()
    return reprocess_flow_body(chosen)


@task(name="escalate", cache_policy=NO_CACHE, persist_result=False)
def _escalate() -> list[int]:
    return Queue(Store.open()).escalate_overdue()


@task(name="auto-assign", cache_policy=NO_CACHE, persist_result=False)
def _auto_assign() -> dict[str, Any] | None:
    from backoffice.queue.assignment import assign_by_setting

    done = assign_by_setting(Store.open())
    return done.to_dict() if done is not None else None


@flow(name="escalate-overdue")
def escalate_overdue() -> dict[str, Any]:
    """Escalate overdue queued items to the next tier (then, with ``auto_assign`` set, assign
    open unassigned items by least open work)."""
    ids = _escalate()
    out: dict[str, Any] = {"escalated": len(ids), "items": ids}
    assigned = _auto_assign()
    if assigned is not None:
        out["assigned"] = assigned["assigned"]
    return out


SCHEDULES: dict[str, tuple[Any, timedelta]] = {
    "reprocess-resolved": (reprocess_resolved, timedelta(minutes=10)),
    "escalate-overdue": (escalate_overdue, timedelta(minutes=15)),
}
