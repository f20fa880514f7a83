"""/governance: the governance report of the engagement (issue 14.4) as a page, and its workbook.

``/governance?from=D&to=D`` (default: the last 30 days) shows the summary, SLA attainment per
decision owner (with a chart), the daily straight-through and backlog series, backlog age, QA
accuracy, the period's incidents and the open changes; ``/governance.xlsx`` with the same query
downloads the workbook (charts included), audited as ``report.export`` like the CLI's. The figures
come from :mod:`backoffice.reports.governance`; permissions (READ_REPORTS) are checked there too.

``/governance/register?from=D&to=D`` is the exception register behind those figures
(:mod:`backoffice.reports.register`): one row per exception per item round, the same rows and
masking as ``backoffice report register``; ``/governance/register.xlsx`` downloads its workbook,
audited the same way.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from backoffice.inbox.charts import bar_chart
from backoffice.inbox.kpi_routes import trend_charts
from backoffice.inbox.security import get_store, require_action
from backoffice.inbox.web import render
from backoffice.queue.trends import Period
from backoffice.reports.governance import Governance, export_governance, governance
from backoffice.reports.register import exception_register, register_file
from backoffice.users import Action, User

__all__ = ["router"]

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(start: str, end: str) -> Period:
    return Period.parse(start, end, None if (start or end) else "30")


def _owner_chart(g: Governance) -> object:
    return bar_chart(
        "Response within commitment per decision owner (% of decided rounds)",
        [
            (
                o["owner"],
                o["attainment"],
                "–" if o["attainment"] is None else f"{o['attainment']} % of {o['decided']}",
            )
            for o in g.sla_by_owner
        ],
        maximum=100,
        label_width=150,
    )


@router.get("/governance")
def governance_page(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    user: User = Depends(require_action(Action.READ_REPORTS)),
) -> Response:
    period = _period(start, end)  # a bad date: InputError, the inbox's 400 page
    g = governance(get_store(request), user.name, period)
    ctx = {"g": g, "owner_chart": _owner_chart(g), "trend_charts": trend_charts(g.trend), "period": period}
    return render(request, "governance.html", ctx)


@router.get("/governance.xlsx")
def governance_workbook(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    user: User = Depends(require_action(Action.READ_REPORTS)),
) -> Response:
    period = _period(start, end)
    name = f"governance-{period.first}-{period.last}.xlsx"
    _, data, _ = export_governance(get_store(request), user.name, period, name)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/governance/register")
def register_page(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    user: User = Depends(require_action(Action.READ_REPORTS)),
) -> Response:
    period = _period(start, end)
    report = exception_register(get_store(request), user.name, period)
    ctx = {"report": report, "period": period, "responses": report.responses()}
    return render(request, "register.html", ctx)


@router.get("/governance/register.xlsx")
def register_workbook(
    request: Request,
    start: str = Query("", alias="from"),
    end: str = Query("", alias="to"),
    user: User = Depends(require_action(Action.READ_REPORTS)),
) -> Response:
    period = _period(start, end)
    name = f"register-{period.first}-{period.last}.xlsx"
    _, data, _ = register_file(get_store(request), user.name, period, name)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
