"""/kpis: the figures of ``Queue.stats()`` (= ``backoffice queue stats --json``) with SVG charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from backoffice.inbox.charts import Chart, bar_chart
from backoffice.inbox.security import get_store, require_action
from backoffice.inbox.web import age, render
from backoffice.plugins import registry
from backoffice.queue import Queue
from backoffice.queue.sampling import accuracy
from backoffice.users import Action, User

__all__ = ["charts", "router"]

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
            "Exception rate by rule code (% of items)",
            [(code, pct, _pct(pct)) for code, pct in stats["exception_rate_by_code"].items()],
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


@router.get("/kpis")
def kpis(
    request: Request, bot: str = "", user: User = Depends(require_action(Action.READ_QUEUE))
) -> Response:
    stats = Queue(get_store(request)).stats(bot=bot or None)
    try:
        bots = registry().names()
    except Exception:  # a broken plugin must not take the KPI page down
        bots = []
    qa = accuracy(get_store(request), bot=bot or None)  # QA-measured accuracy (backoffice.queue.sampling)
    ctx = {"stats": stats, "charts": charts(stats), "bot": bot, "bots": bots, "qa": qa}
    return render(request, "kpis.html", ctx)
