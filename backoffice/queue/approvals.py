""" "Awaiting my approval": the items waiting for a check that this user may make.

An item in ``pending_approval`` is the user's to check when their role may approve, they are not
its maker nor made a decision on it before (maker-checker across reopens), and, for an item above
the delegated limit, with an approver-only code or escalated to the approver tier, they are an
approver; an item the ownership register gives a decision owner is that owner's (the backup's
while the owner is away). The check itself is still :func:`backoffice.queue.maker_checker.resolve`'s to allow.
"""

from __future__ import annotations

from sqlalchemy import select

from backoffice.queue.maker_checker import MAKER_ACTIONS, above_limit, owner_gate
from backoffice.queue.queries import list_items
from backoffice.queue.views import QueueItem
from backoffice.schema import audit
from backoffice.store import Store
from backoffice.users import Action, allowed, require

__all__ = ["awaiting"]


def awaiting(store: Store, user_name: str, *, bot: str | None = None, limit: int = 1000) -> list[QueueItem]:
    """The items waiting for ``user_name``'s check, most urgent first."""
    user = require(store, user_name, Action.APPROVE)
    pending = list_items(
        store, status="pending_approval", bot=bot, sort="priority", limit=limit, postponed=None
    )
    if not pending:
        return []
    approver = allowed(user.role, Action.APPROVE_ABOVE_LIMIT)
    subjects = [f"item:{it.id}" for it in pending]
    with store.read() as conn:
        made = {
            str(s)
            for (s,) in conn.execute(
                select(audit.c.subject).where(
                    audit.c.actor == user.name,
                    audit.c.action.in_(MAKER_ACTIONS),
                    audit.c.subject.in_(subjects),
                )
            )
        }
    out = []
    for it in pending:
        if it.row["maker"] == user.name or f"item:{it.id}" in made:
            continue
        needs_approver = it.row["tier"] == "approver" or above_limit(it, store.settings)
        if needs_approver and not approver:
            continue
        if it.row.get("decision_owner") and owner_gate(store, it) not in (None, user.name):
            continue  # the ownership register sends it to its decision owner (or the backup)
        out.append(it)
    return out
