"""Deciding an item, with maker-checker.

A worker holding the claim decides: approve, correct (field changes, validated by the bot's model)
or reject, with a reason and optionally a root-cause code. Approving a *business* exception takes
two people: the maker's approval parks the item in ``pending_approval``; a checker who is not the
maker confirms or refuses it: a team lead within the delegated limit, an approver above it or for
approver-only codes (duplicates, bank changes). Bots and admins never approve.

A *correction* of a business exception above the limit or with an approver-only code takes two
people too: the maker's changes wait in ``pending_approval`` (the payload is changed only when an
approver confirms them), so no single worker can clear a bank-account change by correcting it.

The delegated limit is in the company currency: an item's amount is converted with the rate its
run recorded for the item's currency (``items.fx_rate``, from
:meth:`~backoffice.inputs.Inputs.rates_to_company`); an item in another currency without a rate
needs an approver.

Maker and checker are never one person, across reopens too: whoever made a decision on an item
(``item.approval_requested``, ``item.resolved`` in its audit history) may not check it, and whoever
checked it (``item.approved``, ``item.approval_refused``) may not make a decision on it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, bindparam, exists, or_, select

from backoffice import lifecycle
from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.jsonutil import jsonable
from backoffice.lifecycle import Event
from backoffice.queue import rounds
from backoffice.queue.queries import get
from backoffice.queue.routing import may_check, may_make, raised
from backoffice.queue.transitions import audit_item, below_tier, deny_item, held, load
from backoffice.queue.views import QueueItem
from backoffice.rules import field_path
from backoffice.schema import audit, items, users
from backoffice.settings import Settings
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, require

__all__ = [
    "CHECKER_ACTIONS",
    "DECISIONS",
    "MAKER_ACTIONS",
    "ROOT_CAUSES",
    "above_limit",
    "company_amount",
    "owner_gate",
    "past_roles",
    "resolve",
    "set_path",
    "tier_article",
    "why_approver",
]

DECISIONS = ("approve", "correct", "reject")
ROOT_CAUSES = (
    "bad_source_data",
    "vendor_error",
    "po_not_updated",
    "receipt_not_posted",
    "master_data",
    "bot_defect",
    "application_change",
    "other",
)
MAKER_ACTIONS = ("item.approval_requested", "item.resolved")  # audit actions of a maker's decision
CHECKER_ACTIONS = ("item.approved", "item.approval_refused")  # and of a checker's


def set_path(payload: dict[str, Any], path: str, value: Any) -> Any:
    """Set ``a.b.0.c`` (the :attr:`~backoffice.rules.Violation.field` syntax) in nested dicts and
    lists; returns the old value. Raises InputError if a part on the way is absent."""
    parts = path.split(".")
    node: Any = payload
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"no list element {part!r} in {path!r}", field=path)
            if last:
                old = node[int(part)]
                node[int(part)] = value
                return old
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                old = node.get(part)
                node[part] = value
                return old
            if part not in node:
                raise InputError(f"no field {part!r} in {path!r}", field=path)
            node = node[part]
        else:
            raise InputError(f"cannot set {path!r}: {parts[i - 1]!r} is not a record", field=path)
    return None  # pragma: no cover


def company_amount(it: QueueItem, settings: Settings) -> Decimal | None:
    """The item's amount in the company currency: converted with the rate its run recorded
    (``fx_rate``); an amount without a currency, or in the company currency, is taken as it is.
    None when there is no amount, or no rate for its currency."""
    amount = it.amount
    if amount is None:
        return None
    rate = it.row.get("fx_rate")
    if rate is not None:
        return amount * Decimal(rate)
    currency = it.row.get("currency")
    if currency is None or str(currency).upper() == settings.company_currency.upper():
        return amount
    return None


def above_limit(it: QueueItem, settings: Settings) -> bool:
    """Does the check need an approver: above the delegated limit (in the company currency), an
    amount in a currency the run had no rate for, or an approver-only code?"""
    if it.row["approver_only"]:
        return True
    if it.amount is None:
        return False
    converted = company_amount(it, settings)
    return converted is None or abs(converted) > settings.delegated_limit


def tier_article(tier: str) -> str:
    """``a team lead`` / ``an approver`` / ``an associate``."""
    words = tier.replace("_", " ")
    return ("an " if words[:1] in "aeiou" else "a ") + words


def why_approver(it: QueueItem, settings: Settings) -> str:
    """Which of the reasons of :func:`above_limit` holds, with the limit, in words."""
    limit = f"{settings.delegated_limit} {settings.company_currency}"
    if it.row["approver_only"]:
        codes = ", ".join(str(it.row["codes"] or "").split())
        return f"it broke an approver-only rule ({codes})"
    converted = company_amount(it, settings)
    if converted is None:
        return (
            f"its run had no rate from {it.row['currency']} to {settings.company_currency}, "
            f"so the delegated limit of {limit} cannot be checked"
        )
    if it.row.get("personal"):  # a person's pay: not quoted in a message that reaches the log
        return f"its amount is above the delegated limit of {limit}"
    return f"{converted:.2f} {settings.company_currency} is above the delegated limit of {limit}"


def owner_gate(store: Store, it: QueueItem) -> str | None:
    """Who the ownership register sends the item's approval to (its decision owner, or the backup
    while the owner is away or made the decision: :mod:`backoffice.ownership.routing`), when that
    user may check it at its tier and limit; None when the item has none (anyone fit checks)."""
    from backoffice.ownership.routing import item_owner
    from backoffice.users import get_user

    with store.read() as conn:
        owner = item_owner(conn, it.row, utcnow())
    if owner is None or owner.holder == it.row.get("maker"):
        return None
    try:
        role = get_user(store, owner.holder).role
    except NotFound:
        return None
    fits = allowed(role, Action.APPROVE) and may_check(role, it.row["tier"])
    if above_limit(it, store.settings) and not allowed(role, Action.APPROVE_ABOVE_LIMIT):
        fits = False
    return owner.holder if fits else None


def past_roles(store: Store, item_id: int, user_name: str) -> dict[str, list[int]]:
    """What ``user_name`` did on the item across its whole audit history (reopens included):
    ``{"maker": [seq...], "checker": [seq...]}``, only the roles it had."""
    q = select(audit.c.seq, audit.c.action).where(
        audit.c.subject == f"item:{item_id}",
        audit.c.actor == user_name,
        audit.c.action.in_((*MAKER_ACTIONS, *CHECKER_ACTIONS)),
    )
    out: dict[str, list[int]] = {}
    with store.read() as conn:
        for seq, action in conn.execute(q):
            out.setdefault("maker" if action in MAKER_ACTIONS else "checker", []).append(int(seq))
    return out


def resolve(
    store: Store,
    item_id: int,
    user_name: str,
    decision: str,
    reason: str,
    *,
    root_cause: str | None = None,
    changes: Mapping[str, Any] | None = None,
    model: type[BaseModel] | None = None,
) -> QueueItem:
    """Decide an item: the maker's decision, or the checker's on an item waiting for approval."""
    if decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
    if not reason or not reason.strip():
        raise InputError("a decision needs a reason", field="reason")
    if root_cause is not None and root_cause not in ROOT_CAUSES:
        raise InputError(f"root cause must be one of {', '.join(ROOT_CAUSES)}", field="root_cause")
    if decision == "correct" and not changes:
        raise InputError("a correction needs at least one --set FIELD=VALUE", field="changes")
    if decision != "correct" and changes:
        raise InputError("field changes go with --decision correct", field="changes")
    now = utcnow()
    with store.write() as conn:
        got = _maker_fast(store, conn, item_id, user_name)
        if got is not None:
            it, user = got
            return _decide(store, conn, it, user, decision, reason, root_cause, changes, model, now)
    # Everything else (a check, a refusal, a user who checked the item before) the long way:
    user = require(store, user_name, Action.READ_QUEUE, f"item:{item_id}")
    past = past_roles(store, item_id, user.name)
    with store.write() as conn:
        it = load(store, conn, item_id)
        pending = it.row["status"] == "pending_approval"
        may_work = allowed(user.role, Action.WORK)
        tier = it.row["tier"]
        floor_ok = may_make(user.role, tier)
        if not pending and may_work and "checker" not in past and floor_ok:
            return _decide(store, conn, it, user, decision, reason, root_cause, changes, model, now)
    # Checkers and refusals leave the write transaction first (a denial is audited in its own).
    if pending:
        return _check(store, item_id, user, decision, reason.strip(), past)
    if may_work and not floor_ok:
        raise deny_item(store, user, f"resolve:{decision}", item_id, below_tier(user, item_id, tier))
    if may_work:
        seqs = ", ".join(str(n) for n in past["checker"])
        raise deny_item(
            store,
            user,
            f"resolve:{decision}",
            item_id,
            f"maker-checker: {user.name} checked item {item_id} before (audit seq {seqs}) "
            "and cannot also decide it as its maker",
        )
    raise deny_item(
        store, user, f"resolve:{decision}", item_id, f"{user.name} ({user.role}) may not work exceptions"
    )


@functools.cache
def _maker_query(sqlite: bool) -> Any:
    """:func:`_maker_fast`'s statement (parameters ``p_id``, ``p_user``, ``p_subject``)."""
    user = bindparam("p_user", type_=users.c.name.type)
    role = select(users.c.role).where(users.c.name == user, users.c.active.is_(True)).scalar_subquery()
    checked = exists().where(
        audit.c.subject == bindparam("p_subject", type_=audit.c.subject.type),
        audit.c.actor == user,
        # one comparison per action, not IN (...): an expanding IN is rendered again at every run
        or_(*(audit.c.action == a for a in CHECKER_ACTIONS)),
    )
    q = select(items, role.label("user_role_"), checked.label("checked_before_")).where(
        items.c.id == bindparam("p_id", type_=items.c.id.type)
    )
    return q if sqlite else q.with_for_update(of=items)


def _maker_fast(
    store: Store, conn: Connection, item_id: int, user_name: str
) -> tuple[QueueItem, User] | None:
    """The common case of :func:`resolve` read in ONE statement inside its write transaction: the
    item (locked on PostgreSQL), the deciding user's role (active users only) and whether the user
    ever checked the item (maker-checker across reopens). ``(item, user)`` when the user may make
    the decision now: may read the queue and work items, the item is not waiting for a check, it
    is within the user's tiers and the user never checked it. None sends :func:`resolve` the long
    way, which finds and audits the reason (or, where :func:`past_roles` says so, decides)."""
    q = _maker_query(store.is_sqlite)
    found = conn.execute(q, {"p_id": item_id, "p_user": user_name, "p_subject": f"item:{item_id}"}).first()
    if found is None:
        return None
    row = dict(found._mapping)
    user_role, checked_before = row.pop("user_role_"), row.pop("checked_before_")
    if user_role is None or checked_before or row["status"] == "pending_approval":
        return None
    if not (allowed(user_role, Action.READ_QUEUE) and allowed(user_role, Action.WORK)):
        return None
    if not may_make(user_role, row["tier"]):
        return None
    return QueueItem(row, utcnow()), User(name=user_name, role=user_role)


def _decide(
    store: Store,
    conn: Connection,
    it: QueueItem,
    user: User,
    decision: str,
    reason: str,
    root_cause: str | None,
    changes: Mapping[str, Any] | None,
    model: type[BaseModel] | None,
    now: datetime,
) -> QueueItem:
    """The maker's decision, inside the caller's write transaction."""
    item_id = it.row["id"]
    held(it, user, "decide it")
    values: dict[str, Any] = {
        "decision": decision,
        "reason": reason.strip(),
        "root_cause": root_cause,
        "maker": user.name,
        "updated_at": now,
        "lease_until": None,
        "assignee": None,
    }
    data: dict[str, Any] = {"decision": decision, "reason": reason.strip(), "root_cause": root_cause}
    if decision == "correct":
        payload = jsonable(it.row["payload"])
        before: dict[str, Any] = {}
        for path, value in (changes or {}).items():
            before[path] = set_path(payload, path, value)
        if model is not None:
            try:
                model.model_validate(payload)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = field_path(first["loc"], payload, missing=first["type"] == "missing")
                raise InputError(f"correction is not valid: {first['msg']}", field=where) from None
        values.update(payload=payload, changes=dict(changes or {}))
        data.update(before=before, after=dict(changes or {}))
    business = it.row["kind"] == "business"
    if decision == "correct" and business and above_limit(it, store.settings):
        # the changes wait for an approver; the payload changes only when one confirms them
        del values["payload"]
        values["tier"] = data["needs"] = "approver"
        event, action = Event.REQUEST_APPROVAL, "item.approval_requested"
    elif decision == "approve" and business:
        # the tier is a floor: an item escalated to the approver stays with the approver
        tier = raised(it.row["tier"], "approver" if above_limit(it, store.settings) else "team_lead")
        values["tier"] = tier
        data["needs"] = tier
        event, action = Event.REQUEST_APPROVAL, "item.approval_requested"
    else:
        values["resolved_at"] = now
        event, action = Event.RESOLVE, "item.resolved"
    if event is Event.RESOLVE:
        stamp = rounds.decided_values(now=now, decision=decision, maker=user.name)
    else:
        stamp = rounds.decided_values(maker=user.name)
    if store.is_sqlite:
        lifecycle.apply_prepared(conn, _decision_stmt(event, tuple(values)), values, item_id=item_id)
        rounds.decided(conn, item_id, **_decided_args(stamp))
    else:  # PostgreSQL: the decision and its round's stamp in one statement
        moved = lifecycle.apply_prepared(
            conn,
            _pg_decision_stmt(event, tuple(values), tuple(stamp)),
            values,
            {f"r_{k}": v for k, v in stamp.items()},
            item_id=item_id,
        )
        if moved is None:
            raise ConflictError(f"item {item_id} cannot change: its status changed")
    # the audit append last: on PostgreSQL its head lock is held from here to the commit
    audit_item(store, conn, user, action, it, data, outcome=decision)
    return QueueItem({**it.row, **values, "status": lifecycle.target(event, it.row["status"])}, now)


@functools.cache
def _decision_stmt(event: Event, columns: tuple[str, ...]) -> Any:
    """The maker's decision as a prepared transition (a few shapes: resolve, request approval)."""
    return lifecycle.prepare(event, columns)


def _decided_args(stamp: dict[str, Any]) -> dict[str, Any]:
    """:func:`rounds.decided`'s keyword arguments for the columns of :func:`rounds.decided_values`."""
    return {("now" if k == "decided_at" else k): v for k, v in stamp.items()}


@functools.cache
def _pg_decision_stmt(event: Event, columns: tuple[str, ...], stamped: tuple[str, ...]) -> Any:
    """PostgreSQL: the maker's decision and the stamp of its round (``r_NAME`` parameters) in one
    statement, a data-modifying CTE; it returns the item's id, or no row when nothing moved."""
    moved = lifecycle.prepare(event, columns).returning(items.c.id).cte("moved")
    stamp = rounds.decided_stamp(select(moved.c.id).scalar_subquery(), stamped).cte("stamped")
    return select(moved.c.id).add_cte(stamp)


def _check(
    store: Store, item_id: int, user: User, decision: str, reason: str, past: Mapping[str, list[int]]
) -> QueueItem:
    """The checker's half of maker-checker (``past``: what the user did on the item before)."""
    settings = store.settings
    with store.write() as conn:
        it = load(store, conn, item_id)
    subject = f"check:{decision}"
    if decision == "correct":
        raise InputError("an item waiting for approval can be approved or rejected, not corrected")
    if user.role in ("admin", "bot") or not allowed(user.role, Action.APPROVE):
        raise deny_item(store, user, subject, item_id, f"{user.name} ({user.role}) may not approve")
    if user.name == it.row["maker"]:
        raise deny_item(
            store,
            user,
            subject,
            item_id,
            f"maker-checker: {user.name} made this decision and cannot also check it",
        )
    if "maker" in past:
        seqs = ", ".join(str(n) for n in past["maker"])
        raise deny_item(
            store,
            user,
            subject,
            item_id,
            f"maker-checker: {user.name} made a decision on item {item_id} before (audit seq {seqs}) "
            "and cannot also check it",
        )
    if above_limit(it, settings) and not allowed(user.role, Action.APPROVE_ABOVE_LIMIT):
        why = f"item {item_id} needs an approver: {why_approver(it, settings)}; an approver must check it"
        raise deny_item(store, user, subject, item_id, why)
    if not may_check(user.role, it.row["tier"]):
        raise deny_item(store, user, subject, item_id, below_tier(user, item_id, it.row["tier"]))
    if (holder := owner_gate(store, it)) is not None and holder != user.name:
        why = f"approvals of item {item_id} go to {holder}, its decision owner (ownership register)"
        raise deny_item(store, user, subject, item_id, f"{why}; {user.name} may not check it")
    now = utcnow()
    with store.write() as conn:
        it = load(store, conn, item_id)
        if it.row["status"] != "pending_approval":
            raise ConflictError(f"item {item_id} is {it.status}, no longer waiting for approval")
        correction = it.row["decision"] == "correct"
        final = ("correct" if correction else "approve") if decision == "approve" else "reject"
        values: dict[str, Any] = {
            "decision": final,
            "checker": user.name,
            "reason": f"{it.row['reason']} | checker: {reason}",
            "resolved_at": now,
            "updated_at": now,
        }
        data: dict[str, Any] = {"maker": it.row["maker"], "reason": reason, "amount": it.row["amount"]}
        if correction:
            data["changes"] = dict(it.row["changes"] or {})
            if final == "correct":  # the maker's changes take effect now
                payload = jsonable(it.row["payload"])
                for path, value in data["changes"].items():
                    set_path(payload, path, value)
                values["payload"] = payload
        lifecycle.apply(conn, Event.CHECK, item_id, values=values)
        audit_item(
            store,
            conn,
            user,
            "item.approval_refused" if final == "reject" else "item.approved",
            it,
            data,
            outcome=final,
        )
        rounds.decided(conn, item_id, now=now, decision=final, checker=user.name)
    return get(store, item_id)
