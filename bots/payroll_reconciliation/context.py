"""Look-ups the payroll rules need, read once per run: HR master, timesheets, previous register,
bank payment file, bank statement, general ledger and vendor master.

Everything here is plain data; the rules in :mod:`.rules` are pure functions over it.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from backoffice.collector import collector_paused
from backoffice.errors import InputError, UsageError
from connectors.bankfiles import (
    Payment,
    PaymentFile,
    Statement,
    compact_account,
    iban_problem,
    read_payment_file,
    read_statement,
)
from connectors.excel import ColumnSpec, Row, read_table

__all__ = [
    "GL_COLUMNS",
    "HR_COLUMNS",
    "REGISTER_COLUMNS",
    "TIMESHEET_COLUMNS",
    "VENDOR_COLUMNS",
    "HRRecord",
    "Hours",
    "Params",
    "PayrollContext",
    "PrevLine",
    "load_context",
    "normalise_address",
    "resolve_employee",
]

_M = ColumnSpec("money")
_M0 = ColumnSpec("money", required=False, nullable=True)

REGISTER_COLUMNS: dict[str, ColumnSpec] = {
    "employee_id": ColumnSpec("str", aliases=("emp id", "employee", "employee no", "personnel number")),
    "name": ColumnSpec("str", required=False, nullable=True, aliases=("employee name",)),
    "department": ColumnSpec("str", required=False, nullable=True, aliases=("dept", "cost center")),
    "pay_type": ColumnSpec("str", required=False, nullable=True, aliases=("type", "pay basis")),
    "pay_date": ColumnSpec("date", aliases=("payment date", "check date")),
    "period_start": ColumnSpec("date", required=False, nullable=True, aliases=("period from",)),
    "period_end": ColumnSpec("date", required=False, nullable=True, aliases=("period to",)),
    "rate": ColumnSpec("decimal", required=False, nullable=True, aliases=("pay rate", "salary rate")),
    "regular_hours": ColumnSpec("decimal", required=False, nullable=True, aliases=("hours", "reg hours")),
    "overtime_hours": ColumnSpec("decimal", required=False, nullable=True, aliases=("ot hours",)),
    "base_pay": ColumnSpec("money", required=False, nullable=True, aliases=("basic pay", "regular pay")),
    "overtime_pay": ColumnSpec("money", required=False, nullable=True, aliases=("ot pay",)),
    "other_earnings": ColumnSpec("money", required=False, nullable=True, aliases=("bonus", "other pay")),
    "gross": ColumnSpec("money", aliases=("gross pay", "gross amount", "total gross")),
    "pretax_deductions": ColumnSpec("money", required=False, nullable=True, aliases=("pre tax deductions",)),
    "taxes": ColumnSpec("money", aliases=("tax", "withholding", "tax withheld")),
    "posttax_deductions": ColumnSpec(
        "money", required=False, nullable=True, aliases=("post tax deductions",)
    ),
    "net": ColumnSpec("money", aliases=("net pay", "net amount")),
    "bank_account": ColumnSpec("str", required=False, nullable=True, aliases=("iban", "account")),
}

HR_COLUMNS: dict[str, ColumnSpec] = {
    "employee_id": ColumnSpec("str", aliases=("emp id", "employee", "personnel number")),
    "name": ColumnSpec("str", required=False, nullable=True),
    "national_id": ColumnSpec("str", required=False, nullable=True, aliases=("ssn", "tax id", "national id")),
    "address": ColumnSpec("str", required=False, nullable=True, aliases=("home address",)),
    "bank_account": ColumnSpec("str", required=False, nullable=True, aliases=("iban", "account")),
    "department": ColumnSpec("str", required=False, nullable=True, aliases=("dept",)),
    "pay_type": ColumnSpec("str", required=False, nullable=True, aliases=("pay basis",)),
    "hire_date": ColumnSpec("date", aliases=("start date", "hired")),
    "termination_date": ColumnSpec("date", required=False, nullable=True, aliases=("end date", "terminated")),
    "annual_salary": ColumnSpec("money", required=False, nullable=True, aliases=("salary",)),
    "hourly_rate": ColumnSpec("decimal", required=False, nullable=True, aliases=("rate",)),
    "salary_change_date": ColumnSpec("date", required=False, nullable=True),
    "salary_change_approval": ColumnSpec("str", required=False, nullable=True, aliases=("approval",)),
}

TIMESHEET_COLUMNS: dict[str, ColumnSpec] = {
    "employee_id": ColumnSpec("str", aliases=("emp id", "employee")),
    "week_start": ColumnSpec("date", aliases=("week", "week beginning")),
    "hours": ColumnSpec("decimal", aliases=("hours worked",)),
}

GL_COLUMNS: dict[str, ColumnSpec] = {
    "account": ColumnSpec("str", required=False, nullable=True, aliases=("gl account",)),
    "description": ColumnSpec("str", required=False, nullable=True),
    "category": ColumnSpec("str", aliases=("type",)),
    "amount": _M,
}

VENDOR_COLUMNS: dict[str, ColumnSpec] = {
    "vendor_id": ColumnSpec("str", aliases=("vendor",)),
    "name": ColumnSpec("str", required=False, nullable=True),
    "bank_account": ColumnSpec("str", required=False, nullable=True, aliases=("iban", "account")),
}

GL_CATEGORIES = ("gross", "taxes", "deductions", "net")


class Params(BaseModel):
    """Tolerances (DOMAIN.md defaults) the rules run with. The bot versions its rule set with the
    very object it runs with, so a changed tolerance is a new rule-set version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cent: Decimal = Field(default=Decimal("0.01"), description="Amounts agree to this much.")
    weekly_hours: Decimal = Field(default=Decimal("40"), description="Hours a week before overtime.")
    overtime_multiplier: Decimal = Field(
        default=Decimal("1.5"), description="Overtime is paid at least this times the hourly rate."
    )
    department_variance_pct: Decimal = Field(
        default=Decimal("5"), description="A department's gross may move this many percent."
    )
    raise_pct: Decimal = Field(
        default=Decimal("10"), description="A pay rate change above this many percent needs an approval."
    )


@dataclass(slots=True)
class HRRecord:
    """What the rules need of an HR master row (addresses and national IDs only count collisions)."""

    employee_id: str
    bank_account: str | None
    department: str | None
    pay_type: str | None
    hire_date: date
    termination_date: date | None
    annual_salary: Decimal | None
    hourly_rate: Decimal | None
    salary_change_approval: str | None
    row: int


@dataclass(slots=True)
class Hours:
    total: Decimal = Decimal("0")
    overtime: Decimal = Decimal("0")
    weeks: int = 0
    lines: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)  # week, hours, overtime


@dataclass(slots=True)
class PrevLine:
    rate: Decimal | None
    department: str | None
    gross: Decimal


class PayrollContext:
    """The look-ups of one run.

    A plain class on purpose, not a dataclass: Prefect walks dataclasses, dicts and lists passed
    to a task to find futures, and this object holds one entry per employee; handed to every
    batch task, it would be walked once per batch.
    """

    def __init__(self, params: Params, hr: dict[str, HRRecord], hr_file: str) -> None:
        self.params = params
        self.hr = hr
        self.hr_file = hr_file
        self.account_owners: dict[str, set[str]] = {}  # shared account -> employee ids
        self.address_owners: dict[str, set[str]] = {}  # employee id -> ids at its address
        self.national_id_owners: dict[str, set[str]] = {}  # employee id -> ids with its national ID
        self.vendor_accounts: dict[str, str] = {}  # account -> vendor
        self.timesheets: dict[str, Hours] | None = None
        self.previous: dict[str, PrevLine] | None = None
        self.previous_file: str | None = None
        self.payments: dict[str, Sequence[Payment]] = {}  # employee id -> payments
        self.payment_file: PaymentFile | None = None
        self.unmatched_payments: list[Payment] = []
        self.statements: list[Statement] = []
        self.booked: dict[str, Decimal] | None = None  # end-to-end id -> amount booked (debits positive)
        self.gl: dict[str, Decimal] | None = None
        self.gl_file: str | None = None
        self.files: dict[str, str] = {}  # input name -> path
        # account -> its IBAN problem (None: valid), so each distinct account of the run is
        # checked once, not once per place it appears (HR master, register, bank file)
        self._iban_problems: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"PayrollContext({len(self.hr)} employees, files={sorted(self.files)})"

    def iban_problem(self, account: str) -> str | None:
        """:func:`connectors.bankfiles.iban_problem` of ``account``, remembered for this run
        (the check is pure: the same account always gets the same answer)."""
        try:
            return self._iban_problems[account]
        except KeyError:
            problem = self._iban_problems[account] = iban_problem(account)
            return problem


_ADDR_PUNCT = re.compile(r"[^\w]+")


def normalise_address(address: str | None) -> str:
    return _ADDR_PUNCT.sub(" ", (address or "").casefold()).strip()


def resolve_employee(p: Payment, known: dict[str, HRRecord] | set[str]) -> str | None:
    """Employee of a payment: its employee id field, else the end-to-end id's last ``-`` part."""
    if p.employee_id:
        return p.employee_id
    e2e = p.end_to_end_id or ""
    if e2e in known:
        return e2e
    tail = e2e.rsplit("-", 1)[-1]
    return tail if tail in known else None


class _Owners:
    """value -> employee ids, cheap for the common case of one owner (no set per value)."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.more: dict[str, set[str]] = {}

    def add(self, value: str, eid: str) -> None:
        current = self.first.setdefault(value, eid)
        if current != eid:
            self.more.setdefault(value, {current}).add(eid)

    def shared(self) -> dict[str, set[str]]:
        """Only the values held by more than one employee id: all the rules need."""
        return self.more

    def by_member(self) -> dict[str, set[str]]:
        """employee id -> every id sharing its value, for the ids that share one."""
        return {eid: group for group in self.more.values() for eid in group}


def _rows(
    path: str, columns: dict[str, ColumnSpec], key: str | tuple[str, ...] | None = None
) -> Iterator[Row]:
    return read_table(path, columns, key=key)


def _pay_type(value: str | None, row: Row, column: str) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("salaried", "salary", "exempt", "monthly"):
        return "salaried"
    if v in ("hourly", "non-exempt", "nonexempt", "hours"):
        return "hourly"
    raise InputError(
        f"pay type must be salaried or hourly, got {value!r}",
        file=row.file,
        sheet=row.sheet,
        row=row.number,
        column=column,
    )


def load_hr(path: str) -> tuple[dict[str, HRRecord], _Owners, _Owners]:
    """HR records by employee id, plus who shares an address and who shares a national ID."""
    hr: dict[str, HRRecord] = {}
    addresses = _Owners()
    national = _Owners()
    intern = sys.intern
    for row in _rows(path, HR_COLUMNS, key="employee_id"):
        d = row.data
        eid = d["employee_id"]
        if d["address"]:
            addresses.add(normalise_address(d["address"]), eid)
        if d["national_id"]:
            national.add(d["national_id"].strip().upper(), eid)
        hr[eid] = HRRecord(
            employee_id=eid,
            bank_account=compact_account(d["bank_account"]) or None,
            department=intern(d["department"]) if d["department"] else None,
            pay_type=_pay_type(d["pay_type"], row, "pay_type"),
            hire_date=d["hire_date"],
            termination_date=d["termination_date"],
            annual_salary=d["annual_salary"],
            hourly_rate=d["hourly_rate"],
            salary_change_approval=d["salary_change_approval"],
            row=row.number,
        )
    return hr, addresses, national


def load_timesheets(path: str, params: Params, hr: Mapping[str, HRRecord] | None = None) -> dict[str, Hours]:
    """Each employee's weeks. Employees whose weeks are the very same lines in the same order
    share one :class:`Hours` (its totals are sums of those lines, so they are the same too): at
    200k employees most timesheets repeat one of a few hundred patterns. Keyed by the HR
    master's own employee-id text where ``hr`` has it (one string per employee, not two)."""
    per: dict[str, list[tuple[str, Decimal, Decimal]]] = {}
    zero = Decimal(0)
    weekly = params.weekly_hours
    # One line tuple per distinct (week, hours), shared by every employee with that line: the
    # reader hands out one Decimal per distinct hours text (connectors.excel.cells.remembering),
    # so a line is matched by that very object (``is``: 40 and 40.0 are equal but print apart).
    lines: dict[tuple[object, Decimal], tuple[str, Decimal, Decimal]] = {}
    weeks: dict[object, str] = {}  # one text per distinct week, shared by every line of that week
    for row in _rows(path, TIMESHEET_COLUMNS, key=("employee_id", "week_start")):
        d = row.data
        hours: Decimal = d["hours"]
        if hours < 0 or hours > 168:
            raise InputError(
                f"hours must be between 0 and 168 a week, got {hours}",
                file=row.file,
                sheet=row.sheet,
                row=row.number,
                column="hours",
            )
        line = lines.get((d["week_start"], hours))
        if line is None or line[1] is not hours:
            over = hours - weekly
            if over < zero:  # as max(over, 0) did, but one shared zero, not a new Decimal per line
                over = zero
            week = weeks.get(d["week_start"])
            if week is None:
                week = weeks[d["week_start"]] = str(d["week_start"])
            line = lines.setdefault((d["week_start"], hours), (week, hours, over))
            if line[1] is not hours:
                line = (week, hours, over)
        eid = d["employee_id"]
        mine = per.get(eid)
        if mine is None:
            rec = hr.get(eid) if hr is not None else None
            per[rec.employee_id if rec is not None else eid] = [line]
        else:
            mine.append(line)
    out: dict[str, Hours] = {}
    patterns: dict[tuple[int, ...], Hours] = {}  # the lines' identities (shared tuples) -> their Hours
    for eid, mine in per.items():
        key = tuple(map(id, mine))
        h = patterns.get(key)
        if h is None:
            h = patterns[key] = Hours(lines=mine)
            for line in mine:  # summed as they were added one line at a time, from Hours' zeros
                h.total += line[1]
                h.overtime += line[2]
            h.weeks = len(mine)
        out[eid] = h
    return out


def load_previous(path: str) -> dict[str, PrevLine]:
    cols = {k: REGISTER_COLUMNS[k] for k in ("employee_id", "department", "rate", "gross")}
    return {
        row.data["employee_id"]: PrevLine(row.data["rate"], row.data["department"], row.data["gross"])
        for row in _rows(path, cols, key="employee_id")
    }


def load_gl(path: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for row in _rows(path, GL_COLUMNS):
        cat = normalise_address(row.data["category"]).replace(" ", "_")
        cat = {"gross_pay": "gross", "wages": "gross", "tax": "taxes", "net_pay": "net"}.get(cat, cat)
        if cat not in GL_CATEGORIES:
            raise InputError(
                f"GL category must be one of {', '.join(GL_CATEGORIES)}, got {row.data['category']!r}",
                file=row.file,
                sheet=row.sheet,
                row=row.number,
                column="category",
            )
        out[cat] += row.data["amount"]
    return dict(out)


def load_vendors(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in _rows(path, VENDOR_COLUMNS, key="vendor_id"):
        acct = compact_account(row.data["bank_account"])
        if acct:
            out[acct] = f"{row.data['vendor_id']} {row.data['name'] or ''}".strip()
    return out


def load_context(inputs: dict[str, str | None], params: Params | None = None) -> PayrollContext:
    """Read every look-up input. File-level problems raise InputError naming the file and place."""
    with collector_paused():
        return _load_context(inputs, params or Params())


def _load_context(inputs: dict[str, str | None], params: Params) -> PayrollContext:
    hr_path = inputs.get("hr")
    if not hr_path:
        raise UsageError("the HR master file is required", field="hr")
    hr, addresses, national = load_hr(hr_path)
    ctx = PayrollContext(params=params, hr=hr, hr_file=hr_path)
    ctx.files = {k: str(v) for k, v in inputs.items() if v and k != "out"}
    ctx.address_owners = addresses.by_member()
    ctx.national_id_owners = national.by_member()
    del addresses, national  # every address and national ID: freed before the next look-up grows
    owners = _Owners()
    for rec in hr.values():
        if rec.bank_account:
            owners.add(rec.bank_account, rec.employee_id)
    if inputs.get("timesheets"):
        ctx.timesheets = load_timesheets(str(inputs["timesheets"]), params, hr)
    if inputs.get("previous"):
        ctx.previous = load_previous(str(inputs["previous"]))
        ctx.previous_file = str(inputs["previous"])
    if inputs.get("bank_file"):
        pf = read_payment_file(str(inputs["bank_file"]))
        payments: dict[str, list[Payment]] = {}
        ctx.payment_file = pf
        for p in pf.payments:
            eid = resolve_employee(p, ctx.hr)
            if eid is None:
                ctx.unmatched_payments.append(p)
                continue
            known = hr.get(eid)
            if known is not None:
                eid = known.employee_id  # the HR master's text: one string per employee, not one per look-up
                if p.account == known.bank_account:
                    p.account = known.bank_account  # the same account text once, not once per file
            mine = payments.get(eid)
            if mine is None:
                payments[eid] = [p]
            else:
                mine.append(p)
            acct = compact_account(p.account)
            if acct:
                owners.add(acct, eid)
        # a tuple per employee, not a list: 40 bytes less each, nothing is added after this
        ctx.payments = {eid: tuple(pays) for eid, pays in payments.items()}
    if inputs.get("statement"):
        ctx.statements = read_statement(str(inputs["statement"]))
        booked: dict[str, Decimal] = defaultdict(Decimal)
        for st in ctx.statements:
            for entry, tx in st.transactions():
                if entry.booked and tx.end_to_end_id:
                    booked[tx.end_to_end_id] += -tx.amount  # a salary payment is a debit
        ctx.booked = dict(booked)
    if inputs.get("gl"):
        ctx.gl = load_gl(str(inputs["gl"]))
        ctx.gl_file = str(inputs["gl"])
    if inputs.get("vendors"):
        ctx.vendor_accounts = load_vendors(str(inputs["vendors"]))
    # only collisions matter to the rules; drop the singletons to keep the context small
    ctx.account_owners = owners.shared()
    return ctx
