"""The governance report (issue 14.4): an engagement's period at a glance, as a workbook with
charts and as an inbox page (``/governance``).

- SLA attainment per decision owner: the exception register's decided rounds of the period
  (:mod:`backoffice.reports.register`), met / decided per owner (``(no owner)`` without a register);
- the straight-through rate and the daily series (:func:`backoffice.queue.trends.daily`);
- the backlog now: its age (median, p90, oldest) and ageing buckets (``Queue.stats``);
- QA-measured accuracy per bot (:func:`backoffice.queue.sampling.accuracy`);
- the incidents opened in the period (:mod:`backoffice.incidents`);
- open changes: rule-set versions (:mod:`backoffice.change_control`) and ownership register
  versions (:mod:`backoffice.ownership`) proposed and not yet decided.

The workbook: sheets ``summary``, ``sla_by_owner`` (with a bar chart), ``daily`` (a line chart of
the straight-through rate and SLA attainment per day, a bar chart of the backlog), ``backlog``,
``qa_accuracy``, ``incidents``, ``open_changes`` and ``register`` (the exception register);
every text cell formula-safe, the export audited (``report.export`` with its sha256).
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice.errors import UsageError
from backoffice.ownership import DEFAULT_ENGAGEMENT
from backoffice.queue import Queue
from backoffice.queue.sampling import accuracy
from backoffice.queue.trends import Period, daily
from backoffice.reports._files import cell, write_audited
from backoffice.reports.register import RegisterReport, exception_register, write_sheet
from backoffice.schema import incidents, owner_registers, rule_versions
from backoffice.store import Store
from backoffice.users import Action, require

__all__ = ["Governance", "export_governance", "governance", "to_xlsx"]

NO_OWNER = "(no owner)"


@dataclass
class Governance:
    engagement: str
    period: Period
    register: RegisterReport
    sla_by_owner: list[dict[str, Any]]
    trend: dict[str, Any]
    backlog: dict[str, Any]
    qa: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    open_changes: list[dict[str, Any]]

    def summary(self) -> list[tuple[str, Any]]:
        decided = sum(o["decided"] for o in self.sla_by_owner)
        met = sum(o["met"] for o in self.sla_by_owner)
        reviewed = sum(q["reviewed"] for q in self.qa)
        passed = sum(q["passed"] for q in self.qa)
        return [
            ("engagement", self.engagement),
            ("period", f"{self.period.first} to {self.period.last}"),
            ("ownership register", self.register.header[2]),
            ("items processed", self.trend["processed"]),
            ("straight-through rate %", self.trend["straight_through_rate"]),
            ("exception rounds", len(self.register.rows)),
            ("decided rounds", decided),
            ("within commitment %", round(100.0 * met / decided, 1) if decided else None),
            ("backlog now", self.backlog["queued"]),
            ("backlog age median (h)", self.backlog["age_hours"]["median"]),
            ("backlog age p90 (h)", self.backlog["age_hours"]["p90"]),
            ("backlog age oldest (h)", self.backlog["age_hours"]["oldest"]),
            ("QA reviewed", reviewed),
            ("QA accuracy %", round(100.0 * passed / reviewed, 1) if reviewed else None),
            ("incidents opened", len(self.incidents)),
            ("incidents unresolved", sum(1 for i in self.incidents if i["status"] != "resolved")),
            ("open changes", len(self.open_changes)),
        ]


def _sla_by_owner(report: RegisterReport) -> list[dict[str, Any]]:
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for row in report.rows:
        owner = row["decision_owner"] or NO_OWNER
        tally[owner]["rounds"] += 1
        if row["decision"]:
            tally[owner]["decided"] += 1
            tally[owner]["met" if row["response"] == "met" else "missed"] += 1
        elif row["response"] == "missed":
            tally[owner]["overdue"] += 1
    out = []
    for owner in sorted(tally):
        t = tally[owner]
        out.append(
            {
                "owner": owner,
                "rounds": t["rounds"],
                "decided": t["decided"],
                "met": t["met"],
                "missed": t["missed"],
                "overdue": t["overdue"],
                "attainment": round(100.0 * t["met"] / t["decided"], 1) if t["decided"] else None,
            }
        )
    return out


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 1)


def _open_changes(store: Store, engagement: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with store.read() as conn:
        rv = rule_versions.c
        for r in conn.execute(select(rule_versions).where(rv.status == "proposed").order_by(rv.id)):
            changes = ", ".join(
                f"{k}: {v.get('from')} -> {v.get('to')}" for k, v in sorted((r.changes or {}).items())
            )
            out.append(
                {
                    "kind": "rule set",
                    "id": r.id,
                    "subject": r.bot,
                    "version": r.version,
                    "what": changes or "code change",
                    "proposer": r.proposer,
                    "proposed_at": r.proposed_at,
                }
            )
        orr = owner_registers.c
        scope = orr.engagement.is_(None) | (orr.engagement == engagement)
        for r in conn.execute(
            select(owner_registers).where(scope, orr.status == "proposed").order_by(orr.id)
        ):
            out.append(
                {
                    "kind": "ownership register",
                    "id": r.id,
                    "subject": r.engagement or DEFAULT_ENGAGEMENT,
                    "version": r.version,
                    "what": r.reason or "register version",
                    "proposer": r.proposer,
                    "proposed_at": r.proposed_at,
                }
            )
    return out


def _incidents(store: Store, period: Period) -> list[dict[str, Any]]:
    c = incidents.c
    q = (
        select(c.id, c.kind, c.bot, c.run_id, c.opened_at, c.status, c.escalated_to, c.notify, c.summary)
        .where(c.opened_at >= period.since, c.opened_at < period.until)
        .order_by(c.opened_at, c.id)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def governance(store: Store, user: str, period: Period, *, engagement: str | None = None) -> Governance:
    """The governance figures of ``period`` for ``user`` (team lead, approver, QA or compliance)."""
    engagement = store.scope(engagement)
    require(store, user, Action.READ_REPORTS, "report:governance")
    register = exception_register(store, user, period, engagement=engagement)
    stats = Queue(store).stats()
    ages = stats["backlog_age_seconds"]
    backlog = {
        "queued": stats["queued"],
        "age_hours": {k: _hours(ages[k]) for k in ("median", "p90", "oldest")},
        "buckets": dict(stats["ageing_buckets"]),
    }
    return Governance(
        engagement=engagement,
        period=period,
        register=register,
        sla_by_owner=_sla_by_owner(register),
        trend=daily(store, period),
        backlog=backlog,
        qa=accuracy(store)["by_bot"],
        incidents=_incidents(store, period),
        open_changes=_open_changes(store, engagement),
    )


def _table(ws: Any, columns: list[str], rows: list[dict[str, Any]]) -> None:
    ws.append(columns)
    for r in rows:
        ws.append([cell(r.get(k)) for k in columns])


def to_xlsx(g: Governance) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append(["Governance report", cell(f"engagement {g.engagement}")])
    for name, value in g.summary():
        ws.append([name, cell(value)])

    owners = wb.create_sheet("sla_by_owner")
    cols = ["owner", "rounds", "decided", "met", "missed", "overdue", "attainment"]
    _table(owners, cols, g.sla_by_owner)
    if g.sla_by_owner:
        chart = BarChart()
        chart.title = "Response within commitment per decision owner (%)"
        chart.y_axis.title = "%"
        n = len(g.sla_by_owner)
        chart.add_data(Reference(owners, min_col=7, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(Reference(owners, min_col=1, min_row=2, max_row=n + 1))
        owners.add_chart(chart, "I2")

    days = wb.create_sheet("daily")
    dcols = ["day", "processed", "straight_through_rate", "backlog", "decided", "sla_attainment"]
    _table(days, dcols, g.trend["days"])
    n = len(g.trend["days"])
    line = LineChart()
    line.title = "Straight-through rate and SLA attainment per day (%)"
    line.y_axis.title = "%"
    for col in (3, 6):
        line.add_data(Reference(days, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
    line.set_categories(Reference(days, min_col=1, min_row=2, max_row=n + 1))
    days.add_chart(line, "H2")
    bars = BarChart()
    bars.title = "Backlog at the end of each day (items)"
    bars.add_data(Reference(days, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
    bars.set_categories(Reference(days, min_col=1, min_row=2, max_row=n + 1))
    days.add_chart(bars, "H20")

    backlog = wb.create_sheet("backlog")
    backlog.append(["age bucket", "items"])
    for bucket, count in g.backlog["buckets"].items():
        backlog.append([cell(bucket), count])
    for k, v in g.backlog["age_hours"].items():
        backlog.append([cell(f"age {k} (h)"), cell(v)])

    _table(wb.create_sheet("qa_accuracy"), ["name", "reviewed", "passed", "failed", "accuracy"], g.qa)
    icols = ["id", "kind", "bot", "run_id", "opened_at", "status", "escalated_to", "notify", "summary"]
    _table(wb.create_sheet("incidents"), icols, g.incidents)
    ccols = ["kind", "id", "subject", "version", "what", "proposer", "proposed_at"]
    _table(wb.create_sheet("open_changes"), ccols, g.open_changes)
    write_sheet(wb.create_sheet("register"), g.register)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_governance(
    store: Store, user: str, period: Period, out: Path | str, *, engagement: str | None = None
) -> tuple[Governance, bytes, str]:
    """Write the governance workbook to ``out`` (.xlsx; a plain name: for a download, not
    written), audited; (figures, the workbook's bytes, sha256)."""
    if not str(out).lower().endswith(".xlsx"):
        raise UsageError(f"--out must name an .xlsx file, got {Path(out).name!r}", field="out")
    g = governance(store, user, period, engagement=engagement)
    who = require(store, user, Action.READ_REPORTS, "report:governance")
    details = {
        "engagement": g.engagement,
        "from": g.period.first.isoformat(),
        "to": g.period.last.isoformat(),
    }
    data = to_xlsx(g)
    digest = write_audited(store, who, "governance", out, data, {**details, "format": "xlsx"})
    return g, data, digest
