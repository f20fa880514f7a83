"""The reconciliation workbook a payroll lead signs off: Summary, Exceptions, Departments.

- Summary: period, run, inputs (name and sha256), control totals per source with differences,
  and pass/fail per DOMAIN.md check 1-9.
- Exceptions: one row per violation: employee, rule code, message, expected, actual, owner role,
  SLA due date, queue item id, source (file and row) and evidence (file sha256).
- Departments: gross and headcount this period and the previous one, with the change.

Bank accounts appear masked to their last 4 characters; every text cell is formula-neutralised
(connectors.excel.write_report). The file is written atomically.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from backoffice.money import q2
from backoffice.pii import mask_account, mask_text
from backoffice.runner import RunSummary
from backoffice.schema import items
from bots.payroll_reconciliation.context import PayrollContext
from bots.payroll_reconciliation.rules import CHECKS, CODE_CHECK
from bots.payroll_reconciliation.state import PayrollState
from connectors.excel import ReportColumn, Sheet, write_report

__all__ = ["EXCEPTION_COLUMNS", "write_reconciliation_report"]

QUEUED = ("open", "claimed", "pending_approval")
EXCEPTION_COLUMNS = [
    ReportColumn("Employee", width=12),
    ReportColumn("Name", width=22),
    ReportColumn("Department", width=16),
    ReportColumn("Check", "int", width=7),
    ReportColumn("Rule code", width=22),
    ReportColumn("Severity", width=9),
    ReportColumn("Message", width=70),
    ReportColumn("Expected", width=22),
    ReportColumn("Actual", width=22),
    ReportColumn("Net pay", "money", width=14),
    ReportColumn("Owner role", width=11),
    ReportColumn("Due (UTC)", "datetime", width=19),
    ReportColumn("Status", width=10),
    ReportColumn("Queue item", "int", width=10),
    ReportColumn("Source", width=30),
    ReportColumn("Evidence (sha256)", width=18),
]
_ACCOUNT_FIELDS = {"bank_account", "iban", "account"}
_ACCOUNT_LIKE = re.compile(r"[A-Za-z0-9]{5,34}")


def _shown(value: Any, field: str | None) -> Any:
    if value is None:
        return None
    text = str(value)
    if (
        (field or "").rsplit(".", 1)[-1] in _ACCOUNT_FIELDS
        and _ACCOUNT_LIKE.fullmatch(text.replace(" ", ""))
        and any(c.isdigit() for c in text)
    ):
        return mask_account(text)
    return mask_text(text)


def _exception_rows(st: PayrollState) -> Iterator[list[Any]]:
    run = st.run
    prefix = f"payroll:{st.recon_id}:"
    q = (
        select(
            items.c.id,
            items.c.key,
            items.c.status,
            items.c.payload,
            items.c.source,
            items.c.violations,
            items.c.owner_role,
            items.c.due_at,
            items.c.evidence,
        )
        .where(items.c.bot == run.bot, items.c.key.like(prefix + "%"), items.c.status.in_(QUEUED))
        .order_by(items.c.id)
    )
    with run.store.read() as conn:  # streamed: the exception list may be long
        for r in conn.execution_options(yield_per=1000).execute(q):
            yield from _violation_rows(r)


def _violation_rows(r: Any) -> Iterator[list[Any]]:
    payload = r.payload or {}
    emp = payload.get("employee") or {}
    kind = payload.get("kind", "employee")
    if kind == "department":
        who = f"dept {payload.get('department', {}).get('department')}"
    elif kind == "control":
        who = f"control {payload.get('control', {}).get('name')}"
    else:
        who = emp.get("employee_id") or ""
    src = r.source or {}
    source = f"{Path(src.get('file') or '').name} {src.get('locator') or ''}".strip()
    evidence = (src.get("sha256") or "")[:16]
    if r.evidence:
        evidence = ", ".join(e.get("sha256", "")[:16] for e in r.evidence)
    net = emp.get("net")
    for v in r.violations or []:
        code = v.get("code", "")
        field = v.get("field")
        yield [
            who,
            emp.get("name"),
            emp.get("department"),
            CODE_CHECK.get(code),
            code,
            v.get("severity", "error"),
            mask_text(str(v.get("message", ""))),
            _shown(v.get("expected"), field),
            _shown(v.get("actual"), field),
            Decimal(net) if net not in (None, "") else None,
            r.owner_role,
            r.due_at.replace(tzinfo=None) if isinstance(r.due_at, datetime) else r.due_at,
            r.status,
            r.id,
            source,
            evidence,
        ]


def _counts(st: PayrollState) -> tuple[Counter[str], Counter[str]]:
    """Violations per code over queued items, and items per status, for this reconciliation."""
    run = st.run
    prefix = f"payroll:{st.recon_id}:"
    by_code: Counter[str] = Counter()
    with run.store.read() as conn:
        status = Counter(
            {
                s: n
                for s, n in conn.execute(
                    select(items.c.status, func.count())
                    .where(items.c.bot == run.bot, items.c.key.like(prefix + "%"))
                    .group_by(items.c.status)
                )
            }
        )
        for (violations,) in conn.execute(
            select(items.c.violations).where(
                items.c.bot == run.bot, items.c.key.like(prefix + "%"), items.c.status.in_(QUEUED)
            )
        ):
            for code in {v.get("code") for v in violations or []}:
                by_code[code] += 1
    return by_code, status


def _m(v: Any) -> Decimal | None:
    if v is None or v == "":
        return None
    return q2(Decimal(str(v)))


def _diff(a: Any, b: Any) -> Decimal | None:
    x, y = _m(a), _m(b)
    return None if x is None or y is None else x - y


def _summary_rows(
    st: PayrollState, summary: RunSummary, by_code: Counter[str], status: Counter[str]
) -> tuple[list[list[Any]], set[int]]:
    run, ctx = st.run, st.ctx
    rows: list[list[Any]] = []
    bold: set[int] = set()

    def title(text: str) -> None:
        bold.add(len(rows))
        rows.append([text])

    def header(*cells: str) -> None:
        bold.add(len(rows))
        rows.append(list(cells))

    title("Payroll reconciliation")
    pay_dates = ", ".join(sorted(d.isoformat() for d in st.pay_dates if d))
    period = f"{st.period_start or '?'} to {st.period_end or '?'}"
    rows.append(["Period", period, "Pay date", pay_dates])
    rows.append(["Run", run.run_id, "Rule set", run.ruleset_version])
    rows.append(
        [
            "Generated (UTC)",
            datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            "Reconciliation",
            st.recon_id,
        ]
    )
    rows.append([])
    header("Input", "File", "sha256")
    for name, sha in st.file_sha.items():
        rows.append([name, Path(ctx.files.get(name, "")).name, sha])
    rows.append([])

    title("Control totals per source")
    header("Source", "Figure", "Count", "Amount", "Compared with", "Difference")
    t = st.totals
    rows.append(["Payroll register", "Gross pay", st.employees, _m(t["gross"]), None, None])
    rows.append(["Payroll register", "Taxes withheld", None, _m(t["taxes"]), None, None])
    rows.append(["Payroll register", "Deductions (pre- and post-tax)", None, _m(t["deductions"]), None, None])
    rows.append(["Payroll register", "Net pay", st.employees, _m(t["net"]), None, None])
    bank = st.controls.get("bank-file")
    if bank:
        fmt = bank["format"]
        rows.append(
            [
                f"Bank payment file ({fmt})",
                "Payments",
                bank["payments"],
                _m(bank["total"]),
                "Register net pay",
                _diff(bank["total"], t["net"]),
            ]
        )
        label = {
            "pain.001": "Declared NbOfTxs / CtrlSum",
            "nacha": "File control count / credits - debits",
        }.get(fmt, "Declared")
        if bank["declared_count"] is not None or bank["declared_total"] is not None:
            rows.append(
                [
                    f"Bank payment file ({fmt})",
                    label,
                    bank["declared_count"],
                    _m(bank["declared_total"]),
                    "Payments in the file",
                    _diff(bank["declared_total"], bank["total"]),
                ]
            )
        for problem in bank["problems"]:
            rows.append([f"Bank payment file ({fmt})", "Control problem", None, None, problem, None])
    for key, s in st.controls.items():
        if not key.startswith("statement:"):
            continue
        src = f"Bank statement {s['id']} ({s['account']})"
        for warning in s.get("warnings", ()):  # what the reader read past, e.g. no booked closing
            rows.append([src, "Reader warning", None, None, warning, None])
        rows.append([src, "Opening balance", None, _m(s["opening"]), None, None])
        rows.append([src, "Credits", None, _m(s["credits"]), None, None])
        rows.append([src, "Debits", None, _m(s["debits"]), None, None])
        expected = None
        if s["opening"] is not None:
            expected = _m(s["opening"]) + _m(s["credits"]) - _m(s["debits"])  # type: ignore[operator]
        rows.append(
            [
                src,
                "Closing balance",
                None,
                _m(s["closing"]),
                "Opening + credits - debits",
                _diff(s["closing"], expected),
            ]
        )
        paid = bank["total"] if bank else t["net"]
        rows.append(
            [
                src,
                "Payroll payments booked",
                s["payroll_entries"],
                _m(s["payroll_debits"]),
                "Bank file total" if bank else "Register net pay",
                _diff(s["payroll_debits"], paid),
            ]
        )
    gl = st.controls.get("gl")
    if gl:
        for cat, label in (
            ("gross", "Gross pay"),
            ("taxes", "Taxes payable"),
            ("deductions", "Deductions payable"),
            ("net", "Net pay payable"),
        ):
            rows.append(
                [
                    "General ledger",
                    label,
                    None,
                    _m(gl.get(f"gl_{cat}")),
                    f"Register {cat}",
                    _diff(gl.get(f"gl_{cat}"), gl.get(f"register_{cat}")),
                ]
            )
    hc = st.controls.get("headcount")
    if hc:
        prev_gross = sum((line.gross for line in (ctx.previous or {}).values()), Decimal(0))
        rows.append(
            [
                "Previous register",
                "Headcount / gross",
                hc["previous_headcount"],
                _m(prev_gross),
                "This register",
                _diff(t["gross"], prev_gross),
            ]
        )
        rows.append(
            [
                "Previous register",
                "Joiners / leavers",
                None,
                None,
                f"{hc['joiners']} joined, {hc['leavers']} left, {hc['unexplained_leavers']} unexplained",
                None,
            ]
        )
    rows.append([])

    title("Checks (DOMAIN.md payroll reconciliation)")
    header("Check", "Description", "Rule codes", "Items with exceptions", "Result")
    available = {
        5: ctx.timesheets is not None,
        6: ctx.previous is not None,
        7: ctx.payment_file is not None,
        8: bool(ctx.statements),
        9: ctx.gl is not None,
    }
    for no, text in CHECKS.items():
        codes = [c for c, n in CODE_CHECK.items() if n == no]
        hits = sum(by_code.get(c, 0) for c in codes)
        ran = available.get(no, True)
        result = "NOT RUN (input not given)" if not ran else ("FAIL" if hits else "PASS")
        rows.append([no, text, ", ".join(codes), hits if ran else None, result])
    rows.append(
        ["Input", "Unreadable register rows", "INPUT", st.input_errors, "FAIL" if st.input_errors else "PASS"]
    )
    rows.append([])

    title("Outcome")
    queued = sum(status.get(s, 0) for s in QUEUED)
    rows.append(["Employees in the register", st.employees + st.input_errors])
    rows.append(
        ["Items reconciled (audit log: payroll.reconciled / payroll.control_passed)", status.get("done", 0)]
    )
    rows.append(["Items in the exception queue", queued])
    rows.append(
        ["This run: new items done / queued / already known", summary.done, summary.queued, summary.skipped]
    )
    return rows, bold


def _department_rows(st: PayrollState) -> Iterator[list[Any]]:
    ctx = st.ctx
    prev: dict[str, list[Any]] = {}
    for line in (ctx.previous or {}).values():
        slot = prev.setdefault(line.department or "(none)", [Decimal(0), 0])
        slot[0] += line.gross
        slot[1] += 1
    limit = bot_limit(ctx)
    for name in sorted(set(st.departments) | set(prev)):
        gross, count = st.departments.get(name, [Decimal(0), 0])
        pg, pc = prev.get(name, [None, None])
        change = None if not pg else (gross - pg) / pg
        result = (
            ""
            if ctx.previous is None
            else ("FAIL" if change is None or abs(change) * 100 > limit else "PASS")
        )
        yield [
            name,
            count,
            pc,
            q2(gross),
            q2(pg) if pg is not None else None,
            float(change) if change is not None else None,
            result,
        ]


def bot_limit(ctx: PayrollContext) -> Decimal:
    return ctx.params.department_variance_pct


def write_reconciliation_report(path: Path, st: PayrollState, summary: RunSummary) -> Path:
    """The workbook of the run ``st`` at ``path`` (written atomically); returns the path."""
    by_code, status = _counts(st)
    summary_rows, bold = _summary_rows(st, summary, by_code, status)
    sheets = [
        Sheet(
            "Summary",
            None,
            summary_rows,
            freeze=None,
            autofilter=False,
            bold_rows=frozenset(bold),
            widths=[34, 34, 24, 18, 30, 16],
        ),
        Sheet("Exceptions", EXCEPTION_COLUMNS, _exception_rows(st)),
        Sheet(
            "Departments",
            [
                ReportColumn("Department", width=20),
                ReportColumn("Headcount", "int"),
                ReportColumn("Previous headcount", "int"),
                ReportColumn("Gross", "money", width=16),
                ReportColumn("Previous gross", "money", width=16),
                ReportColumn("Change", "percent"),
                ReportColumn(f"Within {bot_limit(st.ctx)}%", width=10),
            ],
            _department_rows(st),
        ),
    ]
    return write_report(path, sheets)
