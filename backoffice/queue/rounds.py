"""Every round an item spends in the queue, and the violations raised in it.

A round opens when the runner queues an item (:func:`open_rounds`, from
:mod:`backoffice.runner.recording`) or QA reopens it (:func:`reopen_round`); its first claim is
stamped (:func:`claimed`) and its decision closes it (:func:`decided`). Nothing here is ever
overwritten by a later round, so after a correction or a reopen the earlier codes stay: the item
page shows them (:func:`history`) and the KPIs count what was raised in every round
(:mod:`backoffice.queue.stats`).

Times: *waiting* is queued -> first claim, *handling* is first claim -> decision.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from backoffice.schema import item_rounds, item_violations
from backoffice.store import Store

__all__ = [
    "claimed",
    "claimed_stamp",
    "decided",
    "decided_stamp",
    "decided_values",
    "history",
    "open_rounds",
    "reopen_round",
]


def _last_rounds(conn: Connection, item_ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for i in range(0, len(item_ids), 900):
        chunk = item_ids[i : i + 900]
        q = (
            select(item_rounds.c.item_id, func.max(item_rounds.c.round))
            .where(item_rounds.c.item_id.in_(chunk))
            .group_by(item_rounds.c.item_id)
        )
        out.update({int(a): int(b) for a, b in conn.execute(q)})
    return out


def open_rounds(conn: Connection, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> None:
    """A new round for each queued item: ``rows`` hold ``item_id``, ``bot``, ``kind``, ``run_id``,
    ``opened_by`` and ``violations`` (dicts as stored on the item)."""
    if not rows:
        return
    last = _last_rounds(conn, [int(r["item_id"]) for r in rows])
    round_rows: list[dict[str, Any]] = []
    violation_rows: list[dict[str, Any]] = []
    for r in rows:
        item_id = int(r["item_id"])
        n = last.get(item_id, 0) + 1
        round_rows.append(
            {
                "item_id": item_id,
                "round": n,
                "bot": r["bot"],
                "kind": r["kind"],
                "opened_by": r["opened_by"],
                "run_id": r.get("run_id"),
                "queued_at": now,
            }
        )
        violation_rows.extend(
            {
                "item_id": item_id,
                "round": n,
                "bot": r["bot"],
                "code": str(v["code"]),
                "severity": str(v.get("severity") or "error"),
                "violation": dict(v),
                "recorded_at": now,
            }
            for v in r["violations"]
        )
    conn.execute(insert(item_rounds), round_rows)
    if violation_rows:
        conn.execute(insert(item_violations), violation_rows)


def reopen_round(conn: Connection, item_id: int, bot: str, kind: str, user: str, now: datetime) -> None:
    """QA reopened the item: a round with no new violations (the earlier rounds keep theirs)."""
    n = _last_rounds(conn, [item_id]).get(item_id, 0) + 1
    conn.execute(
        insert(item_rounds).values(
            item_id=item_id, round=n, bot=bot, kind=kind, opened_by=user, queued_at=now
        )
    )


_ITEM = bindparam("p_item", type_=item_rounds.c.item_id.type)


def _current(item_id: Any) -> Any:
    return select(func.max(item_rounds.c.round)).where(item_rounds.c.item_id == item_id).scalar_subquery()


@functools.cache
def _claimed_stmt() -> Any:
    c = item_rounds.c
    return (
        update(item_rounds)
        .where(c.item_id == _ITEM, c.round == _current(_ITEM), c.first_claimed_at.is_(None))
        .values(first_claimed_at=bindparam("p_at", type_=c.first_claimed_at.type))
    )


@functools.cache
def _decided_stmt(columns: tuple[str, ...]) -> Any:
    c = item_rounds.c
    values = {name: bindparam(f"v_{name}", type_=c[name].type) for name in columns}
    return update(item_rounds).where(c.item_id == _ITEM, c.round == _current(_ITEM)).values(**values)


def claimed_stamp(item_id: Any) -> Any:
    """:func:`claimed` as a statement of its own for a data-modifying CTE beside the claim
    (PostgreSQL: one round trip for both); ``item_id`` an expression, the time parameter ``p_at``."""
    c = item_rounds.c
    return (
        update(item_rounds)
        .where(c.item_id == item_id, c.round == _current(item_id), c.first_claimed_at.is_(None))
        .values(first_claimed_at=bindparam("p_at", type_=c.first_claimed_at.type))
    )


def decided_values(
    now: datetime | None = None,
    decision: str | None = None,
    maker: str | None = None,
    checker: str | None = None,
) -> dict[str, Any]:
    """The columns :func:`decided` sets on the current round: those given."""
    values: dict[str, Any] = {}
    if now is not None:
        values["decided_at"] = now
    if decision is not None:
        values["decision"] = decision
    if maker is not None:
        values["maker"] = maker
    if checker is not None:
        values["checker"] = checker
    return values


def decided_stamp(item_id: Any, columns: tuple[str, ...]) -> Any:
    """:func:`decided` as a statement for a data-modifying CTE beside the decision (PostgreSQL);
    ``item_id`` an expression, each of ``columns`` (of :func:`decided_values`) the parameter
    ``r_NAME``."""
    c = item_rounds.c
    values = {name: bindparam(f"r_{name}", type_=c[name].type) for name in columns}
    return update(item_rounds).where(c.item_id == item_id, c.round == _current(item_id)).values(**values)


def claimed(conn: Connection, item_id: int, now: datetime) -> None:
    """Stamp the current round's first claim (later claims of the round leave it)."""
    conn.execute(_claimed_stmt(), {"p_item": item_id, "p_at": now})


def decided(
    conn: Connection,
    item_id: int,
    *,
    now: datetime | None = None,
    decision: str | None = None,
    maker: str | None = None,
    checker: str | None = None,
) -> None:
    """Record on the current round what is given: the maker (a proposal waiting for its check), and
    the decision with its time (the final one: a maker's correction or rejection, or the check)."""
    values = decided_values(now, decision, maker, checker)
    stmt = _decided_stmt(tuple(values))
    conn.execute(stmt, {"p_item": item_id, **{f"v_{k}": v for k, v in values.items()}})


def history(store: Store, item_id: int) -> list[dict[str, Any]]:
    """The item's rounds, oldest first, each with its ``violations`` (as stored: mask them)."""
    with store.read() as conn:
        rounds = [
            dict(r._mapping)
            for r in conn.execute(
                select(item_rounds).where(item_rounds.c.item_id == item_id).order_by(item_rounds.c.round)
            )
        ]
        found: dict[int, list[dict[str, Any]]] = {}
        for v in conn.execute(
            select(item_violations.c.round, item_violations.c.violation)
            .where(item_violations.c.item_id == item_id)
            .order_by(item_violations.c.id)
        ):
            found.setdefault(int(v.round), []).append(dict(v.violation))
    for one in rounds:
        one["violations"] = found.get(int(one["round"]), [])
    return rounds
