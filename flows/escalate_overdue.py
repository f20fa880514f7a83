"""Flow: escalate overdue queued items to the next tier (associate -> team lead -> approver)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from backoffice.queue import Queue
from backoffice.store import Store


@task(name="escalate", cache_policy=NO_CACHE, persist_result=False)
def _escalate() -> list[int]:
    return Queue(Store.open()).escalate_overdue()


@flow(name="escalate-overdue")
def escalate_overdue() -> dict[str, Any]:
    ids = _escalate()
    return {"escalated": len(ids), "items": ids}
