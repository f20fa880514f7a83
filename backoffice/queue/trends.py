"""KPIs over time: one figure per UTC day of a period, and exceptions by rule over the period.

Each series is grouped by day in SQL (``date()`` on SQLite, ``to_char(... AT TIME ZONE 'UTC')``
on PostgreSQL) over the rows of the period only; Python sees one row per day, never the items.

- *straight-through rate*: of the items first seen (``created_at``) that day and processed (not
  ``new``), the share that went ``done`` without ever being queued (as :mod:`stats` counts it);
  the *exception rate* is the rest.
- *backlog*: items waiting for a decision at the end of the day: rounds queued by then and not
  yet decided (:mod:`backoffice.queue.rounds`; a round waiting for its check is still backlog).
- *SLA attainment*: of the items decided that day (``resolved_at``), the share decided by their
  due time (as :mod:`stats` counts it).
- *by rule*: items on which each code was raised in the period (every round,
  :func:`stats.raised_by_code`), most first, and as a share of the items processed in the period.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql import ColumnElement

from backoffice.errors import InputError
from backoffice.queue.stats import raised_by_code
from backoffice.schema import item_rounds, items
from backoffice.store import Store, utcnow

__all__ = ["MAX_DAYS", "Period", "daily"]

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InputError(f"the period ends ({self.last}) before it starts ({self.first})")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise InputError(f"a period is at most {MAX_DAYS} days; {self.first} to {self.last} is longer")

    @classmethod
    def last_days(cls, n: int, *, today: date | None = None) -> Period:
        """The ``n`` days up to and including ``today`` (default: today, UTC)."""
        if not 1 <= n <= MAX_DAYS:
            raise InputError(f"the number of days must be between 1 and {MAX_DAYS}, not {n}")
        end = today or utcnow().date()
        return cls(end - timedelta(days=n - 1), end)

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, days: str | None, *, today: date | None = None
    ) -> Period:
        """From form fields: ``start``/``end`` as YYYY-MM-DD (either may be empty), else the last
        ``days`` days (default 30)."""
        today = today or utcnow().date()
        start, end, days = (start or "").strip(), (end or "").strip(), (days or "").strip()

        def day(value: str, what: str) -> date:
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise InputError(f"the {what} date must be YYYY-MM-DD, not {value!r}") from None

        if start or end:
            last = day(end, "end") if end else today
            first = day(start, "start") if start else last - timedelta(days=29)
            return cls(first, last)
        try:
            n = int(days) if days else 30
        except ValueError:
            raise InputError(f"the number of days must be a whole number, not {days!r}") from None
        return cls.last_days(n, today=today)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def days(self) -> Iterator[date]:
        d = self.first
        while d <= self.last:
            yield d
            d += timedelta(days=1)


def _day(conn: Connection, col: Any) -> ColumnElement[str]:
    """The UTC day of a timestamp column as 'YYYY-MM-DD' text."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.date(col)  # SQLite keeps UTC times as text


def _per_day(
    conn: Connection, col: Any, where: list[ColumnElement[bool]], *values: Any
) -> dict[str, tuple[int, ...]]:
    day = _day(conn, col).label("day")
    q = select(day, *values).where(*where).group_by(day)
    return {str(r[0]): tuple(int(v or 0) for v in r[1:]) for r in conn.execute(q)}


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 2) if d else None


def daily(store: Store, period: Period, *, bot: str | None = None) -> dict[str, Any]:
    """The daily series of ``period`` (one bot's items, or all) and the period's exceptions by rule."""
    c, r = items.c, item_rounds.c
    since, until = period.since, period.until
    item_bot = [c.bot == bot] if bot else []
    round_bot = [r.bot == bot] if bot else []
    with store.read() as conn:
        processed = _per_day(
            conn,
            c.created_at,
            [*item_bot, c.created_at >= since, c.created_at < until, c.status != "new"],
            func.count(),
            func.sum(case((and_(c.status == "done", c.queued_at.is_(None)), 1), else_=0)),
        )
        decided = _per_day(
            conn,
            c.resolved_at,
            [*item_bot, c.resolved_at >= since, c.resolved_at < until, c.queued_at.is_not(None)],
            func.count(),
            func.sum(case((or_(c.due_at.is_(None), c.resolved_at <= c.due_at), 1), else_=0)),
        )
        # backlog at the end of a day = rounds queued by then - rounds decided by then
        queued_before = int(
            conn.execute(select(func.count()).where(*round_bot, r.queued_at < since)).scalar_one()
        )
        decided_before = int(
            conn.execute(select(func.count()).where(*round_bot, r.decided_at < since)).scalar_one()
        )
        rounds_in = _per_day(
            conn, r.queued_at, [*round_bot, r.queued_at >= since, r.queued_at < until], func.count()
        )
        rounds_out = _per_day(
            conn, r.decided_at, [*round_bot, r.decided_at >= since, r.decided_at < until], func.count()
        )
        by_code = raised_by_code(conn, bot=bot, since=since, until=until)

    series: list[dict[str, Any]] = []
    backlog = queued_before - decided_before
    for d in period.days():
        key = d.isoformat()
        n, straight = processed.get(key, (0, 0))
        m, within = decided.get(key, (0, 0))
        backlog += rounds_in.get(key, (0,))[0] - rounds_out.get(key, (0,))[0]
        series.append(
            {
                "day": key,
                "processed": n,
                "straight_through": straight,
                "straight_through_rate": _pct(straight, n),
                "exceptions": n - straight,
                "exception_rate": _pct(n - straight, n),
                "backlog": backlog,
                "decided": m,
                "within_sla": within,
                "sla_attainment": _pct(within, m),
            }
        )
    total = sum(s["processed"] for s in series)
    straight_total = sum(s["straight_through"] for s in series)
    decided_total = sum(s["decided"] for s in series)
    within_total = sum(s["within_sla"] for s in series)
    ranked = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "bot": bot,
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "days": series,
        "processed": total,
        "straight_through_rate": _pct(straight_total, total),
        "sla_attainment": _pct(within_total, decided_total),
        "by_code": [{"code": code, "items": n, "percent": _pct(n, total)} for code, n in ranked],
    }
