"""Reading the queue: filters, sorts, pages, counts, one item."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import ColumnElement

from backoffice.errors import InputError, NotFound
from backoffice.lifecycle import QUEUED, STATUSES
from backoffice.queue.views import QueueItem
from backoffice.schema import items
from backoffice.store import Store, utcnow

__all__ = ["SORTS", "count", "filters", "get", "list_items"]

SORTS: dict[str, Any] = {
    "due": (items.c.due_at.asc(), items.c.id.asc()),
    "priority": (items.c.priority.asc(), items.c.due_at.asc(), items.c.id.asc()),
    "age": (items.c.queued_at.asc(), items.c.id.asc()),
    "newest": (items.c.id.desc(),),
    "id": (items.c.id.asc(),),
}


def filters(
    *,
    status: str | None = None,
    bot: str | None = None,
    code: str | None = None,
    owner_role: str | None = None,
    assignee: str | None = None,
    kind: str | None = None,
    sla: str | None = None,
    older_than: timedelta | None = None,
    assigned_to: str | None = None,
    claimable_by: str | None = None,
    postponed: bool | None = False,
    now: datetime,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters. ``status``: a stored status, ``queued`` (the default: open,
    claimed or waiting for approval) or ``open``/``claimed`` as shown (an expired claim is open).

    ``assigned_to``: items assigned to that user; ``claimable_by``: items assigned to nobody or to
    that user (what claim-next may hand out); ``postponed``: queued items postponed until a later
    time are hidden (False, the default), the only ones shown (True) or not told apart (None)."""
    c = items.c
    where: list[ColumnElement[bool]] = []
    if status == "open":
        where.append(or_(c.status == "open", and_(c.status == "claimed", c.lease_until < now)))
    elif status == "unclaimed":  # internal: open and never claimed or released
        where.append(c.status == "open")
    elif status == "expired":  # internal: claimed, lease over
        where.append(and_(c.status == "claimed", c.lease_until < now))
    elif status == "claimed":
        where.append(and_(c.status == "claimed", c.lease_until >= now))
    elif status == "queued":
        where.append(c.status.in_(QUEUED))
    elif status:
        if status not in STATUSES:
            raise InputError(f"unknown status {status!r}; one of {', '.join((*STATUSES, 'queued'))}")
        where.append(c.status == status)
    else:
        where.append(c.status.in_(QUEUED))
    if bot:
        where.append(c.bot == bot)
    if code:
        where.append(c.codes.contains(f" {code} "))
    if owner_role:
        where.append(c.owner_role == owner_role)
    if assignee:
        where.append(and_(c.assignee == assignee, c.status != "open", c.lease_until >= now))
    if kind:
        where.append(c.kind == kind)
    if sla == "overdue":
        where.append(and_(c.status.in_(QUEUED), c.due_at <= now))
    elif sla == "at_risk":
        where.append(and_(c.status.in_(QUEUED), c.at_risk_at <= now, c.due_at > now))
    elif sla == "ok":
        where.append(and_(c.status.in_(QUEUED), c.at_risk_at > now))
    elif sla:
        raise InputError(f"unknown SLA state {sla!r}; one of ok, at_risk, overdue")
    if older_than is not None:
        where.append(c.queued_at <= now - older_than)
    if assigned_to:
        where.append(c.assigned_to == assigned_to)
    if claimable_by:
        where.append(or_(c.assigned_to.is_(None), c.assigned_to == claimable_by))
    if postponed is not None and (status is None or status in (*QUEUED, "queued", "unclaimed", "expired")):
        if postponed:
            where.append(c.postponed_until > now)
        else:
            where.append(or_(c.postponed_until.is_(None), c.postponed_until <= now))
    return where


def list_items(
    store: Store, *, limit: int | None = 100, offset: int = 0, sort: str = "due", **where: Any
) -> list[QueueItem]:
    """Items matching the filters (default: everything queued), sorted, one page."""
    now = utcnow()
    if sort not in SORTS:
        raise InputError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    q = select(items).where(*filters(now=now, **where)).order_by(*SORTS[sort])
    if limit is not None:
        q = q.limit(limit).offset(offset)
    with store.read() as conn:
        return [QueueItem(dict(r._mapping), now) for r in conn.execute(q)]


def count(store: Store, **where: Any) -> int:
    now = utcnow()
    q = select(func.count()).select_from(items).where(*filters(now=now, **where))
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


def get(store: Store, item_id: int) -> QueueItem:
    with store.read() as conn:
        row = conn.execute(select(items).where(items.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"no item {item_id}")
    return QueueItem(dict(row._mapping), utcnow())
