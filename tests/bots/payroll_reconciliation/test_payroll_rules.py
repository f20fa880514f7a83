"""The payroll rules as pure functions: edge cases the fixture does not plant."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bots.payroll_reconciliation.context import Hours, HRRecord, Params, PayrollContext, PrevLine
from bots.payroll_reconciliation.models import ControlCheck, PayLine, PayrollItem
from bots.payroll_reconciliation.rules import RULES
from connectors.bankfiles import Payment, PaymentFile

D = Decimal


def hr(eid: str = "E1", **kw: object) -> HRRecord:
    base: dict[str, object] = {
        "employee_id": eid,
        "bank_account": "DE89370400440532013000",
        "department": "Sales",
        "pay_type": "salaried",
        "hire_date": date(2020, 1, 1),
        "termination_date": None,
        "annual_salary": D("60000"),
        "hourly_rate": None,
        "salary_change_approval": None,
        "row": 2,
    }
    base.update(kw)
    return HRRecord(**base)  # type: ignore[arg-type]


def line(**kw: object) -> PayrollItem:
    base: dict[str, object] = {
        "employee_id": "E1",
        "pay_type": "salaried",
        "pay_date": date(2024, 1, 31),
        "period_start": date(2024, 1, 1),
        "period_end": date(2024, 1, 31),
        "rate": D("60000"),
        "base_pay": D("5000.00"),
        "gross": D("5000.00"),
        "pretax_deductions": D("250.00"),
        "taxes": D("1000.00"),
        "posttax_deductions": D("0"),
        "net": D("3750.00"),
        "bank_account": "DE89370400440532013000",
    }
    base.update(kw)
    return PayrollItem(kind="employee", employee=PayLine.model_validate(base))


def ctx(*records: HRRecord, **kw: object) -> PayrollContext:
    c = PayrollContext(params=Params(), hr={r.employee_id: r for r in records or (hr(),)}, hr_file="hr.csv")
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def codes(item: PayrollItem, c: PayrollContext) -> list[str]:
    return sorted(v.code for v in RULES.check(item, c))


def test_a_clean_line_passes_every_rule() -> None:
    assert codes(line(), ctx()) == []


def test_net_to_the_cent_and_never_negative() -> None:
    assert codes(line(net=D("3750.01")), ctx()) == ["PAY-GROSS-NET"]
    neg = line(gross=D("100"), base_pay=D("100"), pretax_deductions=D("0"), taxes=D("150"), net=D("-50"))
    assert "PAY-NET-NEGATIVE" in codes(neg, ctx())
    assert codes(line(base_pay=D("4000.00")), ctx()) == ["PAY-GROSS-NET", "PAY-SALARY"]


def test_final_pay_in_the_leaving_period_is_not_after_termination() -> None:
    leaver = hr(termination_date=date(2024, 1, 15))
    prorated = D("60000") / 12 * 15 / 31
    item = line(
        base_pay=prorated.quantize(D("0.01")),
        gross=prorated.quantize(D("0.01")),
        pretax_deductions=D(0),
        taxes=D(0),
        net=prorated.quantize(D("0.01")),
    )
    assert codes(item, ctx(leaver)) == []
    gone = hr(termination_date=date(2023, 11, 30))
    assert codes(line(), ctx(gone)) == ["PAY-AFTER-TERM"]


def test_unknown_employee_and_shared_national_id() -> None:
    assert codes(line(employee_id="E9"), ctx()) == ["PAY-UNKNOWN-EMPLOYEE"]
    c = ctx(hr("E1"), hr("E2", bank_account="DE85500105175432112349"))
    c.national_id_owners = {"E1": {"E1", "E2"}, "E2": {"E1", "E2"}}
    found = RULES.check(line(), c)
    assert [v.code for v in found] == ["PAY-GHOST"] and found[0].field == "employee.national_id"


def test_raise_needs_approval_only_above_ten_percent() -> None:
    prev = {"E1": PrevLine(rate=D("55000"), department="Sales", gross=D("4583.33"))}
    assert codes(line(), ctx(previous=prev)) == []  # +9.1 %
    prev = {"E1": PrevLine(rate=D("50000"), department="Sales", gross=D("4166.67"))}
    assert codes(line(), ctx(previous=prev)) == ["PAY-RAISE-UNAPPROVED"]  # +20 %
    assert codes(line(), ctx(hr(salary_change_approval="HR-42"), previous=prev)) == []


def test_hourly_overtime_at_one_and_a_half() -> None:
    rec = hr(pay_type="hourly", annual_salary=None, hourly_rate=D("20"))
    ts = {"E1": Hours(total=D("168"), overtime=D("8"), weeks=4)}
    ok = line(
        pay_type="hourly",
        rate=D("20"),
        regular_hours=D("160"),
        overtime_hours=D("8"),
        base_pay=D("3200.00"),
        overtime_pay=D("240.00"),
        gross=D("3440.00"),
        pretax_deductions=D(0),
        taxes=D(0),
        net=D("3440.00"),
    )
    assert codes(ok, ctx(rec, timesheets=ts)) == []
    under = ok.model_copy(deep=True)
    assert under.employee is not None
    under.employee.overtime_pay, under.employee.gross, under.employee.net = (
        D("239.98"),
        D("3439.98"),
        D("3439.98"),
    )
    assert codes(under, ctx(rec, timesheets=ts)) == ["PAY-OVERTIME"]
    assert codes(ok, ctx(rec, timesheets={})) == ["PAY-HOURS"]  # paid hours without a timesheet


def test_bank_file_rules() -> None:
    pf = PaymentFile("pain.001", "pay.xml")
    pay = Payment(
        "SAL-E1", "A", "DE89370400440532013000", D("3750.00"), employee_id="E1", locator="CdtTrfTxInf[1]"
    )
    assert codes(line(), ctx(payment_file=pf, payments={"E1": [pay]})) == []
    assert codes(line(), ctx(payment_file=pf, payments={})) == ["PAY-BANK-MISSING"]
    assert codes(line(net=D("3750.00")), ctx(payment_file=pf, payments={"E1": [pay, pay]})) == [
        "PAY-BANK-DUPLICATE"
    ]
    other = Payment("SAL-E1", "A", "DE85500105175432112349", D("3750.00"), employee_id="E1")
    assert codes(line(), ctx(payment_file=pf, payments={"E1": [other]})) == ["PAY-BANK-ACCOUNT"]
    bad = hr(bank_account="DE89370400440532013001")
    assert codes(line(bank_account=None), ctx(bad)) == ["PAY-IBAN"]


def test_a_statement_balance_the_reader_could_not_check_is_a_break_not_a_skip() -> None:
    """camt.053 without a booked closing balance: the reader warns (CAMT-NO-CLBD); the balance
    rule names the file, the statement and why, instead of passing the control silently."""
    warning = "CAMT-NO-CLBD: statement 'S1' has no booked closing balance (CLBD): its balance is not checked"
    stmt = PayrollItem(
        kind="control",
        control=ControlCheck(
            name="statement",
            source="statement.xml",
            figures={"opening": D("100"), "credits": D("10"), "debits": D("30"), "closing": None},
            problems=[warning],
            ids={"statement": ["S1"]},
        ),
    )
    (v,) = RULES.check(stmt, ctx())
    assert v.code == "PAY-STMT-BALANCE" and v.blocking
    assert v.field == "control.figures.closing"
    assert v.message == (
        "statement 'S1' in statement.xml: its balance cannot be checked (no booked closing balance): "
        + warning
    )
    assert stmt.control is not None
    stmt.control.figures["opening"] = None  # and no opening either, and no warning to quote
    stmt.control.problems = []
    (v,) = RULES.check(stmt, ctx())
    assert v.field == "control.figures.closing" and v.blocking
    assert "no booked opening and closing balance" in v.message and "statement.xml" in v.message


def test_a_statement_reader_warning_that_disables_nothing_is_recorded_not_blocking() -> None:
    stmt = PayrollItem(
        kind="control",
        control=ControlCheck(
            name="statement",
            source="stmt.sta",
            figures={"opening": D("100"), "credits": D("10"), "debits": D("30"), "closing": D("80")},
            problems=["MT940-DATE-ADJUSTED: impossible date '240230' read as 2024-02-29 (line 7)"],
        ),
    )
    (v,) = RULES.check(stmt, ctx())
    assert v.code == "PAY-STMT-BALANCE" and not v.blocking
    assert v.message == (
        "stmt.sta: the bank-statement reader warned: "
        "MT940-DATE-ADJUSTED: impossible date '240230' read as 2024-02-29 (line 7)"
    )


def test_statement_and_gl_controls() -> None:
    stmt = PayrollItem(
        kind="control",
        control=ControlCheck(
            name="statement",
            figures={"opening": D("100"), "credits": D("10"), "debits": D("30"), "closing": D("80")},
        ),
    )
    assert codes(stmt, ctx()) == []
    assert stmt.control is not None
    stmt.control.figures["closing"] = D("81")
    assert codes(stmt, ctx()) == ["PAY-STMT-BALANCE"]
    gl = PayrollItem(
        kind="control",
        control=ControlCheck(
            name="gl",
            figures={
                "register_gross": D("10"),
                "gl_gross": D("10.01"),
                "register_net": D("5"),
                "gl_net": D("5.02"),
                "register_taxes": D("2"),
            },
        ),
    )
    assert codes(gl, ctx()) == ["PAY-GL-LIAB", "PAY-GL-LIAB"]  # gross within 0.01; net off; no taxes line


def test_rule_set_is_versioned() -> None:
    assert RULES.version.startswith("payroll-reconciliation@")
    assert RULES.codes()["PAY-GHOST"].approver_only and RULES.codes()["PAY-BANK-ACCOUNT"].approver_only


def test_timesheet_lines_are_shared_but_read_as_written(tmp_path) -> None:
    """Equal lines of different employees are one tuple (the look-ups stay small at 200k
    employees); 42 and 42.0 hours stay apart, each with its own overtime as written."""
    from bots.payroll_reconciliation.context import load_timesheets

    f = tmp_path / "ts.csv"
    f.write_text(
        "employee_id,week_start,hours\nE1,2024-01-01,42\nE2,2024-01-01,42\nE3,2024-01-01,42.0\n"
        "E1,2024-01-08,38\n",
        encoding="utf-8",
    )
    ts = load_timesheets(str(f), Params())
    assert ts["E1"].lines[0] is ts["E2"].lines[0]
    assert [(w, str(h), str(o)) for w, h, o in ts["E1"].lines] == [
        ("2024-01-01", "42", "2"),
        ("2024-01-08", "38", "0"),
    ]
    assert [(w, str(h), str(o)) for w, h, o in ts["E3"].lines] == [("2024-01-01", "42.0", "2.0")]
    assert (str(ts["E1"].total), str(ts["E1"].overtime), ts["E1"].weeks) == ("80", "2", 2)
