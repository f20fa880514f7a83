"""An item's lifecycle: the only code that writes ``items.status``.

Every status change is an :class:`Event` applied through the transition table
:data:`TRANSITIONS` ``(event, from-status) -> to-status``::

    register          -> new                 the runner takes a key for the first time
    finish            new -> done            act succeeded (straight through, or after a decision)
    queue             new -> open            a rule, the input or the target system refused it
    claim             open -> claimed        a worker takes it with a lease; also claimed -> claimed
                                             (the caller adds: lease over, or the holder re-claims)
    release           claimed -> open        the holder gives it back
    request_approval  claimed -> pending_approval   the maker approves a business exception
    resolve           claimed -> resolved    correct, reject, or approve a system exception
    check             pending_approval -> resolved  the checker approves or refuses
    close             resolved -> closed     reprocessing a rejected item
    reprocess         resolved -> new        reprocessing sends it back through the bot
    reopen            done | resolved | closed -> open   QA sends a decided or finished item back
    escalate          open | claimed | pending_approval -> (unchanged)   next tier, fresh SLA

A lease that runs out is not a write: a ``claimed`` row whose ``lease_until`` has passed reads as
``open`` (:func:`effective_status`) and may be claimed again.

Each transition is one conditional UPDATE (``WHERE status IN (allowed from-statuses)`` plus the
caller's guards), so two concurrent transitions of one item cannot both win: :func:`apply`
raises :class:`~backoffice.errors.ConflictError` for the loser, as for any transition the table
does not allow. Batch callers (the runner, reprocessing) use :func:`apply_many` and
:func:`apply_rows`, which leave items that are no longer in an allowed status untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, bindparam, case, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from backoffice.errors import ConflictError
from backoffice.schema import items
from backoffice.store import executemany, utcnow

__all__ = [
    "QUEUED",
    "STATUSES",
    "TRANSITIONS",
    "Event",
    "allowed_from",
    "apply",
    "apply_many",
    "apply_prepared",
    "apply_rows",
    "effective_status",
    "prepare",
    "register",
    "target",
]

STATUSES = ("new", "done", "open", "claimed", "pending_approval", "resolved", "closed")
QUEUED = ("open", "claimed", "pending_approval")


class Event(StrEnum):
    REGISTER = "register"
    FINISH = "finish"
    QUEUE = "queue"
    CLAIM = "claim"
    RELEASE = "release"
    REQUEST_APPROVAL = "request_approval"
    RESOLVE = "resolve"
    CHECK = "check"
    CLOSE = "close"
    REPROCESS = "reprocess"
    REOPEN = "reopen"
    ESCALATE = "escalate"


TRANSITIONS: Mapping[tuple[Event, str | None], str] = MappingProxyType(
    {
        (Event.REGISTER, None): "new",
        (Event.FINISH, "new"): "done",
        (Event.QUEUE, "new"): "open",
        (Event.CLAIM, "open"): "claimed",
        (Event.CLAIM, "claimed"): "claimed",
        (Event.RELEASE, "claimed"): "open",
        (Event.REQUEST_APPROVAL, "claimed"): "pending_approval",
        (Event.RESOLVE, "claimed"): "resolved",
        (Event.CHECK, "pending_approval"): "resolved",
        (Event.CLOSE, "resolved"): "closed",
        (Event.REPROCESS, "resolved"): "new",
        (Event.REOPEN, "done"): "open",
        (Event.REOPEN, "resolved"): "open",
        (Event.REOPEN, "closed"): "open",
        **{(Event.ESCALATE, s): s for s in QUEUED},
    }
)


def allowed_from(event: Event) -> tuple[str, ...]:
    """The statuses ``event`` may start from."""
    return tuple(s for (e, s) in TRANSITIONS if e == event and s is not None)


def target(event: Event, status: str) -> str:
    """The status ``event`` leads to from ``status``; ConflictError if the table does not allow it."""
    try:
        return TRANSITIONS[(event, status)]
    except KeyError:
        raise ConflictError(f"an item that is {status} cannot {event.value.replace('_', ' ')}") from None


def effective_status(status: str, lease_until: datetime | None, now: datetime) -> str:
    """The status as the queue shows it: a claim whose lease is over reads as ``open``."""
    if status == "claimed" and lease_until is not None and lease_until < now:
        return "open"
    return status


def register(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new items as ``new``; keys (bot, key) already known are left alone."""
    if not rows:
        return
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = dialect_insert(items).on_conflict_do_nothing(index_elements=["bot", "key"])
    executemany(conn, stmt, [{**_checked(r), "status": TRANSITIONS[(Event.REGISTER, None)]} for r in rows])


def apply(
    conn: Connection,
    event: Event,
    item_id: int,
    *,
    values: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    conflict: str | None = None,
) -> None:
    """Apply ``event`` to one item with ``values`` besides the status, if it is in a status the
    event may start from and ``where`` holds; otherwise raise ConflictError (``conflict`` says why)."""
    n = conn.execute(_update(event, values, where).where(items.c.id == item_id)).rowcount
    if n != 1:
        raise ConflictError(
            conflict or f"item {item_id} cannot {event.value.replace('_', ' ')}: its status changed"
        )


def prepare(
    event: Event,
    columns: Iterable[str],
    *,
    where: Iterable[ColumnElement[bool]] = (),
    item_id: ColumnElement[Any] | None = None,
    returning: bool = False,
) -> Any:
    """A transition's UPDATE built once, to run many times with :func:`apply_prepared` (the hot
    paths, claim-next and deciding, build no statement per item: SQLAlchemy's statement building
    and cache-key work cost more than the statement itself). Each of ``columns`` is set from a
    bound parameter of its own name (``updated_at`` among them: a prepared statement has no
    build time); the item is the ``p_id`` parameter, or ``item_id`` (an expression of bound
    parameters, e.g. a candidate subquery). ``where`` may hold bound parameters too. With
    ``returning`` the statement returns the updated row."""
    cols = tuple(columns)
    if "updated_at" not in cols:
        raise ValueError("a prepared transition sets updated_at from its parameters")
    values = {name: bindparam(f"v_{name}", type_=items.c[name].type) for name in cols}
    target_id = item_id if item_id is not None else bindparam("p_id", type_=items.c.id.type)
    stmt = _update(event, values, where).where(items.c.id == target_id)
    return stmt.returning(*items.c) if returning else stmt


def apply_prepared(
    conn: Connection,
    stmt: Any,
    values: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    item_id: int | None = None,
    conflict: str | None = None,
) -> Any | None:
    """Run a statement of :func:`prepare` with ``values`` (its columns) and ``params`` (its other
    bound parameters). A returning statement gives the updated row or None when nothing moved;
    otherwise, as :func:`apply`, anything but exactly one moved item raises ConflictError."""
    bound = {f"v_{name}": value for name, value in _checked(values).items()}
    if item_id is not None:
        bound["p_id"] = item_id
    result = conn.execute(stmt, {**bound, **(params or {})})
    if result.returns_rows:
        return result.first()
    if result.rowcount != 1:
        raise ConflictError(conflict or f"item {item_id} cannot change: its status changed")
    return None


def apply_many(
    conn: Connection,
    event: Event,
    item_ids: Iterable[int],
    *,
    values: Mapping[str, Any] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
) -> set[int]:
    """Apply ``event`` to each item that is in an allowed status; returns the ids that moved
    (the others changed under us, e.g. another run took them first)."""
    ids = list(item_ids)
    guards = list(where)
    moved: set[int] = set()
    for i in range(0, len(ids), 900):
        stmt = _update(event, values, guards).where(items.c.id.in_(ids[i : i + 900])).returning(items.c.id)
        moved.update(int(r.id) for r in conn.execute(stmt))
    return moved


def apply_rows(
    conn: Connection,
    event: Event,
    rows: Sequence[Mapping[str, Any]],
    *,
    values: Mapping[str, Any],
) -> None:
    """Apply ``event`` to many items at once (one executemany): each row names its item as
    ``p_id``; ``values`` may refer to the rows' other entries with ``bindparam``. Items no longer
    in an allowed status are left untouched."""
    if rows:
        executemany(conn, _update(event, values, ()).where(items.c.id == bindparam("p_id")), rows)


def _checked(values: Mapping[str, Any]) -> Mapping[str, Any]:
    if "status" in values:
        raise ValueError("the status is the lifecycle's to set: pass the event, not a status")
    return values


def _update(event: Event, values: Mapping[str, Any] | None, where: Iterable[ColumnElement[bool]]) -> Any:
    moves = {s: to for (e, s), to in TRANSITIONS.items() if e == event and s is not None}
    if not moves:
        raise ValueError(f"{event} is not an update")
    sets: dict[str, Any] = {"updated_at": utcnow(), **_checked(values or {})}
    if any(to != s for s, to in moves.items()):
        ends = set(moves.values())
        sets["status"] = (
            ends.pop() if len(ends) == 1 else case(moves, value=items.c.status, else_=items.c.status)
        )
    # one comparison per from-status, not IN (...): an expanding IN cannot go into an executemany
    guard = or_(*(items.c.status == s for s in moves))
    return update(items).where(guard, *where).values(**sets)
