"""Moving items through the queue: claim (with a lease), claim next, release, reopen, escalate.

Each transition loads the row (``FOR UPDATE`` on PostgreSQL), checks who may do it, applies the
lifecycle event (:mod:`backoffice.lifecycle`: a conditional UPDATE, so of two concurrent claims
exactly one wins) and appends its audit entry, all in one transaction. Deciding an item is
:mod:`backoffice.queue.maker_checker`.

Claim next, the hot path, is one write transaction of few statements: the user and whether
anything is assigned to them in one SELECT, then one prepared ``UPDATE ... WHERE id = (most urgent
open candidate) RETURNING`` that chooses, locks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), claims
and reads the item (:func:`backoffice.lifecycle.prepare`); only expired leases take the longer way.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, exists, literal_column, or_, select
from sqlalchemy.sql import ColumnElement

from backoffice import lifecycle
from backoffice.audit import AuditEntry, append
from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.lifecycle import QUEUED, Event
from backoffice.notify import notify
from backoffice.queue import rounds
from backoffice.queue.queries import SORTS, filters, get
from backoffice.queue.routing import TIERS, deadlines, maker_tiers, may_make, next_tier
from backoffice.queue.sla_notices import escalation_notices, sla_notices
from backoffice.queue.views import QueueItem
from backoffice.schema import items, users
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, deny, require

__all__ = [
    "audit_item",
    "below_tier",
    "claim",
    "claim_next",
    "claim_next_for_user",
    "deny_item",
    "escalate",
    "escalate_overdue",
    "held",
    "load",
    "release",
    "reopen",
]


def load(store: Store, conn: Connection, item_id: int) -> QueueItem:
    """The item's row for a transition (locked on PostgreSQL until the transaction ends)."""
    q = select(items).where(items.c.id == item_id)
    if not store.is_sqlite:
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no item {item_id}")
    return QueueItem(dict(row._mapping), utcnow())


def audit_item(
    store: Store,
    conn: Connection,
    user: User | str,
    action: str,
    it: QueueItem,
    data: dict[str, Any],
    outcome: str | None = None,
) -> None:
    """Append the audit entry of a transition of ``it`` by ``user`` (a name for the system)."""
    name, role = (user.name, user.role) if isinstance(user, User) else (user, "system")
    append(
        conn,
        store,
        AuditEntry(
            actor=name,
            role=role,
            action=action,
            subject=f"item:{it.row['id']}",
            bot=it.row["bot"],
            data=data,
            ruleset_version=it.row["ruleset_version"],
            outcome=outcome,
        ),
    )


def deny_item(store: Store, user: User, action: str, item_id: int, why: str) -> PermissionDenied:
    """An audited refusal of ``action`` on the item, to raise."""
    return deny(store, user.name, user.role, action, f"item:{item_id}", why)


def below_tier(user: User, item_id: int, tier: str | None) -> str:
    """Why ``user`` is refused an item escalated above its role (the tier is a floor)."""
    return (
        f"item {item_id} is with the {str(tier).replace('_', ' ')} tier; {user.name} ({user.role}) "
        "works below it (escalated items are worked and checked from their tier up)"
    )


def held(it: QueueItem, user: User, action: str) -> None:
    """ConflictError unless ``user`` holds a live claim on ``it``."""
    if it.row["status"] != "claimed" or it.row["assignee"] != user.name:
        holder = it.assignee
        raise ConflictError(
            f"item {it.row['id']} is {it.status}"
            + (f" and claimed by {holder}" if holder else "")
            + f"; claim it before you {action}"
        )


def claim(store: Store, item_id: int, user_name: str) -> QueueItem:
    """Take an item for ``lease_minutes``. Exactly one of two concurrent claims wins."""
    user = require(store, user_name, Action.WORK, f"item:{item_id}")
    now = utcnow()
    until = now + _lease(store)
    c = items.c
    with store.write() as conn:
        before = load(store, conn, item_id)
        tier = before.row["tier"]
    if not may_make(user.role, tier):
        raise deny_item(store, user, "claim", item_id, below_tier(user, item_id, tier))
    with store.write() as conn:
        before = load(store, conn, item_id)
        holder = before.assignee
        lifecycle.apply(
            conn,
            Event.CLAIM,
            item_id,
            # claiming a postponed item ends its postponement: it is being worked now (a later
            # requeue must not stay hidden until the old date)
            values={
                "assignee": user.name,
                "lease_until": until,
                "updated_at": now,
                "postponed_until": None,
                "postpone_reason": None,
            },
            # a claimed item only when its lease is over, or to renew one's own claim
            where=[or_(c.status != "claimed", c.lease_until < now, c.assignee == user.name)],
            conflict=f"item {item_id} is {before.status}"
            + (f", claimed by {holder} until {before.row['lease_until']:%H:%M} UTC" if holder else ""),
        )
        data: dict[str, Any] = {"lease_until": until.isoformat()}
        if before.row["status"] == "claimed" and before.row["assignee"] != user.name:
            data["lease_expired_for"] = before.row["assignee"]
        if before.row.get("postponed_until") is not None:
            data["postponement_ended"] = before.row["postponed_until"].isoformat()
        audit_item(store, conn, user, "item.claimed", before, data)
        rounds.claimed(conn, item_id, now)
    status = lifecycle.target(Event.CLAIM, before.row["status"])
    return QueueItem({**before.row, "status": status, "assignee": user.name, "lease_until": until}, now)


def _lease(store: Store) -> timedelta:
    return timedelta(minutes=store.settings.lease_minutes)


def claim_next(store: Store, user_name: str, **where: Any) -> QueueItem | None:
    """Claim the most urgent open item matching the filters, in one write transaction.

    Open items come first (index on status, priority, due), then items whose lease expired.
    PostgreSQL skips rows other claimers hold (``FOR UPDATE SKIP LOCKED``); SQLite's
    ``BEGIN IMMEDIATE`` already makes the transaction the only writer.
    """
    user = require(store, user_name, Action.WORK)
    where.pop("status", None)
    tiers = maker_tiers(user.role)  # escalated items only from their tier up
    now = utcnow()
    until = now + _lease(store)
    values: dict[str, Any] = {"assignee": user.name, "lease_until": until, "updated_at": now}
    with store.write() as conn:
        item_id = None
        for state in ("unclaimed", "expired"):
            item_id = conn.execute(_candidate(store, tiers, state, where, now)).scalar()
            if item_id is not None:
                break
        if item_id is None:
            return None
        return _claim_found(store, conn, user, item_id, values, now)


def _claim_found(
    store: Store, conn: Any, user: Any, item_id: int, values: dict[str, Any], now: datetime
) -> QueueItem:
    """Claim the candidate ``item_id`` that claim-next chose (open, or its lease ran out: the
    audit entry then names whose), inside the caller's transaction."""
    it = load(store, conn, item_id)
    lifecycle.apply(conn, Event.CLAIM, item_id, values=values)
    data: dict[str, Any] = {"lease_until": values["lease_until"].isoformat(), "next": True}
    if it.row["status"] == "claimed":
        data["lease_expired_for"] = it.row["assignee"]
    audit_item(store, conn, user, "item.claimed", it, data)
    rounds.claimed(conn, item_id, now)
    return QueueItem({**it.row, **values, "status": lifecycle.target(Event.CLAIM, it.row["status"])}, now)


def claim_next_for_user(store: Store, user_name: str, **where: Any) -> QueueItem | None:
    """:meth:`Queue.claim_next`: the most urgent item assigned to ``user_name``, else the most
    urgent assigned to nobody (never another's), in ONE write transaction.

    The user is read in that transaction, together with whether any claimable item is assigned
    to them at all (when none is, the assigned-first search is skipped); the claim of an open item
    is one ``UPDATE ... WHERE id = (most urgent candidate) RETURNING`` (:func:`lifecycle.prepare`).
    A user who is unknown, inactive or may not work leaves the transaction and is refused by
    :func:`require` (audited), as before."""
    where.pop("status", None)
    where.pop("assigned_to", None)
    where.pop("claimable_by", None)
    now = utcnow()
    with store.write() as conn:
        row = conn.execute(_worker_query(), {"p_name": user_name, "p_now": now}).first()
        if row is not None and allowed(row.role, Action.WORK):
            user = User(name=row.name, role=row.role)
            if row.assigned:
                got = _claim_next_in(store, conn, user, now, where, "assigned_to")
                if got is not None:
                    return got
            return _claim_next_in(store, conn, user, now, where, "claimable_by")
    require(store, user_name, Action.WORK)  # raises the audited refusal
    # allowed after all (activated or given a role between the two reads): the two-step way
    got = claim_next(store, user_name, **{**where, "assigned_to": user_name})
    if got is None:
        got = claim_next(store, user_name, **{**where, "claimable_by": user_name})
    return got


_NOW = bindparam("p_now", type_=items.c.due_at.type)
_USER = bindparam("p_user", type_=items.c.assignee.type)


@functools.cache
def _worker_query() -> Any:
    """The active user ``p_name`` and whether an item claimable now (``p_now``) is assigned to them."""
    c = items.c
    name = bindparam("p_name", type_=users.c.name.type)
    assigned = exists().where(
        c.assigned_to == name, or_(c.status == "open", and_(c.status == "claimed", c.lease_until < _NOW))
    )
    return select(users.c.name, users.c.role, assigned.label("assigned")).where(
        users.c.name == name, users.c.active.is_(True)
    )


_CLAIMS: dict[tuple[Any, ...], Any] = {}
_ONE = literal_column("1", Integer)
_CLAIM_COLUMNS = ("assignee", "lease_until", "updated_at")


def _scope(scope: str, user: Any) -> ColumnElement[bool]:
    """queries.filters' ``assigned_to`` / ``claimable_by`` for a user that may be a bound parameter."""
    if scope == "assigned_to":
        return items.c.assigned_to == user
    return or_(items.c.assigned_to.is_(None), items.c.assigned_to == user)


def _candidate(
    store: Store, tiers: tuple[str, ...], state: str, where: dict[str, Any], now: Any, *scoped: Any
) -> Any:
    q = (
        select(items.c.id)
        .where(*filters(now=now, status=state, **where), *scoped)
        # one comparison per tier, not IN (...): an expanding IN is rendered again at every run
        .where(or_(items.c.tier.is_(None), *(items.c.tier == t for t in tiers)))
        .order_by(*SORTS["priority"])
        # LIMIT 1 as a literal: with a bound LIMIT, PostgreSQL's generic plan of the prepared claim
        # costs more than a custom one (it cannot assume one row), so it planned every claim again
        .limit(_ONE)
    )
    return q if store.is_sqlite else q.with_for_update(skip_locked=True)


def _claim_open(
    store: Store, tiers: tuple[str, ...], where: dict[str, Any], scope: str, now: datetime
) -> Any:
    """The prepared claim of the most urgent open candidate (parameters ``p_now``, ``p_user``;
    on PostgreSQL also ``p_at``: the round's first-claim stamp rides in the same statement).
    Built once per filter set; filters with time arithmetic (``older_than``) are built each time
    with the time itself."""
    if where.get("older_than") is not None:
        return _claim_statement(store, tiers, where, scope, now)
    key = (store.is_sqlite, tiers, scope, tuple(sorted(where.items())))
    stmt = _CLAIMS.get(key)
    if stmt is None:
        if len(_CLAIMS) > 256:
            _CLAIMS.clear()
        stmt = _CLAIMS[key] = _claim_statement(store, tiers, where, scope, _NOW)
    return stmt


def _claim_statement(
    store: Store, tiers: tuple[str, ...], where: dict[str, Any], scope: str, now: Any
) -> Any:
    claim = lifecycle.prepare(
        Event.CLAIM,
        _CLAIM_COLUMNS,
        item_id=_candidate(store, tiers, "unclaimed", where, now, _scope(scope, _USER)).scalar_subquery(),
        returning=True,
    )
    if store.is_sqlite:
        return claim
    # PostgreSQL: the claim and the round's first-claim stamp in one statement (a data-modifying
    # CTE; the stamp finds no round when nothing was claimed)
    claimed = claim.cte("claimed")
    stamp = rounds.claimed_stamp(select(claimed.c.id).scalar_subquery()).cte("stamped")
    return select(*claimed.c).add_cte(stamp)


def _claim_next_in(
    store: Store, conn: Connection, user: User, now: datetime, where: dict[str, Any], scope: str
) -> QueueItem | None:
    """Queue.claim_next's claim inside the caller's write transaction: the most urgent item
    matching ``where`` and ``scope`` (``assigned_to`` or ``claimable_by`` the user)."""
    tiers = maker_tiers(user.role)  # escalated items only from their tier up
    until = now + _lease(store)
    values: dict[str, Any] = {"assignee": user.name, "lease_until": until, "updated_at": now}
    # an open item: chosen, locked, claimed and read back in one statement (it was open, so no
    # lease of someone else's ran out: the audit entry says no more than that it was claimed)
    stmt = _claim_open(store, tiers, where, scope, now)
    params = {"p_now": now, "p_user": user.name}
    if not store.is_sqlite:
        params["p_at"] = now  # the round stamped in the claim's statement
    row = lifecycle.apply_prepared(conn, stmt, values, params)
    if row is not None:
        it = QueueItem(dict(row._mapping), now)
        if store.is_sqlite:
            rounds.claimed(conn, it.row["id"], now)
        # the audit append last: on PostgreSQL its head lock is held from here to the commit
        audit_item(store, conn, user, "item.claimed", it, {"lease_until": until.isoformat(), "next": True})
        return it
    item_id = conn.execute(_candidate(store, tiers, "expired", {**where, scope: user.name}, now)).scalar()
    if item_id is None:
        return None
    return _claim_found(store, conn, user, item_id, values, now)


def release(store: Store, item_id: int, user_name: str) -> QueueItem:
    """Give a claimed item back to the queue."""
    user = require(store, user_name, Action.WORK, f"item:{item_id}")
    with store.write() as conn:
        it = load(store, conn, item_id)
        held(it, user, "release it")
        lifecycle.apply(
            conn,
            Event.RELEASE,
            item_id,
            values={"assignee": None, "lease_until": None, "updated_at": utcnow()},
        )
        audit_item(store, conn, user, "item.released", it, {})
    return get(store, item_id)


def reopen(store: Store, item_id: int, user_name: str, reason: str) -> QueueItem:
    """QA sends a decided or finished item back to the queue, with a fresh SLA."""
    user = require(store, user_name, Action.REOPEN, f"item:{item_id}")
    if not reason.strip():
        raise InputError("reopening needs a reason", field="reason")
    now = utcnow()
    with store.write() as conn:
        it = load(store, conn, item_id)
        if it.row["status"] not in lifecycle.allowed_from(Event.REOPEN):
            raise ConflictError(f"item {item_id} is {it.status}; only decided or finished items reopen")
        lifecycle.apply(
            conn,
            Event.REOPEN,
            item_id,
            values={
                "assignee": None,
                "lease_until": None,
                "decision": None,
                "checker": None,
                "maker": None,
                "resolved_at": None,
                "closed_at": None,
                "tier": TIERS[0],  # a decided item's tier floor is over: the new round starts low
                "queued_at": now,
                **deadlines(it.row["sla_seconds"], now, store.settings.at_risk_fraction),
                **_owner_fields(conn, it.row, now),
                "updated_at": now,
            },
        )
        audit_item(store, conn, user, "item.reopened", it, {"reason": reason, "was": it.row["status"]})
        rounds.reopen_round(conn, item_id, it.row["bot"], it.row["kind"], user.name, now)
    return get(store, item_id)


def _owner_fields(conn: Connection, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A new round's decision owner and response deadline from the ownership register in force."""
    from backoffice.ownership.records import current_in
    from backoffice.ownership.routing import codes_of, owner_fields

    return owner_fields(current_in(conn), str(row["bot"]), codes_of(row), now)


def escalate(store: Store, item_id: int, user_name: str | None, reason: str) -> QueueItem:
    """Move an item up one tier (associate -> team lead -> approver). ``None`` = the system."""
    actor: User | str = (
        require(store, user_name, Action.ESCALATE, f"item:{item_id}") if user_name else "system:escalation"
    )
    with store.write() as conn:
        it = load(store, conn, item_id)
        _escalate(store, conn, it, actor, reason)
    notify(store, escalation_notices(store, [item_id]))
    return get(store, item_id)


def _escalate(store: Store, conn: Connection, it: QueueItem, actor: User | str, reason: str) -> None:
    if it.row["status"] not in QUEUED:
        raise ConflictError(f"item {it.row['id']} is {it.status}; only queued items escalate")
    tier = it.row["tier"] or TIERS[0]
    nxt = next_tier(tier)
    if nxt is None:
        raise ConflictError(f"item {it.row['id']} is already with the last tier ({tier})")
    now = utcnow()
    lifecycle.apply(
        conn,
        Event.ESCALATE,
        it.row["id"],
        values={
            "tier": nxt,
            "owner_role": nxt,
            "priority": max(1, int(it.row["priority"]) - 1),
            "escalations": int(it.row["escalations"]) + 1,
            **deadlines(it.row["sla_seconds"], now, store.settings.at_risk_fraction),
            "updated_at": now,
        },
    )
    audit_item(store, conn, actor, "item.escalated", it, {"from": tier, "to": nxt, "reason": reason})


def escalate_overdue(store: Store) -> list[int]:
    """Escalate every overdue queued item not yet with the last tier. Returns their ids. SLA
    at-risk and breach notices (found before the escalations give fresh deadlines) and the
    escalations' notices are sent once it is committed."""
    now = utcnow()
    sla = sla_notices(store, now)
    done: list[int] = []
    with store.write() as conn:
        q = select(items).where(items.c.status.in_(QUEUED), items.c.due_at <= now, items.c.tier != TIERS[-1])
        if not store.is_sqlite:  # two runs at once: each overdue item is escalated by one of them
            q = q.with_for_update(skip_locked=True)
        for r in conn.execute(q).fetchall():
            _escalate(store, conn, QueueItem(dict(r._mapping), now), "system:escalation", "overdue")
            done.append(int(r.id))
        done += [n for n in _by_register(store, conn, now) if n not in done]
    notify(store, [*sla, *escalation_notices(store, done)])
    return done


def _by_register(store: Store, conn: Connection, now: datetime) -> list[int]:
    """Escalate queued items the ownership register's thresholds (amount, age) put higher up the
    path than their tier (backoffice.ownership.routing.threshold_level: a floor, reached at once)."""
    from backoffice.ownership.records import current_in
    from backoffice.ownership.routing import codes_of, threshold_level

    register = current_in(conn)
    if register is None:
        return []
    q = select(items).where(
        items.c.status.in_(QUEUED), items.c.decision_owner.is_not(None), items.c.tier != TIERS[-1]
    )
    out: list[int] = []
    for r in conn.execute(q).fetchall():  # read without locks; only the rows to escalate are locked
        row = dict(r._mapping)
        owner = register.row_for_codes(str(row["bot"]), codes_of(row))
        if owner is None:
            continue
        level, why = threshold_level(owner, row, now, store.settings.company_currency)
        if TIERS.index(row["tier"] or TIERS[0]) >= level:
            continue
        again = select(items).where(items.c.id == r.id, items.c.status.in_(QUEUED))
        if not store.is_sqlite:  # two runs at once: each item is escalated by one of them
            again = again.with_for_update(skip_locked=True)
        locked = conn.execute(again).first()
        if locked is None:
            continue
        row = dict(locked._mapping)
        while TIERS.index(row["tier"] or TIERS[0]) < level:
            _escalate(store, conn, QueueItem(row, now), "system:escalation", f"ownership register: {why}")
            row = dict(conn.execute(select(items).where(items.c.id == r.id)).one()._mapping)
            if int(r.id) not in out:
                out.append(int(r.id))
    return out
