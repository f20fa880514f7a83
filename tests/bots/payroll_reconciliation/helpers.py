"""Read back what a payroll run left in the store."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from backoffice.schema import items
from backoffice.store import Store

BOT = "payroll-reconciliation"


def who(payload: dict[str, Any]) -> str:
    kind = payload.get("kind")
    if kind == "employee":
        return str(payload["employee"]["employee_id"])
    if kind == "department":
        return f"department:{payload['department']['department']}"
    if kind == "control":
        return f"control:{payload['control']['name']}"
    return f"input:{payload.get('employee', {}).get('employee_id')}"


def codes_by_subject(store: Store, statuses: tuple[str, ...] = ("open",)) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    with store.read() as conn:
        rows = conn.execute(
            select(items.c.payload, items.c.violations).where(
                items.c.bot == BOT, items.c.status.in_(statuses)
            )
        )
        for payload, violations in rows:
            for v in violations:
                out[who(payload)].add(v["code"])
    return dict(out)


def status_counts(store: Store) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    with store.read() as conn:
        for (status,) in conn.execute(select(items.c.status).where(items.c.bot == BOT)):
            out[status] += 1
    return dict(out)
