"""What every versioned proposal shares (a rule-set version, an ownership register): one decision,
taken atomically, and an approval that supersedes the version in force in the same scope.

The callers check who may decide (permission, maker != checker) and audit the decision in the
same transaction; this module only moves the rows, so two concurrent deciders cannot both win.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.engine import Connection

from backoffice.errors import ConflictError

__all__ = ["decide"]


def decide(
    conn: Connection,
    table: Table,
    record_id: int,
    *,
    decider: str,
    approve: bool,
    reason: str | None,
    now: datetime,
    scope: ColumnElement[bool],
    label: str,
) -> tuple[str, list[int]]:
    """Mark the proposal ``record_id`` of ``table`` approved or rejected by ``decider``, if it is
    still proposed (else ConflictError naming ``label``); an approval marks the other approved
    rows matching ``scope`` superseded. Returns the new status and the superseded ids."""
    status = "approved" if approve else "rejected"
    taken = conn.execute(
        update(table)
        .where(table.c.id == record_id, table.c.status == "proposed")
        .values(status=status, decided_by=decider, decided_at=now, decision_reason=reason)
    ).rowcount
    if taken != 1:
        raise ConflictError(f"{label} was decided meanwhile")
    superseded: list[int] = []
    if approve:
        older = conn.execute(
            select(table.c.id).where(scope, table.c.status == "approved", table.c.id != record_id)
        ).all()
        superseded = [int(r.id) for r in older]
        if superseded:
            conn.execute(update(table).where(table.c.id.in_(superseded)).values(status="superseded"))
    return status, superseded
