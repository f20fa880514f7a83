"""Payroll reconciliation rules (DOMAIN.md, Payroll reconciliation 1-9). Pure: no I/O.

Each rule looks at one :class:`PayrollItem` (an employee's pay line, a department's totals or
a file-level control) and the :class:`PayrollContext` look-ups. A violation's ``field`` is the
path of the broken value in the item payload (``employee.net``, ``control.figures.closing``), so
the value's declared data class applies to its expected/actual too. Bank accounts in violations
are masked to their last 4 characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from backoffice.money import q2
from backoffice.pii import mask_account
from backoffice.rules import Rule, RuleSet, RuleSpec, Violation, rule
from bots.payroll_reconciliation import context, models, reading
from bots.payroll_reconciliation.context import Params, PayrollContext
from bots.payroll_reconciliation.models import PayLine, PayrollItem
from connectors.bankfiles import compact_account, iban_problem

__all__ = ["CHECKS", "CODE_CHECK", "RULES", "payroll_rules"]

H = timedelta(hours=1)
ZERO = Decimal("0")

# DOMAIN.md check number -> title, and every code's check
CHECKS: dict[int, str] = {
    1: "Gross-to-net",
    2: "Paid after termination / before hire",
    3: "Ghost employees",
    4: "Pay vs HR master salary; raises approved",
    5: "Hours and overtime",
    6: "Period variance and headcount",
    7: "Register vs bank payment file",
    8: "Register vs bank statement",
    9: "Register vs general ledger",
}
CODE_CHECK: dict[str, int] = {
    "PAY-GROSS-NET": 1,
    "PAY-NET-NEGATIVE": 1,
    "PAY-AFTER-TERM": 2,
    "PAY-BEFORE-HIRE": 2,
    "PAY-GHOST": 3,
    "PAY-GHOST-VENDOR": 3,
    "PAY-UNKNOWN-EMPLOYEE": 3,
    "PAY-SALARY": 4,
    "PAY-RAISE-UNAPPROVED": 4,
    "PAY-HOURS": 5,
    "PAY-OVERTIME": 5,
    "PAY-DEPT-VARIANCE": 6,
    "PAY-HEADCOUNT": 6,
    "PAY-BANK-MISSING": 7,
    "PAY-BANK-DUPLICATE": 7,
    "PAY-BANK-AMOUNT": 7,
    "PAY-BANK-ACCOUNT": 7,
    "PAY-IBAN": 7,
    "PAY-BANK-CONTROL": 7,
    "PAY-BANK-UNKNOWN": 7,
    "PAY-STMT-MISSING": 8,
    "PAY-STMT-AMOUNT": 8,
    "PAY-STMT-BALANCE": 8,
    "PAY-GL-GROSS": 9,
    "PAY-GL-LIAB": 9,
}


def _emp(item: PayrollItem) -> PayLine | None:
    return item.employee if item.kind == "employee" else None


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(q2(d))


def _employed_days(line: PayLine, ctx: PayrollContext) -> int | None:
    rec = ctx.hr.get(line.employee_id)
    if rec is None or line.period_start is None or line.period_end is None:
        return None
    first = max(rec.hire_date, line.period_start)
    last = min(rec.termination_date, line.period_end) if rec.termination_date else line.period_end
    return max(0, (last - first).days + 1)


# ---------------------------------------------------------------- 1 gross-to-net


@rule(
    code="PAY-GROSS-NET",
    owner_role="associate",
    sla=24 * H,
    priority=2,
    codes=(RuleSpec("PAY-NET-NEGATIVE", "team_lead", 8 * H, "Net pay is negative", priority=1),),
)
def gross_to_net(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """gross - pre-tax deductions - taxes - post-tax deductions = net, to 0.01; earnings add up to gross."""
    line = _emp(item)
    if line is None:
        return
    expected = line.gross - line.pretax_deductions - line.taxes - line.posttax_deductions
    if q2(expected) != q2(line.net):
        yield Violation.quoting(
            "",
            "gross - deductions - taxes = {expected} but net pay is {net}",
            {"expected": _s(expected), "net": _s(line.net)},
            field="employee.net",
            expected=_s(expected),
            actual=_s(line.net),
        )
    if line.base_pay is not None:
        earnings = line.base_pay + line.overtime_pay + line.other_earnings
        if earnings != line.gross:
            yield Violation.quoting(
                "",
                "base + overtime + other earnings = {earnings} but gross is {gross}",
                {"earnings": _s(earnings), "gross": _s(line.gross)},
                field="employee.gross",
                expected=_s(earnings),
                actual=_s(line.gross),
            )
    if line.net < 0:
        yield Violation(
            code="PAY-NET-NEGATIVE",
            message="net pay is negative",
            field="employee.net",
            expected=">= 0",
            actual=_s(line.net),
        )


# ---------------------------------------------------------------- 2 termination / hire


@rule(
    code="PAY-AFTER-TERM",
    owner_role="team_lead",
    sla=8 * H,
    priority=1,
    codes=(RuleSpec("PAY-BEFORE-HIRE", "team_lead", 8 * H, "Paid before the hire date", priority=1),),
)
def employment_dates(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Paid after termination (for a period starting after it) or before the hire date."""
    line = _emp(item)
    if line is None:
        return
    rec = ctx.hr.get(line.employee_id)
    if rec is None:
        return
    term = rec.termination_date
    if term is not None and line.pay_date > term:
        start = line.period_start or line.pay_date
        if start > term:  # a final pay for the period the employee left in is normal
            yield Violation(
                code="PAY-AFTER-TERM",
                message=f"paid on {line.pay_date} for a period starting {start}; terminated {term}",
                field="employee.pay_date",
                expected=f"<= {term}",
                actual=str(line.pay_date),
            )
    if line.pay_date < rec.hire_date:
        yield Violation(
            code="PAY-BEFORE-HIRE",
            message=f"paid on {line.pay_date}, before the hire date {rec.hire_date}",
            field="employee.pay_date",
            expected=f">= {rec.hire_date}",
            actual=str(line.pay_date),
        )


# ---------------------------------------------------------------- 3 ghosts


@rule(
    code="PAY-GHOST",
    owner_role="approver",
    sla=4 * H,
    priority=1,
    approver_only=True,
    codes=(
        RuleSpec("PAY-GHOST-VENDOR", "approver", 4 * H, "Employee bank account equals a vendor's", True, 1),
        RuleSpec("PAY-UNKNOWN-EMPLOYEE", "approver", 4 * H, "Paid employee not in the HR master", True, 1),
    ),
)
def ghost_employee(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Same bank account, address or national ID on different employee ids; account equal to a vendor's."""
    line = _emp(item)
    if line is None:
        return
    eid = line.employee_id
    rec = ctx.hr.get(eid)
    if rec is None:
        yield Violation(
            code="PAY-UNKNOWN-EMPLOYEE",
            message=f"employee {eid} is paid but is not in the HR master",
            field="employee.employee_id",
            expected="an employee of the HR master",
            actual=eid,
        )
    accounts = {compact_account(line.bank_account)} if line.bank_account else set()
    if rec is not None and rec.bank_account:
        accounts.add(rec.bank_account)
    accounts |= {compact_account(p.account) for p in ctx.payments.get(eid, ()) if p.account}
    accounts.discard("")
    for acct in sorted(accounts):
        owners = ctx.account_owners.get(acct)  # only shared accounts are there: most rows find none
        others = sorted(owners - {eid}) if owners else []
        if others:
            yield Violation(
                code="",
                message=f"bank account {mask_account(acct)} is also the account of {', '.join(others)}",
                field="employee.bank_account",
                expected="an account of this employee only",
                actual=mask_account(acct),
            )
        vendor = ctx.vendor_accounts.get(acct)
        if vendor:
            yield Violation(
                code="PAY-GHOST-VENDOR",
                message=f"bank account {mask_account(acct)} belongs to vendor {vendor}",
                field="employee.bank_account",
                expected="not a vendor's account",
                actual=mask_account(acct),
            )
    owners = ctx.address_owners.get(eid)
    others = sorted(owners - {eid}) if owners else []
    if others:
        yield Violation(
            code="",
            message=f"home address is also the address of {', '.join(others)}",
            field="employee.address",
            expected="unique",
            actual=f"shared with {len(others)}",
        )
    owners = ctx.national_id_owners.get(eid)
    others = sorted(owners - {eid}) if owners else []
    if others:
        yield Violation(
            code="",
            message=f"national ID is also recorded for {', '.join(others)}",
            field="employee.national_id",
            expected="unique",
            actual=f"shared with {len(others)}",
        )


# ---------------------------------------------------------------- 4 salary


@rule(
    code="PAY-SALARY",
    owner_role="associate",
    sla=24 * H,
    priority=2,
    codes=(
        RuleSpec(
            "PAY-RAISE-UNAPPROVED", "approver", 24 * H, "Pay rate changed > 10% without approval", True, 2
        ),
    ),
)
def salary_matches_master(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Pay differs from the HR master salary for the period; a rate change above 10 % needs an approval."""
    line = _emp(item)
    if line is None:
        return
    rec = ctx.hr.get(line.employee_id)
    if rec is None:
        return
    tol = ctx.params.cent
    pay_type = rec.pay_type or line.pay_type
    if rec.pay_type and line.pay_type and rec.pay_type != line.pay_type:
        yield Violation(
            code="",
            message="pay type differs from the HR master",
            field="employee.pay_type",
            expected=rec.pay_type,
            actual=line.pay_type,
        )
    master_rate = rec.annual_salary if pay_type == "salaried" else rec.hourly_rate
    if master_rate is not None and line.rate is not None and line.rate != master_rate:
        yield Violation.quoting(
            "",
            "pay rate {rate} differs from the HR master's {master}",
            {"rate": str(line.rate), "master": str(master_rate)},
            field="employee.rate",
            expected=str(master_rate),
            actual=str(line.rate),
        )
    days = _employed_days(line, ctx)
    if master_rate is not None and line.base_pay is not None and days:
        if pay_type == "salaried" and line.period_start and line.period_end:
            period_days = (line.period_end - line.period_start).days + 1
            expected = q2(master_rate / 12 * days / period_days)
            basis = "{rate}/12" + (f" x {days}/{period_days} days" if days != period_days else "")
        else:
            expected = q2(line.regular_hours * master_rate)
            basis = f"{line.regular_hours} h x {{rate}}"
        if abs(expected - line.base_pay) > tol:
            yield Violation.quoting(
                "",
                "base pay {base} differs from the HR master (" + basis + " = {expected})",
                {"base": _s(line.base_pay), "rate": str(master_rate), "expected": _s(expected)},
                field="employee.base_pay",
                expected=_s(expected),
                actual=_s(line.base_pay),
            )
    # raise check against the previous period's rate
    if ctx.previous is None:
        return
    prev = ctx.previous.get(line.employee_id)
    current = line.rate if line.rate is not None else master_rate
    if prev is None or prev.rate is None or not prev.rate or current is None:
        return
    change = (current - prev.rate) / prev.rate * 100
    if abs(change) > ctx.params.raise_pct and not (rec.salary_change_approval or "").strip():
        yield Violation.quoting(
            "PAY-RAISE-UNAPPROVED",
            "pay rate changed {change} ({before} -> {after}) with no recorded approval",
            {"change": f"{change:+.1f}%", "before": str(prev.rate), "after": str(current)},
            field="employee.rate",
            expected=f"change <= {ctx.params.raise_pct}% or an approval",
            actual=f"{change:+.1f}%",
        )


# ---------------------------------------------------------------- 5 hours


@rule(
    code="PAY-HOURS",
    owner_role="associate",
    sla=24 * H,
    priority=3,
    codes=(RuleSpec("PAY-OVERTIME", "associate", 24 * H, "Overtime paid below 1.5x", priority=2),),
)
def hours_and_overtime(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Timesheet hours equal paid hours; overtime (over 40 h a week) paid at least 1.5x."""
    line = _emp(item)
    if line is None:
        return
    rec = ctx.hr.get(line.employee_id)
    pay_type = (rec.pay_type if rec else None) or line.pay_type
    if pay_type != "hourly":
        return
    paid = line.regular_hours + line.overtime_hours
    if ctx.timesheets is not None:
        ts = ctx.timesheets.get(line.employee_id)
        if ts is None:
            if paid > 0:
                yield Violation(
                    code="",
                    message=f"{paid} hours paid but no timesheet",
                    field="employee.regular_hours",
                    expected="0",
                    actual=str(paid),
                )
        else:
            if paid != ts.total:
                yield Violation(
                    code="",
                    message=f"{paid} hours paid, timesheets show {ts.total}",
                    field="employee.regular_hours",
                    expected=str(ts.total),
                    actual=str(paid),
                )
            elif line.overtime_hours != ts.overtime:
                yield Violation(
                    code="",
                    message=f"{line.overtime_hours} overtime hours paid, timesheets show {ts.overtime} over "
                    f"{ctx.params.weekly_hours} h a week",
                    field="employee.overtime_hours",
                    expected=str(ts.overtime),
                    actual=str(line.overtime_hours),
                )
    rate = (rec.hourly_rate if rec else None) or line.rate
    if line.overtime_hours > 0 and rate is not None:
        minimum = q2(line.overtime_hours * rate * ctx.params.overtime_multiplier)
        if line.overtime_pay < minimum - ctx.params.cent:
            yield Violation.quoting(
                "PAY-OVERTIME",
                f"{line.overtime_hours} overtime hours paid {{paid}}; at least "
                f"{ctx.params.overtime_multiplier}x {{rate}} = {{minimum}}",
                {"paid": _s(line.overtime_pay), "rate": str(rate), "minimum": _s(minimum)},
                field="employee.overtime_pay",
                expected=_s(minimum),
                actual=_s(line.overtime_pay),
            )


# ---------------------------------------------------------------- 6 period variance, headcount


@rule(code="PAY-DEPT-VARIANCE", owner_role="team_lead", sla=48 * H, priority=3)
def department_variance(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """A department's gross moved more than 5 % from the previous period."""
    dep = item.department if item.kind == "department" else None
    if dep is None or ctx.previous is None:
        return
    if not dep.previous_gross:
        yield Violation(
            code="",
            message=f"department {dep.department!r} had no pay in the previous period",
            field="department.gross",
            expected="0",
            actual=_s(dep.gross),
        )
        return
    pct = (dep.gross - dep.previous_gross) / dep.previous_gross * 100
    if abs(pct) > ctx.params.department_variance_pct:
        yield Violation(
            code="",
            message=f"department {dep.department!r} gross moved {pct:+.1f}% "
            f"({_s(dep.previous_gross)} -> {_s(dep.gross)}; headcount {dep.previous_headcount} -> {dep.headcount})",
            field="department.gross",
            expected=f"within {ctx.params.department_variance_pct}% of {_s(dep.previous_gross)}",
            actual=f"{pct:+.1f}%",
        )


@rule(code="PAY-HEADCOUNT", owner_role="team_lead", sla=24 * H, priority=2)
def headcount(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Headcount change explained by hires and terminations (per employee and for the whole payroll)."""
    if ctx.previous is None:
        return
    line = _emp(item)
    if line is not None:
        rec = ctx.hr.get(line.employee_id)
        if rec is None or line.employee_id in ctx.previous:
            return
        start = line.period_start or line.pay_date
        end = line.period_end or line.pay_date
        if rec.hire_date < start:
            yield Violation(
                code="",
                message=f"new in this register but not in the previous one, though hired {rec.hire_date}",
                field="employee.employee_id",
                expected=f"hire date in {start}..{end}",
                actual=str(rec.hire_date),
            )
        return
    ctl = item.control if item.kind == "control" else None
    if ctl is None or ctl.name != "headcount":
        return
    for eid in ctl.ids.get("unexplained_leavers", []):
        yield Violation(
            code="",
            message=f"{eid} was paid last period, is not paid now and has no termination date in the HR master",
            field="control.ids.unexplained_leavers",
            expected="a termination date",
            actual=eid,
        )


# ---------------------------------------------------------------- 7 bank payment file


def _iban_or_none(account: str, ctx: PayrollContext) -> str | None:
    """An IBAN's problem, or None for a valid IBAN or a non-IBAN account (e.g. a US DFI account)."""
    if len(account) < 5 or not account[:2].isalpha():
        return None
    return ctx.iban_problem(account)


@rule(
    code="PAY-BANK-MISSING",
    owner_role="team_lead",
    sla=4 * H,
    priority=1,
    codes=(
        RuleSpec("PAY-BANK-DUPLICATE", "approver", 4 * H, "Employee paid more than once", True, 1),
        RuleSpec("PAY-BANK-AMOUNT", "team_lead", 4 * H, "Payment differs from net pay", priority=1),
        RuleSpec("PAY-BANK-ACCOUNT", "approver", 4 * H, "Paid to an account not in the HR master", True, 1),
        RuleSpec("PAY-IBAN", "associate", 4 * H, "IBAN fails mod-97", priority=1),
    ),
)
def register_vs_payments(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """One payment per employee, equal to net pay, to the HR master's account (IBAN mod-97 valid)."""
    line = _emp(item)
    if line is None:
        return
    rec = ctx.hr.get(line.employee_id)
    master = rec.bank_account if rec else None
    checked: set[str] = set()
    for acct in filter(None, [master, compact_account(line.bank_account)]):
        problem = _iban_or_none(acct, ctx)
        if problem and acct not in checked:
            checked.add(acct)
            yield Violation(
                code="PAY-IBAN",
                message=f"IBAN {mask_account(acct)}: {problem}",
                field="employee.bank_account",
                expected="a valid IBAN",
                actual=mask_account(acct),
            )
    if master and line.bank_account and compact_account(line.bank_account) != master:
        yield Violation(
            code="PAY-BANK-ACCOUNT",
            message="the register's bank account differs from the HR master's",
            field="employee.bank_account",
            expected=mask_account(master),
            actual=mask_account(line.bank_account),
        )
    if ctx.payment_file is None:
        return
    pays = ctx.payments.get(line.employee_id, [])
    if not pays:
        if line.net > 0:
            yield Violation.quoting(
                "",
                "no payment in the bank file for net pay {net}",
                {"net": _s(line.net)},
                field="employee.net",
                expected=_s(line.net),
                actual=None,
            )
        return
    if len(pays) > 1:
        yield Violation.quoting(
            "PAY-BANK-DUPLICATE",
            f"{len(pays)} payments in the bank file ({', '.join(p.locator for p in pays)}) totalling {{total}}",
            {"total": _s(sum((p.amount for p in pays), ZERO))},
            field="employee.net",
            expected="1 payment",
            actual=f"{len(pays)} payments",
        )
    elif pays[0].amount != line.net:
        yield Violation.quoting(
            "PAY-BANK-AMOUNT",
            f"bank file pays {{paid}} ({pays[0].locator}), net pay is {{net}}",
            {"paid": _s(pays[0].amount), "net": _s(line.net)},
            field="employee.net",
            expected=_s(line.net),
            actual=_s(pays[0].amount),
        )
    nacha = ctx.payment_file.format == "nacha"  # NACHA carries a 17-digit DFI account, not an IBAN
    for p in pays:
        acct = compact_account(p.account)
        if master and acct and acct != master and not nacha:
            yield Violation(
                code="PAY-BANK-ACCOUNT",
                message=f"bank file pays {mask_account(acct)} ({p.locator}); the HR master has {mask_account(master)}",
                field="employee.bank_account",
                expected=mask_account(master),
                actual=mask_account(acct),
            )
        problem = _iban_or_none(acct, ctx) if acct and acct not in checked and not nacha else None
        if problem:
            checked.add(acct)
            yield Violation(
                code="PAY-IBAN",
                message=f"bank file IBAN {mask_account(acct)} ({p.locator}): {problem}",
                field="employee.bank_account",
                expected="a valid IBAN",
                actual=mask_account(acct),
            )


@rule(
    code="PAY-BANK-CONTROL",
    owner_role="team_lead",
    sla=4 * H,
    priority=1,
    codes=(RuleSpec("PAY-BANK-UNKNOWN", "approver", 4 * H, "Payment to nobody in the register", True, 1),),
)
def bank_file_controls(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Counts and control sums of the bank file equal its payments (pain.001 NbOfTxs/CtrlSum, NACHA
    batch/file totals and entry hash); every payment belongs to an employee of the register."""
    ctl = item.control if item.kind == "control" else None
    if ctl is None or ctl.name != "bank-file":
        return
    for problem in ctl.problems:
        yield Violation(code="", message=problem, field="control.problems")
    for ref in ctl.ids.get("unknown_payments", []):
        yield Violation(
            code="PAY-BANK-UNKNOWN",
            message=f"payment {ref} is for nobody in this payroll register",
            field="control.ids.unknown_payments",
            expected="an employee of the register",
            actual=ref,
        )


# ---------------------------------------------------------------- 8 bank statement


@rule(
    code="PAY-STMT-MISSING",
    owner_role="associate",
    sla=24 * H,
    priority=2,
    codes=(
        RuleSpec("PAY-STMT-AMOUNT", "associate", 24 * H, "Booked amount differs from payment", priority=2),
    ),
)
def register_vs_statement(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Every payment booked on the statement (matched by end-to-end id) for the amount paid."""
    line = _emp(item)
    if line is None or ctx.booked is None:
        return
    pays = ctx.payments.get(line.employee_id, [])
    by_ref: dict[str, Decimal] = {}
    for p in pays:
        by_ref[p.end_to_end_id] = by_ref.get(p.end_to_end_id, ZERO) + p.amount
    for ref, paid in by_ref.items():
        booked = ctx.booked.get(ref)
        if booked is None:
            yield Violation.quoting(
                "",
                f"payment {ref} of {{paid}} is not booked on the bank statement",
                {"paid": _s(paid)},
                field="employee.net",
                expected=_s(paid),
                actual=None,
            )
        elif booked != paid:
            yield Violation.quoting(
                "PAY-STMT-AMOUNT",
                f"statement books {{booked}} for payment {ref}, the bank file paid {{paid}}",
                {"booked": _s(booked), "paid": _s(paid)},
                field="employee.net",
                expected=_s(paid),
                actual=_s(booked),
            )


@rule(code="PAY-STMT-BALANCE", owner_role="team_lead", sla=24 * H, priority=2)
def statement_balance(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Opening + credits - debits = closing on the bank statement. A statement whose booked opening
    or closing balance is missing (camt.053 without CLBD or OPBD) is not skipped quietly: that is
    a break naming the file and why (the reader's warnings). The reader's other warnings (lenient
    readings such as an impossible date read as the month's last day) are recorded with the
    control, not blocking."""
    ctl = item.control if item.kind == "control" else None
    if ctl is None or ctl.name != "statement":
        return
    f = ctl.figures
    opening, closing = f.get("opening"), f.get("closing")
    credits, debits = f.get("credits") or ZERO, f.get("debits") or ZERO
    if opening is None or closing is None:
        missing = " and ".join(n for n, v in (("opening", opening), ("closing", closing)) if v is None)
        ids = ", ".join(repr(i) for i in ctl.ids.get("statement", []))
        what = f"statement {ids} in {ctl.source}" if ids else f"the statement in {ctl.source}"
        why = "; ".join(ctl.problems) or f"the file has no booked {missing} balance"
        yield Violation(
            code="",
            message=f"{what}: its balance cannot be checked (no booked {missing} balance): {why}",
            field=f"control.figures.{'closing' if closing is None else 'opening'}",
            expected=f"a booked {missing} balance",
            actual=None,
        )
        return
    for problem in ctl.problems:
        yield Violation(
            code="",
            message=f"{ctl.source}: the bank-statement reader warned: {problem}",
            field="control.problems",
            severity="info",
        )
    expected = Decimal(opening) + Decimal(credits) - Decimal(debits)
    if expected != closing:
        yield Violation(
            code="",
            message=f"opening {opening} + credits {credits} - debits {debits} = {_s(expected)}, "
            f"but the closing balance is {closing}",
            field="control.figures.closing",
            expected=_s(expected),
            actual=str(closing),
        )


# ---------------------------------------------------------------- 9 general ledger


@rule(
    code="PAY-GL-GROSS",
    owner_role="associate",
    sla=48 * H,
    priority=3,
    codes=(
        RuleSpec("PAY-GL-LIAB", "associate", 48 * H, "GL liabilities do not tie to the register", priority=3),
    ),
)
def register_vs_ledger(item: PayrollItem, ctx: PayrollContext) -> Iterator[Violation]:
    """Register gross and liabilities (taxes, deductions, net pay) tie to the general ledger."""
    ctl = item.control if item.kind == "control" else None
    if ctl is None or ctl.name != "gl":
        return
    f = ctl.figures
    for cat in ("gross", "taxes", "deductions", "net"):
        reg, led = f.get(f"register_{cat}"), f.get(f"gl_{cat}")
        if reg is None:
            continue
        code = "PAY-GL-GROSS" if cat == "gross" else "PAY-GL-LIAB"
        if led is None:
            yield Violation(
                code=code,
                message=f"no {cat} line in the general ledger",
                field=f"control.figures.gl_{cat}",
                expected=str(reg),
            )
        elif abs(Decimal(reg) - Decimal(led)) > ctx.params.cent:
            yield Violation(
                code=code,
                message=f"register {cat} {reg} vs general ledger {led} (difference {_s(Decimal(led) - Decimal(reg))})",
                field=f"control.figures.gl_{cat}",
                expected=str(reg),
                actual=str(led),
            )


ALL: list[Rule] = [
    gross_to_net,
    employment_dates,
    ghost_employee,
    salary_matches_master,
    hours_and_overtime,
    department_variance,
    headcount,
    register_vs_payments,
    bank_file_controls,
    register_vs_statement,
    statement_balance,
    register_vs_ledger,
]


def payroll_rules(params: Params) -> RuleSet:
    """The payroll rule set, versioned with ``params`` (the tolerances the bot runs with) and the
    code the rules' decisions depend on besides this module: the look-ups and their matching
    helpers (``context``), the item models (``models``), how the items are built from the files
    (``reading``), the IBAN check and the money rounding."""
    return RuleSet(
        "payroll-reconciliation",
        ALL,
        params=params,
        depends_on=[context, models, reading, iban_problem.__module__, q2.__module__],
    )


RULES = payroll_rules(Params())
"""The rule set with the DOMAIN.md default tolerances (what ``PayrollReconciliationBot()`` runs)."""
