"""Postponing a queued item until a date: hidden from the queue's default view until then, after
which it is back by itself (the queue's filters compare ``postponed_until`` with the clock; no job
has to run).

The SLA is paused while an item is postponed: its due and at-risk times move forward by the time
it is away, so it is neither at risk nor overdue (nor escalated as overdue) for waiting on what it
was postponed for; the audit entry (``item.postponed``) records the reason and the deadlines
before and after. Resuming early (:func:`resume`) moves them back by the time not used.

Who: a worker (``Action.WORK``), on an open item or one under their own claim (the claim is
released: the item returns to the queue, not to them). Items waiting for approval are the
checker's and are not postponed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from backoffice import lifecycle
from backoffice.errors import ConflictError, InputError
from backoffice.lifecycle import Event
from backoffice.queue.queries import get
from backoffice.queue.transitions import audit_item, load
from backoffice.queue.views import QueueItem
from backoffice.schema import items
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["MAX_POSTPONE", "parse_until", "postpone", "resume"]

MAX_POSTPONE = timedelta(days=366)


def parse_until(text: str, *, now: datetime | None = None) -> datetime:
    """``2026-12-24`` (start of that day, UTC), ``2026-12-24T09:30`` or with an offset, or ``3d``
    / ``12h`` from now, as an aware UTC datetime."""
    from datetime import UTC

    raw = text.strip()
    now = now or utcnow()
    if raw[:-1].isdigit() and raw[-1:] in ("d", "h"):
        n = int(raw[:-1])
        return now + (timedelta(days=n) if raw.endswith("d") else timedelta(hours=n))
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"--until takes a date (2026-12-24), a time (2026-12-24T09:30) or 3d / 12h, got {text!r}",
            field="until",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _shifted(row: dict[str, Any], by: timedelta) -> dict[str, Any]:
    return {k: row[k] + by for k in ("due_at", "at_risk_at") if row.get(k) is not None}


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def postpone(store: Store, item_id: int, user_name: str, until: datetime, reason: str) -> QueueItem:
    """Hide a queued item until ``until`` with a reason; the SLA pauses (see the module doc)."""
    user = require(store, user_name, Action.WORK, f"item:{item_id}")
    if not reason or not reason.strip():
        raise InputError("postponing needs a reason", field="reason")
    if until.tzinfo is None:
        raise InputError("the postponement's end needs a time zone", field="until")
    now = utcnow()
    if until <= now:
        raise InputError(
            f"postpone until a time in the future, not {until:%Y-%m-%d %H:%M} UTC", field="until"
        )
    if until - now > MAX_POSTPONE:
        raise InputError("an item is postponed for at most a year", field="until")
    with store.write() as conn:
        it = load(store, conn, item_id)
        status = it.status  # an expired claim reads as open
        if status == "pending_approval":
            raise ConflictError(f"item {item_id} is waiting for approval; its checker decides it now")
        if status not in ("open", "claimed"):
            raise ConflictError(f"item {item_id} is {status}; only queued items are postponed")
        if status == "claimed" and it.row["assignee"] != user.name:
            raise ConflictError(f"item {item_id} is claimed by {it.row['assignee']}; they may postpone it")
        earlier = it.row.get("postponed_until")
        away = until - max(now, earlier) if earlier and earlier > now else until - now
        values: dict[str, Any] = {
            "postponed_until": until,
            "postpone_reason": reason.strip(),
            "updated_at": now,
            **_shifted(it.row, away),
        }
        if it.row["status"] == "claimed":  # ours, or a lapsed claim: back to the queue
            lifecycle.apply(
                conn, Event.RELEASE, item_id, values={**values, "assignee": None, "lease_until": None}
            )
        else:
            n = conn.execute(
                update(items).where(items.c.id == item_id, items.c.status == "open").values(**values)
            ).rowcount
            if n != 1:
                raise ConflictError(f"item {item_id} changed while it was being postponed; try again")
        audit_item(
            store,
            conn,
            user,
            "item.postponed",
            it,
            {
                "until": until.isoformat(),
                "reason": reason.strip(),
                "due_before": _iso(it.row["due_at"]),
                "due_after": _iso(values.get("due_at")),
                "released": it.row["status"] == "claimed",
            },
        )
    return get(store, item_id)


def resume(store: Store, item_id: int, user_name: str, reason: str) -> QueueItem:
    """End a postponement now: the item is back in the queue; its deadlines move back by the time
    it was not away."""
    user = require(store, user_name, Action.WORK, f"item:{item_id}")
    if not reason or not reason.strip():
        raise InputError("resuming a postponed item needs a reason", field="reason")
    now = utcnow()
    with store.write() as conn:
        it = load(store, conn, item_id)
        until = it.row.get("postponed_until")
        if until is None or until <= now:
            raise ConflictError(f"item {item_id} is not postponed")
        values = {
            "postponed_until": None,
            "postpone_reason": None,
            "updated_at": now,
            **_shifted(it.row, -(until - now)),
        }
        conn.execute(update(items).where(items.c.id == item_id).values(**values))
        audit_item(
            store,
            conn,
            user,
            "item.resumed",
            it,
            {
                "was_until": until.isoformat(),
                "reason": reason.strip(),
                "due_after": _iso(values.get("due_at")),
            },
        )
    return get(store, item_id)
