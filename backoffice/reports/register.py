"""The exception register (issue 14.4): one row per exception per item round.

The queue keeps every round an item spent in it and the violations raised in each
(:mod:`backoffice.queue.rounds`); the register lists the rounds queued in the period with the
bot, item (its title masked as in lists), rule codes, decision owner, decision and who decided
(the checker, else the maker), the outcome (the item's status after its last round, or
``reopened`` when a later round followed), the root cause (the QA review's, else the item's,
with the decision reason, masked as free text) and the response time against the commitment
(``met``, ``missed``, or ``open`` while undecided and not yet due).

Owner and commitment: the item's own ``decision_owner``/``response_due`` (set at queueing from
the register then in force) for its latest round; else the row of the ownership register in force
for the round's codes (:meth:`Register.row_for_codes`). With no register in force and nothing on
the item, the owner is left empty and the commitment is the item's rule SLA (``sla_seconds``);
the header says "no register in force". The rows are the engagement's: its store's.

The same rows, masked the same way, are the inbox's ``/governance/register`` page
(:mod:`backoffice.inbox.governance_routes`), which downloads the xlsx through
:func:`register_file` (a plain name: nothing written on the server, the export audited).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice.errors import UsageError
from backoffice.ownership import Register, current_register
from backoffice.pii import Masking
from backoffice.queue.trends import Period
from backoffice.reports._files import cell, write_audited
from backoffice.schema import item_rounds, item_violations, items, qa_reviews
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["REGISTER_COLUMNS", "RegisterReport", "exception_register", "export_register", "register_file"]

REGISTER_COLUMNS = (
    "item",
    "round",
    "bot",
    "title",
    "kind",
    "codes",
    "queued_at",
    "decision_owner",
    "decision",
    "decided_by",
    "decided_at",
    "outcome",
    "root_cause",
    "reason",
    "commitment_hours",
    "commitment_from",
    "response_hours",
    "response",
)
FORMATS = ("xlsx", "csv")
DEFAULT_SLA = timedelta(hours=24)


@dataclass
class RegisterReport:
    engagement: str
    period: Period
    register: Register | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        reg = (
            f"ownership register {self.register.version} (#{self.register.id}) in force"
            if self.register is not None
            else "no register in force: owners left empty, commitments from the rules' SLAs"
        )
        return [
            f"Exception register of engagement {self.engagement}",
            f"Rounds queued {self.period.first} to {self.period.last} (UTC days)",
            reg,
        ]

    def responses(self) -> dict[str, int]:
        """Rounds per response against the commitment: ``met``, ``missed``, ``open``."""
        out = {"met": 0, "missed": 0, "open": 0}
        for row in self.rows:
            out[row["response"]] = out.get(row["response"], 0) + 1
        return out


def _hours(delta: timedelta) -> Decimal:
    return (Decimal(delta.total_seconds()) / Decimal(3600)).quantize(Decimal("0.01"))


def _root_causes(conn: Any, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    r = qa_reviews.c
    for i in range(0, len(ids), 900):
        q = (
            select(r.item_id, r.root_cause)
            .where(r.item_id.in_(ids[i : i + 900]), r.root_cause.is_not(None))
            .order_by(r.reviewed_at)
        )
        out.update({int(a): str(b) for a, b in conn.execute(q)})  # the latest review wins
    return out


def exception_register(
    store: Store, user: str, period: Period, *, engagement: str | None = None
) -> RegisterReport:
    """The register's rows for the rounds queued in ``period``, oldest first, masked for ``user``."""
    engagement = store.scope(engagement)
    require(store, user, Action.READ_REPORTS, "report:register")
    register = current_register(store, engagement)
    report = RegisterReport(engagement, period, register)
    r, c, v = item_rounds.c, items.c, item_violations.c
    q = (
        select(
            r.item_id,
            r.round,
            r.bot,
            r.kind,
            r.queued_at,
            r.decided_at,
            r.decision,
            r.maker,
            r.checker,
            c.status,
            c.payload,
            c.reason,
            c.root_cause,
            c.decision_owner,
            c.response_due,
            c.sla_seconds,
        )
        .join(items, items.c.id == r.item_id)
        .where(r.queued_at >= period.since, r.queued_at < period.until)
        .order_by(r.queued_at, r.item_id, r.round)
    )
    with store.read() as conn:
        rounds = conn.execute(q).all()
        ids = sorted({int(x.item_id) for x in rounds})
        codes: dict[tuple[int, int], list[str]] = {}
        last: dict[int, int] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            for a, b, code in conn.execute(
                select(v.item_id, v.round, v.code).where(v.item_id.in_(chunk)).order_by(v.id)
            ):
                found = codes.setdefault((int(a), int(b)), [])
                if code not in found:
                    found.append(code)
            for a, b in conn.execute(select(r.item_id, r.round).where(r.item_id.in_(chunk))):
                last[int(a)] = max(last.get(int(a), 0), int(b))
        qa = _root_causes(conn, ids)
    masking = Masking()
    now = utcnow()
    for x in rounds:
        item_id, rnd = int(x.item_id), int(x.round)
        round_codes = codes.get((item_id, rnd), [])
        latest = rnd == last.get(item_id, rnd)
        owner, commitment, source = "", None, ""
        if latest and x.decision_owner:
            owner = x.decision_owner
        if latest and x.response_due is not None:
            commitment, source = x.response_due - x.queued_at, "item"
        row = register.row_for_codes(x.bot, round_codes) if register is not None else None
        if row is not None:
            owner = owner or row.decision_owner
            if commitment is None:
                commitment, source = timedelta(hours=float(row.response_hours)), "register"
        if commitment is None:
            commitment = timedelta(seconds=x.sla_seconds) if x.sla_seconds else DEFAULT_SLA
            source = "rule SLA"
        due = x.queued_at + commitment
        if x.decided_at is not None:
            took = x.decided_at - x.queued_at
            response = "met" if x.decided_at <= due else "missed"
        else:
            took = now - x.queued_at
            response = "missed" if now > due else "open"
        cause = qa.get(item_id) or (x.root_cause if latest else None) or ""
        report.rows.append(
            {
                "item": item_id,
                "round": rnd,
                "bot": x.bot,
                "title": masking.title(x.bot, x.payload),
                "kind": x.kind,
                "codes": " ".join(round_codes),
                "queued_at": x.queued_at,
                "decision_owner": owner,
                "decision": x.decision or "",
                "decided_by": x.checker or x.maker or "",
                "decided_at": x.decided_at,
                "outcome": x.status if latest else "reopened",
                "root_cause": cause,
                "reason": masking.text(x.reason) if latest and x.reason else "",
                "commitment_hours": _hours(commitment),
                "commitment_from": source,
                "response_hours": _hours(took),
                "response": response,
            }
        )
    return report


def to_csv(report: RegisterReport) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for line in report.header:
        w.writerow([cell(line)])
    w.writerow([])
    w.writerow(REGISTER_COLUMNS)
    for row in report.rows:
        w.writerow([cell(row[k]) for k in REGISTER_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def write_sheet(ws: Any, report: RegisterReport) -> None:
    """The register on an openpyxl worksheet: the header lines, a blank row, the table."""
    for line in report.header:
        ws.append([cell(line)])
    ws.append([])
    ws.append(list(REGISTER_COLUMNS))
    for row in report.rows:
        ws.append([cell(row[k]) for k in REGISTER_COLUMNS])


def to_xlsx(report: RegisterReport) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    write_sheet(wb.create_sheet("register"), report)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_register(
    store: Store, user: str, period: Period, out: Path, *, engagement: str | None = None
) -> tuple[RegisterReport, str]:
    """Write the register to ``out`` (.xlsx or .csv by its suffix), audited; (report, sha256)."""
    report, _, digest = register_file(store, user, period, out, engagement=engagement)
    return report, digest


def register_file(
    store: Store, user: str, period: Period, out: Path | str, *, engagement: str | None = None
) -> tuple[RegisterReport, bytes, str]:
    """The register as a file: written to ``out`` (a path) or, for a plain name (the inbox's
    download), only returned; .xlsx or .csv by its suffix; the export audited either way
    (``report.export``); (report, the file's bytes, sha256)."""
    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"--out must name an .xlsx or .csv file, got {Path(out).name!r}", field="out")
    report = exception_register(store, user, period, engagement=engagement)
    data = to_xlsx(report) if fmt == "xlsx" else to_csv(report)
    who = require(store, user, Action.READ_REPORTS, "report:register")
    digest = write_audited(
        store,
        who,
        "register",
        out,
        data,
        {
            "engagement": report.engagement,
            "from": report.period.first.isoformat(),
            "to": report.period.last.isoformat(),
            "rows": len(report.rows),
            "register": report.register.version if report.register is not None else None,
            "format": fmt,
        },
    )
    return report, data, digest
