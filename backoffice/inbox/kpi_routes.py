"""/kpis: the figures of ``Queue.stats()`` (= ``backoffice queue stats --json``) with SVG charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backoffice.errors import InputError
from backoffice.inbox.charts import Chart, SeriesChart, bar_chart, column_chart
from backoffice.inbox.security import get_store, require_action
from backoffice.inbox.web import age, render
from backoffice.incidents import list_incidents
from backoffice.plugins import registry
from backoffice.queue import Queue
from backoffice.queue.sampling import accuracy
from backoffice.queue.trends import Period, daily
from backoffice.users import Action, User, allowed

__all__ = ["charts", "router", "trend_charts"]

#: The period choices offered next to from/to dates (days).
PERIODS = (7, 30, 90, 365)

router = APIRouter()


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v} %"


def charts(stats: dict[str, Any]) -> dict[str, Chart]:
    st = stats["straight_through_rate"]
    ex = stats["exception_rate"]
    ages = stats["backlog_age_seconds"]
    return {
        "throughput": bar_chart(
            "Straight-through vs exceptions (% of items)",
            [("straight through", st, _pct(st)), ("exceptions", ex, _pct(ex))],
            maximum=100,
            tones={"straight through": "good", "exceptions": "bad"},
        ),
        "by_code": bar_chart(
            "Exception rate by rule code (% of items, most first)",
            [
                (code, stats["exception_rate_by_code"][code], _pct(stats["exception_rate_by_code"][code]))
                for code, _ in sorted(stats["exceptions_by_code"].items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            maximum=max([p or 0.0 for p in stats["exception_rate_by_code"].values()], default=0.0) or 1.0,
        ),
        "sla": bar_chart(
            "SLA attainment (% of decided items)",
            [("within SLA", stats["sla_attainment"], _pct(stats["sla_attainment"]))],
            maximum=100,
            tones={"within SLA": "good"},
        ),
        "backlog": bar_chart(
            "Backlog age",
            [(k, ages[k], age(ages[k])) for k in ("median", "p90", "oldest")],
            tones={"oldest": "warn"},
        ),
        "ageing": bar_chart(
            "Ageing buckets (queued items)",
            [(k, float(n), str(n)) for k, n in stats["ageing_buckets"].items()],
            tones={">7d": "bad", "3-7d": "warn"},
        ),
        "status": bar_chart(
            "Items by status",
            [(s.replace("_", " "), float(n), str(n)) for s, n in stats["by_status"].items()],
        ),
    }


def trend_charts(trend: dict[str, Any]) -> dict[str, SeriesChart | Chart]:
    """The daily series of :func:`backoffice.queue.trends.daily` as column charts, and the
    period's exceptions by rule as bars, most first."""
    days = trend["days"]

    def col(key: str, fmt: Any) -> list[tuple[str, float | None, str]]:
        return [(d["day"], d[key], fmt(d)) for d in days]

    by_code = trend["by_code"]
    return {
        "straight_through": column_chart(
            "Straight-through rate per day (% of items processed)",
            col("straight_through_rate", lambda d: f"{_pct(d['straight_through_rate'])} of {d['processed']}"),
            maximum=100,
            unit=" %",
            tone="good",
        ),
        "backlog": column_chart(
            "Backlog at the end of each day (items waiting for a decision)",
            col("backlog", lambda d: f"{d['backlog']} items"),
            tone="warn",
        ),
        "sla": column_chart(
            "SLA attainment per day (% of items decided)",
            col("sla_attainment", lambda d: f"{_pct(d['sla_attainment'])} of {d['decided']}"),
            maximum=100,
            unit=" %",
            tone="good",
        ),
        "by_rule": bar_chart(
            "Exceptions by rule in the period (items, most first)",
            [(b["code"], float(b["items"]), f"{b['items']} ({_pct(b['percent'])})") for b in by_code],
            tones={b["code"]: "bad" for b in by_code},
            label_width=150,
        ),
    }


def _use_dates(days: str, start: str, end: str, basis: str) -> bool:
    """Whether the period is the form's from/to dates rather than its "last N days". The page
    shows one of the two (the other left empty) and says which in ``basis``: when both come
    back filled, the one the user changed wins."""
    has_dates, has_days = bool(start.strip() or end.strip()), bool(days.strip())
    if has_dates and has_days:
        return basis != "dates"
    return has_dates


@router.get("/kpis")
def kpis(
    request: Request,
    bot: str = "",
    days: str = "",
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    basis: str = "",
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    store = get_store(request)
    use_dates = _use_dates(days, start, end, basis)
    if not use_dates:
        start = end = ""
        days = days.strip() or "30"
    else:
        days = ""
    period_error = None
    try:
        period = Period.parse(start, end, days)
    except InputError as exc:
        period_error, period, days, use_dates = str(exc), Period.last_days(30), "30", False
    trend = daily(store, period, bot=bot or None)
    stats = Queue(store).stats(bot=bot or None)
    try:
        bots = registry().names()
    except Exception:  # a broken plugin must not take the KPI page down
        bots = []
    qa = accuracy(get_store(request), bot=bot or None)  # QA-measured accuracy (backoffice.queue.sampling)
    ctx = {
        "stats": stats,
        "charts": charts(stats),
        "bot": bot,
        "bots": bots,
        "qa": qa,
        "trend": trend,
        "trend_charts": trend_charts(trend),
        "period": period,
        "days": days,
        "basis": "dates" if use_dates else "days",
        "periods": PERIODS,
        "period_error": period_error,
        "incidents": list_incidents(store, user.name, status="unresolved")
        if allowed(user.role, Action.READ_INCIDENTS)
        else None,
    }
    return render(request, "kpis.html", ctx, status_code=400 if period_error else 200)
