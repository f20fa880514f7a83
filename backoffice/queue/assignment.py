"""Assigning queued items to workers: by a team lead, or automatically by least open work.

An assignment (``items.assigned_to``) says who should work an item next; it is not a claim. Claim
next hands a worker the items assigned to them first, then unassigned ones, never another worker's
(:meth:`backoffice.queue.Queue.claim_next`). Every assignment is audited (``item.assigned``, with
the previous and new assignee); only team leads assign (``Action.ASSIGN``), and only to an active
user whose role may work items.

Automatic assignment (:func:`auto_assign`) gives each open, unassigned, not postponed item to the
active worker of the item's owner role who has the least open work (items assigned to them or
under their live claim), ties by name; the count grows as it assigns, so a run spreads evenly.
It runs by hand (``backoffice queue assign --auto``, a team lead) or, with the ``auto_assign``
setting, after each escalate-overdue flow run (:func:`assign_by_setting`, as ``system:assignment``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select, update

from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.lifecycle import QUEUED
from backoffice.queue.queries import SORTS, filters, get
from backoffice.queue.transitions import audit_item, load
from backoffice.queue.views import QueueItem
from backoffice.schema import items, users
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, get_user, require

__all__ = ["AutoAssignment", "assign", "assign_by_setting", "auto_assign", "open_work"]

SYSTEM_ACTOR = "system:assignment"


def _worker(store: Store, name: str) -> User:
    try:
        target = get_user(store, name)
    except NotFound:
        raise InputError(f"no active user {name!r} to assign to", field="to") from None
    if not allowed(target.role, Action.WORK):
        raise InputError(
            f"{target.name} ({target.role}) does not work queue items; assign to an associate or a team lead",
            field="to",
        )
    return target


def assign(store: Store, item_id: int, user_name: str, to: str | None) -> QueueItem:
    """Assign a queued item to ``to`` (None: remove the assignment). Team leads only; audited."""
    lead = require(store, user_name, Action.ASSIGN, f"item:{item_id}")
    target = _worker(store, to) if to else None
    with store.write() as conn:
        it = load(store, conn, item_id)
        if it.row["status"] not in QUEUED:
            raise ConflictError(f"item {item_id} is {it.status}; only queued items are assigned")
        before = it.row.get("assigned_to")
        after = target.name if target else None
        if before == after:
            raise ConflictError(
                f"item {item_id} is already assigned to {after}"
                if after
                else f"item {item_id} is not assigned"
            )
        conn.execute(
            update(items)
            .where(items.c.id == item_id, items.c.status.in_(QUEUED))
            .values(assigned_to=after, updated_at=utcnow())
        )
        audit_item(store, conn, lead, "item.assigned", it, {"from": before, "to": after})
    return get(store, item_id)


def open_work(store: Store) -> Counter[str]:
    """Open work per user: queued items assigned to them or under their live claim."""
    now = utcnow()
    c = items.c
    q = select(c.id, c.assigned_to, c.assignee, c.status, c.lease_until).where(
        c.status.in_(QUEUED), or_(c.assigned_to.is_not(None), c.assignee.is_not(None))
    )
    per: dict[str, set[int]] = {}
    with store.read() as conn:
        for r in conn.execute(q):
            if r.assigned_to:
                per.setdefault(r.assigned_to, set()).add(int(r.id))
            live = r.status != "open" and r.lease_until is not None and r.lease_until >= now
            if r.assignee and live:
                per.setdefault(r.assignee, set()).add(int(r.id))
    return Counter({name: len(ids) for name, ids in per.items()})


@dataclass
class AutoAssignment:
    """What one automatic run did: (item, user) pairs, and items left for want of a worker."""

    assigned: list[tuple[int, str]] = field(default_factory=list)
    no_worker: Counter[str] = field(default_factory=Counter)  # owner role -> items left

    def to_dict(self) -> dict[str, Any]:
        return {
            "assigned": [{"id": i, "to": u} for i, u in self.assigned],
            "no_worker": dict(self.no_worker),
        }


def auto_assign(
    store: Store,
    user_name: str | None,
    *,
    bot: str | None = None,
    owner_role: str | None = None,
    limit: int = 5000,
) -> AutoAssignment:
    """Assign open, unassigned, not postponed items by least open work, per owner role.

    ``user_name``: the team lead running it (checked, audited as the actor); None = the system
    (``system:assignment``), e.g. from a scheduled job.
    """
    actor: User | str = require(store, user_name, Action.ASSIGN) if user_name else SYSTEM_ACTOR
    now = utcnow()
    load_by_user = open_work(store)
    with store.read() as conn:
        workers: dict[str, list[str]] = {}
        for name, role in conn.execute(select(users.c.name, users.c.role).where(users.c.active.is_(True))):
            if allowed(role, Action.WORK):
                workers.setdefault(role, []).append(name)
    out = AutoAssignment()
    c = items.c
    with store.write() as conn:
        q = (
            select(items)
            .where(
                *filters(now=now, status="unclaimed", bot=bot, owner_role=owner_role),
                c.assigned_to.is_(None),
            )
            .order_by(*SORTS["priority"])
            .limit(limit)
        )
        rows = [dict(r._mapping) for r in conn.execute(q)]
        for row in rows:
            role = row["owner_role"] or "associate"
            candidates = workers.get(role)
            if not candidates:
                out.no_worker[role] += 1
                continue
            to = min(candidates, key=lambda n: (load_by_user[n], n))
            done = conn.execute(
                update(items)
                .where(and_(c.id == row["id"], c.status == "open", c.assigned_to.is_(None)))
                .values(assigned_to=to, updated_at=now)
            ).rowcount
            if done != 1:
                continue
            load_by_user[to] += 1
            it = QueueItem(row, now)
            audit_item(store, conn, actor, "item.assigned", it, {"from": None, "to": to, "auto": True})
            out.assigned.append((int(row["id"]), to))
    return out


def assign_by_setting(store: Store) -> AutoAssignment | None:
    """The scheduled automatic assignment: :func:`auto_assign` by the system when the
    ``auto_assign`` setting is on (the escalate-overdue flow calls it), else None."""
    if not store.settings.auto_assign:
        return None
    return auto_assign(store, None)
