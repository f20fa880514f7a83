"""QA sampling: a seeded random sample of a bot's finished items, a verdict per sampled item, and
the accuracy QA measures from them (per bot and per associate, with the sample size).

A sample (:func:`draw`) is drawn from the bot's *done* (straight through, or reprocessed after a
decision) and *resolved* or *closed* items, optionally those finished between two dates, by
``random.Random(seed).sample`` over their ids in order: the same seed on the same population
draws the same sample. The seed, the population size and the drawn ids are in the audit entry
(``qa.sampled``). Each sampled item remembers who decided it: its maker, or ``bot:NAME`` for an
item that went straight through.

A verdict (:func:`review`) is ``pass`` or ``fail``; a fail names a reason and a root cause and
reopens the item (:func:`backoffice.queue.transitions.reopen`: a fresh SLA, the decision cleared),
so it is worked again. Verdicts are final and audited (``qa.verdict``). Only QA analysts draw
and review (``Action.REOPEN``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from backoffice.audit import AuditEntry, append
from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.lifecycle import Event, allowed_from
from backoffice.queue.maker_checker import ROOT_CAUSES
from backoffice.queue.transitions import reopen
from backoffice.schema import items, qa_reviews, qa_samples
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["FINISHED", "VERDICTS", "Sample", "accuracy", "draw", "get_sample", "list_samples", "review"]

FINISHED = ("done", "resolved", "closed")
VERDICTS = ("pass", "fail")
MAX_SAMPLE = 1000


@dataclass(frozen=True)
class Sample:
    id: int
    bot: str
    size: int
    seed: int
    population: int
    date_from: datetime | None
    date_to: datetime | None
    drawn_by: str
    drawn_at: datetime
    reviews: list[dict[str, Any]]

    @property
    def reviewed(self) -> int:
        return sum(1 for r in self.reviews if r["verdict"])

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "bot": self.bot,
            "size": self.size,
            "seed": self.seed,
            "population": self.population,
            "from": iso(self.date_from),
            "to": iso(self.date_to),
            "drawn_by": self.drawn_by,
            "drawn_at": iso(self.drawn_at),
            "reviewed": self.reviewed,
            "items": [{**r, "reviewed_at": iso(r["reviewed_at"])} for r in self.reviews],
        }


def _finished_at() -> Any:
    c = items.c
    return func.coalesce(c.closed_at, c.resolved_at, c.updated_at)


def draw(
    store: Store,
    user_name: str,
    bot: str,
    size: int,
    seed: int,
    *,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Sample:
    """Draw and record a sample of ``size`` finished items of ``bot`` (fewer if fewer exist)."""
    user = require(store, user_name, Action.REOPEN, f"bot:{bot}")
    if not 1 <= size <= MAX_SAMPLE:
        raise InputError(f"a sample has 1 to {MAX_SAMPLE} items", field="size")
    if date_from and date_to and date_to < date_from:
        raise InputError("--to is before --from", field="to")
    c = items.c
    where = [c.bot == bot, c.status.in_(FINISHED)]
    if date_from:
        where.append(_finished_at() >= date_from)
    if date_to:
        where.append(_finished_at() < date_to)
    now = utcnow()
    with store.write() as conn:
        rows = {int(r.id): r for r in conn.execute(select(c.id, c.maker).where(*where).order_by(c.id))}
        if not rows:
            raise NotFound(
                f"no done or resolved items of {bot!r} to sample" + (" in that period" if where[2:] else "")
            )
        chosen = random.Random(seed).sample(sorted(rows), min(size, len(rows)))
        sample_id = int(
            conn.execute(
                insert(qa_samples)
                .values(
                    bot=bot,
                    size=size,
                    seed=seed,
                    date_from=date_from,
                    date_to=date_to,
                    population=len(rows),
                    drawn_by=user.name,
                    drawn_at=now,
                )
                .returning(qa_samples.c.id)
            ).scalar_one()
        )
        conn.execute(
            insert(qa_reviews),
            [
                {
                    "sample_id": sample_id,
                    "item_id": item_id,
                    "position": i,
                    "bot": bot,
                    "worker": rows[item_id].maker or f"bot:{bot}",
                }
                for i, item_id in enumerate(chosen, start=1)
            ],
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="qa.sampled",
                subject=f"qa:{sample_id}",
                bot=bot,
                data={
                    "seed": seed,
                    "size": size,
                    "population": len(rows),
                    "from": date_from.isoformat() if date_from else None,
                    "to": date_to.isoformat() if date_to else None,
                    "items": chosen,
                },
            ),
        )
    return get_sample(store, sample_id)


def get_sample(store: Store, sample_id: int) -> Sample:
    with store.read() as conn:
        s = conn.execute(select(qa_samples).where(qa_samples.c.id == sample_id)).first()
        if s is None:
            raise NotFound(f"no QA sample {sample_id}")
        r = qa_reviews.c
        reviews = [
            dict(x._mapping)
            for x in conn.execute(
                select(
                    r.item_id,
                    r.position,
                    r.worker,
                    r.verdict,
                    r.reason,
                    r.root_cause,
                    r.reviewer,
                    r.reviewed_at,
                )
                .where(r.sample_id == sample_id)
                .order_by(r.position)
            )
        ]
    return Sample(
        id=int(s.id),
        bot=s.bot,
        size=int(s.size),
        seed=int(s.seed),
        population=int(s.population),
        date_from=s.date_from,
        date_to=s.date_to,
        drawn_by=s.drawn_by,
        drawn_at=s.drawn_at,
        reviews=reviews,
    )


def list_samples(store: Store, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest samples with their review progress."""
    s, r = qa_samples.c, qa_reviews.c
    reviewed = func.count(r.verdict)
    q = (
        select(s.id, s.bot, s.size, s.seed, s.population, s.drawn_by, s.drawn_at, func.count(r.id), reviewed)
        .join(qa_reviews, r.sample_id == s.id)
        .group_by(s.id)
        .order_by(s.id.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [
            {
                "id": int(row[0]),
                "bot": row[1],
                "size": int(row[2]),
                "seed": int(row[3]),
                "population": int(row[4]),
                "drawn_by": row[5],
                "drawn_at": row[6],
                "drawn": int(row[7]),
                "reviewed": int(row[8]),
            }
            for row in conn.execute(q)
        ]


def review(
    store: Store,
    item_id: int,
    user_name: str,
    verdict: str,
    *,
    reason: str = "",
    root_cause: str | None = None,
    sample_id: int | None = None,
) -> dict[str, Any]:
    """Record a verdict on a sampled item (its latest unreviewed sample, or ``sample_id``); a fail
    reopens the item. Returns the review row with ``reopened``."""
    user = require(store, user_name, Action.REOPEN, f"item:{item_id}")
    if verdict not in VERDICTS:
        raise InputError("the verdict is pass or fail", field="verdict")
    reason = reason.strip()
    if verdict == "fail":
        if not reason:
            raise InputError("a fail needs a reason", field="reason")
        if root_cause not in ROOT_CAUSES:
            raise InputError(
                f"a fail needs a root cause: one of {', '.join(ROOT_CAUSES)}", field="root_cause"
            )
    elif root_cause is not None and root_cause not in ROOT_CAUSES:
        raise InputError(f"root cause must be one of {', '.join(ROOT_CAUSES)}", field="root_cause")
    r = qa_reviews.c
    now = utcnow()
    with store.write() as conn:
        q = select(qa_reviews).where(r.item_id == item_id)
        if sample_id is not None:
            q = q.where(r.sample_id == sample_id)
        rows = conn.execute(q.order_by(r.sample_id.desc())).all()
        if not rows:
            where = f"QA sample {sample_id}" if sample_id is not None else "any QA sample"
            raise NotFound(f"item {item_id} is not in {where}; draw one with `queue sample`")
        open_rows = [x for x in rows if x.verdict is None]
        if not open_rows:
            x = rows[0]
            raise ConflictError(
                f"item {item_id} was reviewed in sample {x.sample_id}: {x.verdict} by {x.reviewer}"
                " (verdicts are final)"
            )
        row = open_rows[0]
        status = conn.execute(select(items.c.status).where(items.c.id == item_id)).scalar()
        n = conn.execute(
            update(qa_reviews)
            .where(and_(r.id == row.id, r.verdict.is_(None)))
            .values(
                verdict=verdict,
                reason=reason or None,
                root_cause=root_cause,
                reviewer=user.name,
                reviewed_at=now,
            )
        ).rowcount
        if n != 1:
            raise ConflictError(f"item {item_id} was reviewed meanwhile")
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="qa.verdict",
                subject=f"item:{item_id}",
                bot=row.bot,
                data={
                    "sample": int(row.sample_id),
                    "verdict": verdict,
                    "reason": reason or None,
                    "root_cause": root_cause,
                    "worker": row.worker,
                },
                outcome=verdict,
            ),
        )
    reopened = False
    if verdict == "fail" and status in allowed_from(Event.REOPEN):
        reopen(store, item_id, user.name, f"QA sample {row.sample_id} failed ({root_cause}): {reason}")
        with store.write() as conn:  # a postponement from an earlier round does not hide it now
            conn.execute(
                update(items)
                .where(items.c.id == item_id, items.c.postponed_until.is_not(None))
                .values(postponed_until=None, postpone_reason=None)
            )
        reopened = True
    return {
        "sample": int(row.sample_id),
        "item_id": item_id,
        "verdict": verdict,
        "worker": row.worker,
        "reopened": reopened,
        "status": status if not reopened else "open",
    }


def accuracy(store: Store, *, bot: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """QA-measured accuracy: passed / reviewed, per bot and per worker (associate, or the bot for
    straight-through items), with the number reviewed (the sample size behind the figure)."""
    r = qa_reviews.c
    passed = func.sum(case((r.verdict == "pass", 1), else_=0))
    where: list[ColumnElement[bool]] = [r.verdict.is_not(None)]
    if bot:
        where.append(r.bot == bot)

    def rows(key: Any) -> list[dict[str, Any]]:
        q = select(key, func.count(), passed).where(*where).group_by(key).order_by(key)
        with store.read() as conn:
            found = conn.execute(q).all()
        return [
            {
                "name": name,
                "reviewed": int(n),
                "passed": int(p or 0),
                "failed": int(n) - int(p or 0),
                "accuracy": round(100.0 * int(p or 0) / int(n), 1) if n else None,
            }
            for name, n, p in found
        ]

    return {"by_bot": rows(r.bot), "by_worker": rows(r.worker)}
