"""The records an employee's queued pay line was compared with, stored as its evidence.

For each queued employee item: the register line itself, the HR master row, the timesheet weeks,
the payments of the bank file, what the statement booked for them and the previous period's line,
as structured records (:mod:`backoffice.evidence_records`) the inbox shows side by side. Each
record's model declares its personal fields, so the inbox shows the pay to the item's workers and
masks it for everyone else. The fields the rules flagged are highlighted.
"""

from __future__ import annotations

from typing import Any

from backoffice.data_classes import declared
from backoffice.evidence_records import MEDIA_TYPE, Record, record, records_file
from backoffice.items import EvidenceRef, Item
from backoffice.rules import Violation
from bots.payroll_reconciliation.models import (
    HRMasterRow,
    PayLine,
    PaymentLine,
    PreviousLine,
    StatementEntry,
    TimesheetLine,
)
from bots.payroll_reconciliation.state import PayrollState
from connectors.bankfiles import compact_account

__all__ = ["employee_evidence", "employee_records"]

# which record holds what a flagged register field is compared with
_COMPARED = {
    "regular_hours": ("Timesheets", "hours"),
    "overtime_hours": ("Timesheets", "overtime"),
    "rate": ("HR master", "hourly_rate"),
    "base_pay": ("HR master", "annual_salary"),
    "net": ("Bank payment", "amount"),
    "bank_account": ("HR master", "bank_account"),
    "pay_date": ("HR master", "termination_date"),
    "department": ("Previous period", "department"),
}


def employee_records(item: Item, violations: list[Violation], state: PayrollState) -> list[Record]:
    """The records of one employee item (none for departments and controls)."""
    emp: dict[str, Any] | None = (
        item.payload.get("employee") if item.payload.get("kind") == "employee" else None
    )
    if not emp or not emp.get("employee_id"):
        return []
    eid = str(emp["employee_id"])
    ctx = state.ctx
    flagged = {v.field.split(".", 1)[1] for v in violations if v.field and v.field.startswith("employee.")}
    marks: dict[str, list[str]] = {}
    for f in flagged:
        if f in _COMPARED:
            name, key = _COMPARED[f]
            marks.setdefault(name, []).append(key)
    # the line as read (also when it did not validate), with the classes its model declares
    out = [record("Register", emp, classes=declared(PayLine), highlight=sorted(flagged))]
    rec = ctx.hr.get(eid)
    hr = (
        HRMasterRow(
            employee_id=rec.employee_id,
            department=rec.department,
            pay_type=rec.pay_type,
            hire_date=rec.hire_date,
            termination_date=rec.termination_date,
            annual_salary=rec.annual_salary,
            hourly_rate=rec.hourly_rate,
            salary_change_approval=rec.salary_change_approval,
            bank_account=rec.bank_account,
            row=rec.row,
        )
        if rec is not None
        else None
    )
    out.append(record("HR master", hr, highlight=marks.get("HR master", [])))
    if ctx.timesheets is not None:
        hours = ctx.timesheets.get(eid)
        weeks = [
            TimesheetLine(week_start=w, hours=h, overtime=o) for w, h, o in (hours.lines if hours else [])
        ]
        out.append(record("Timesheets", weeks, highlight=marks.get("Timesheets", [])))
    pays = ctx.payments.get(eid, [])
    if ctx.payment_file is not None:
        lines = [
            PaymentLine(
                end_to_end_id=p.end_to_end_id,
                amount=p.amount,
                currency=p.currency,
                account=compact_account(p.account) or None,
                locator=p.locator,
            )
            for p in pays
        ]
        out.append(record("Bank payment", lines, highlight=marks.get("Bank payment", [])))
    if ctx.booked is not None:
        booked = [
            StatementEntry(end_to_end_id=p.end_to_end_id, booked=ctx.booked.get(p.end_to_end_id))
            for p in pays
        ]
        out.append(record("Bank statement", booked))
    if ctx.previous is not None:
        prev = ctx.previous.get(eid)
        line = PreviousLine(department=prev.department, rate=prev.rate, gross=prev.gross) if prev else None
        out.append(record("Previous period", line, highlight=marks.get("Previous period", [])))
    return out


def employee_evidence(item: Item, violations: list[Violation], state: PayrollState) -> list[EvidenceRef]:
    """The records stored as one JSON evidence file of the item (none for other items)."""
    records = employee_records(item, violations, state)
    if not records:
        return []
    eid = item.payload["employee"]["employee_id"]
    return [state.run.store_evidence(records_file(records), f"payroll/{eid}-records.json", MEDIA_TYPE)]
