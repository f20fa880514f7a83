"""Deciding an item, with maker-checker.

A worker holding the claim decides: approve, correct (field changes, validated by the bot's model)
or reject, with a reason and optionally a root-cause code. Approving a *business* exception takes
two people: the maker's approval parks the item in ``pending_approval``; a checker who is not the
maker confirms or refuses it: a team lead within the delegated limit, an approver above it or for
approver-only codes (duplicates, bank changes). Bots and admins never approve.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection

from backoffice import lifecycle
from backoffice.errors import ConflictError, InputError
from backoffice.jsonutil import jsonable
from backoffice.lifecycle import Event
from backoffice.queue.queries import get
from backoffice.queue.transitions import audit_item, deny_item, held, load
from backoffice.queue.views import QueueItem
from backoffice.rules import field_path
from backoffice.settings import Settings
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, require

__all__ = ["DECISIONS", "ROOT_CAUSES", "above_limit", "resolve", "set_path"]

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


def above_limit(it: QueueItem, settings: Settings) -> bool:
    """Does the check need an approver: above the delegated limit, or an approver-only code?"""
    amount = it.amount
    over = amount is not None and abs(amount) > settings.delegated_limit
    return bool(over or it.row["approver_only"])


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
    user = require(store, user_name, Action.READ_QUEUE, f"item:{item_id}")
    now = utcnow()
    with store.write() as conn:
        it = load(store, conn, item_id)
        pending = it.row["status"] == "pending_approval"
        may_work = allowed(user.role, Action.WORK)
        if not pending and may_work:
            return _decide(store, conn, it, user, decision, reason, root_cause, changes, model, now)
    # Checkers and refusals leave the write transaction first (a denial is audited in its own).
    if pending:
        return _check(store, item_id, user, decision, reason.strip())
    raise deny_item(
        store, user, f"resolve:{decision}", item_id, f"{user.name} ({user.role}) may not work exceptions"
    )


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
    if decision == "approve" and it.row["kind"] == "business":
        tier = "approver" if above_limit(it, store.settings) else "team_lead"
        values["tier"] = tier
        data["needs"] = tier
        event, action = Event.REQUEST_APPROVAL, "item.approval_requested"
    else:
        values["resolved_at"] = now
        event, action = Event.RESOLVE, "item.resolved"
    lifecycle.apply(conn, event, item_id, values=values)
    audit_item(store, conn, user, action, it, data, outcome=decision)
    return QueueItem({**it.row, **values, "status": lifecycle.target(event, it.row["status"])}, now)


def _check(store: Store, item_id: int, user: User, decision: str, reason: str) -> QueueItem:
    """The checker's half of maker-checker."""
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
    if above_limit(it, settings) and not allowed(user.role, Action.APPROVE_ABOVE_LIMIT):
        why = (
            f"item {item_id} is above the delegated limit of {settings.delegated_limit} "
            f"{settings.company_currency} or needs an approver ({' '.join(it.codes)}); "
            "an approver must check it"
        )
        raise deny_item(store, user, subject, item_id, why)
    now = utcnow()
    with store.write() as conn:
        it = load(store, conn, item_id)
        if it.row["status"] != "pending_approval":
            raise ConflictError(f"item {item_id} is {it.status}, no longer waiting for approval")
        final = "approve" if decision == "approve" else "reject"
        lifecycle.apply(
            conn,
            Event.CHECK,
            item_id,
            values={
                "decision": final,
                "checker": user.name,
                "reason": f"{it.row['reason']} | checker: {reason}",
                "resolved_at": now,
                "updated_at": now,
            },
        )
        audit_item(
            store,
            conn,
            user,
            "item.approved" if final == "approve" else "item.approval_refused",
            it,
            {"maker": it.row["maker"], "reason": reason, "amount": it.row["amount"]},
            outcome=final,
        )
    return get(store, item_id)
