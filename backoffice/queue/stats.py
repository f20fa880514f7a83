"""Queue KPIs: volumes by status, straight-through and exception rates, handling time, SLA
attainment, backlog age. The inbox's KPI page shows exactly these figures."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from backoffice.lifecycle import QUEUED, STATUSES
from backoffice.schema import items
from backoffice.store import Store, utcnow

__all__ = ["stats"]


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
        by_code: Counter[str] = Counter()
        for codes, n in conn.execute(select(c.codes, func.count()).where(*where).group_by(c.codes)):
            for code in (codes or "").split():
                by_code[code] += n
        decided = conn.execute(
            select(c.queued_at, c.resolved_at, c.due_at).where(
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
    handling = [(r.resolved_at - r.queued_at).total_seconds() for r in decided]
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
        "avg_handling_seconds": round(statistics.fmean(handling), 1) if handling else None,
        "sla_attainment": pct(attained, resolved_n),
        "backlog_age_seconds": {
            "median": round(statistics.median(ages), 1) if ages else None,
            "p90": round(ages[min(len(ages) - 1, int(0.9 * len(ages)))], 1) if ages else None,
            "oldest": round(ages[-1], 1) if ages else None,
        },
        "ageing_buckets": buckets,
    }
