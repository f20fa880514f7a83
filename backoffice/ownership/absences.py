"""Absences: while a user is away, the backup named in the ownership register takes their items
and their approvals. ``backoffice users away USER --until DATE --by ADMIN`` / ``users back USER``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection

from backoffice.audit import AuditEntry, append
from backoffice.errors import ConflictError, InputError
from backoffice.schema import user_absences
from backoffice.store import Store, utcnow
from backoffice.users import Action, get_user, require

__all__ = ["Absence", "absences", "away_among", "is_away", "mark_away", "mark_back"]


@dataclass(frozen=True)
class Absence:
    id: int
    user: str
    starts_at: datetime
    until: datetime
    set_by: str
    ended_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "starts_at": self.starts_at.isoformat(),
            "until": self.until.isoformat(),
            "set_by": self.set_by,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def _absence(row: Any) -> Absence:
    return Absence(int(row.id), row.user, row.starts_at, row.until, row.set_by, row.ended_at)


def _during(at: datetime) -> Any:
    c = user_absences.c
    return and_(c.starts_at <= at, c.until > at, or_(c.ended_at.is_(None), c.ended_at > at))


def away_among(conn: Connection, names: Iterable[str], at: datetime) -> set[str]:
    """Which of ``names`` are away at ``at`` (inside the caller's transaction)."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    q = select(user_absences.c.user).where(user_absences.c.user.in_(wanted), _during(at))
    return {r.user for r in conn.execute(q)}


def is_away(store: Store, user: str, at: datetime) -> bool:
    with store.read() as conn:
        return bool(away_among(conn, [user], at))


def absences(store: Store, user: str | None = None, *, current: bool = False) -> list[Absence]:
    q = select(user_absences).order_by(user_absences.c.id)
    if user is not None:
        q = q.where(user_absences.c.user == user)
    if current:
        q = q.where(_during(utcnow()))
    with store.read() as conn:
        return [_absence(r) for r in conn.execute(q)]


def mark_away(
    store: Store, user: str, until: datetime, *, by: str, starts_at: datetime | None = None
) -> Absence:
    """Mark ``user`` away from ``starts_at`` (now) until ``until`` (an admin's act; audited)."""
    admin = require(store, by, Action.MANAGE_USERS, f"user:{user}")
    target = get_user(store, user)
    start = starts_at or utcnow()
    if until.tzinfo is None:
        raise InputError("--until needs a timezone-aware time", field="until")
    if until <= start:
        raise InputError(f"--until {until.isoformat()} is not after {start.isoformat()}", field="until")
    with store.write() as conn:
        result = conn.execute(
            insert(user_absences).values(user=target.name, starts_at=start, until=until, set_by=admin.name)
        )
        pk = result.inserted_primary_key
        new_id = int(pk[0]) if pk is not None else 0
        append(
            conn,
            store,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="user.away",
                subject=f"user:{target.name}",
                data={"from": start.isoformat(), "until": until.isoformat(), "absence": new_id},
            ),
        )
        row = conn.execute(select(user_absences).where(user_absences.c.id == new_id)).one()
    return _absence(row)


def mark_back(store: Store, user: str, *, by: str) -> int:
    """End ``user``'s current and future absences now; returns how many (audited)."""
    admin = require(store, by, Action.MANAGE_USERS, f"user:{user}")
    target = get_user(store, user)
    now = utcnow()
    c = user_absences.c
    with store.write() as conn:
        ended = conn.execute(
            update(user_absences)
            .where(c.user == target.name, c.until > now, c.ended_at.is_(None))
            .values(ended_at=now)
        ).rowcount
        if not ended:
            raise ConflictError(f"{target.name} is not marked away")
        append(
            conn,
            store,
            AuditEntry(
                actor=admin.name,
                role=admin.role,
                action="user.back",
                subject=f"user:{target.name}",
                data={"absences_ended": int(ended)},
            ),
        )
    return int(ended)
