"""Queue KPIs: volumes by status, straight-through and exception rates, handling time, SLA
attainment, backlog age. The inbox's KPI page shows exactly these figures.

"Exception rate by rule" counts what was raised in *every* round of an item
(:mod:`backoffice.queue.rounds`): a code that fired and was corrected away still counts, once
per item. Handling time is first claim -> decision of each round, waiting time queued -> first
claim, each on its own. :func:`raised_by_code` and :func:`round_times` take a period, for
figures over time.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, distinct, func, select
from sqlalchemy.sql import ColumnElement

from backoffice.lifecycle import QUEUED, STATUSES
from backoffice.schema import item_rounds, item_violations, items
from backoffice.store import Store, utcnow

__all__ = ["raised_by_code", "round_times", "stats"]


def raised_by_code(
    conn: Connection,
    *,
    bot: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Counter[str]:
    """Items on which each rule code was raised (blocking), in any round recorded in
    ``[since, until)``: an item counts once per code however many rounds raised it."""
    v = item_violations.c
    where: list[ColumnElement[bool]] = [v.severity != "info"]
    if bot:
        where.append(v.bot == bot)
    if since is not None:
        where.append(v.recorded_at >= since)
    if until is not None:
        where.append(v.recorded_at < until)
    q = select(v.code, func.count(distinct(v.item_id))).where(*where).group_by(v.code)
    return Counter({str(code): int(n) for code, n in conn.execute(q)})


def round_times(
    conn: Connection,
    *,
    bot: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, list[float]]:
    """Seconds per round decided in ``[since, until)``: ``handling`` (first claim -> decision)
    and ``waiting`` (queued -> first claim); a round decided without a claim is left out."""
    r = item_rounds.c
    where: list[ColumnElement[bool]] = [r.decided_at.is_not(None), r.first_claimed_at.is_not(None)]
    if bot:
        where.append(r.bot == bot)
    if since is not None:
        where.append(r.decided_at >= since)
    if until is not None:
        where.append(r.decided_at < until)
    handling: list[float] = []
    waiting: list[float] = []
    for queued, claimed, decided in conn.execute(
        select(r.queued_at, r.first_claimed_at, r.decided_at).where(*where)
    ):
        handling.append((decided - claimed).total_seconds())
        waiting.append((claimed - queued).total_seconds())
    return {"handling": handling, "waiting": waiting}


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def stats(store: Store, *, bot: str | None = None) -> dict[str, Any]:
    """KPI figures of one bot's items, or of all."""
    now = utcnow()
    c = items.c
    where = [c.bot == bot] if bot else []
    with store.read() as conn:
        by_status = Counter(
            {s: n for s, n in conn.execute(select(c.status, func.count()).where(*where).group_by(c.status))}
        )
        # Aggregates in SQL; Python only sees the columns each figure needs.
        straight = int(
            conn.execute(
                select(func.count()).where(*where, c.status == "done", c.queued_at.is_(None))
            ).scalar_one()
        )
        by_code = raised_by_code(conn, bot=bot)
        times = round_times(conn, bot=bot)
        decided = conn.execute(
            select(c.resolved_at, c.due_at).where(
                *where, c.resolved_at.is_not(None), c.queued_at.is_not(None)
            )
        ).fetchall()
        ages = [
            (now - q).total_seconds()
            for (q,) in conn.execute(
                select(c.queued_at).where(*where, c.status.in_(QUEUED), c.queued_at.is_not(None))
            )
        ]
    processed = sum(n for s, n in by_status.items() if s != "new")
    resolved_n = len(decided)
    attained = sum(1 for r in decided if r.due_at is None or r.resolved_at <= r.due_at)
    ages.sort()
    buckets = {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 0}
    for a in ages:
        days = a / 86400
        key = "<1d" if days < 1 else "1-3d" if days < 3 else "3-7d" if days < 7 else ">7d"
        buckets[key] += 1

    def pct(n: int, d: int) -> float | None:
        return round(100.0 * n / d, 2) if d else None

    return {
        "bot": bot,
        "as_of": now.isoformat(),
        "items": processed,
        "by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "queued": sum(by_status.get(s, 0) for s in QUEUED),
        "straight_through": straight,
        "straight_through_rate": pct(straight, processed),
        "exception_rate": pct(processed - straight, processed),
        "exception_rate_by_code": {k: pct(v, processed) for k, v in sorted(by_code.items())},
        "exceptions_by_code": dict(sorted(by_code.items())),
        "avg_handling_seconds": _mean(times["handling"]),
        "avg_waiting_seconds": _mean(times["waiting"]),
        "sla_attainment": pct(attained, resolved_n),
        "backlog_age_seconds": {
            "median": round(statistics.median(ages), 1) if ages else None,
            "p90": round(ages[min(len(ages) - 1, int(0.9 * len(ages)))], 1) if ages else None,
            "oldest": round(ages[-1], 1) if ages else None,
        },
        "ageing_buckets": buckets,
    }
