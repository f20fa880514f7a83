"""The look-ups stay small at 200k employees: repeated timesheets, employee ids, accounts and
amounts are one object each, and read as they were written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bots.payroll_reconciliation.context import Params, load_context, load_hr, load_timesheets

HR = (
    "employee_id,name,national_id,address,bank_account,department,pay_type,hire_date,termination_date,"
    "annual_salary,hourly_rate,salary_change_date,salary_change_approval\n"
    "E1,A,1,Street 1,DE89370400440532013000,Ops,hourly,2020-01-01,,,20,,\n"
    "E2,B,2,Street 2,DE02120300000000202051,Ops,hourly,2020-01-01,,,20,,\n"
    "E3,C,3,Street 3,DE02500105170137075030,Ops,hourly,2020-01-01,,,20,,\n"
)


def test_equal_timesheets_share_their_hours_and_keep_their_sums(tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(HR, encoding="utf-8")
    ts_file = tmp_path / "ts.csv"
    ts_file.write_text(
        "employee_id,week_start,hours\n"
        "E1,2024-01-01,42\nE1,2024-01-08,40.0\n"
        "E2,2024-01-01,42\nE2,2024-01-08,40.0\n"
        "E3,2024-01-08,40.0\nE3,2024-01-01,42\n"  # the same weeks in another order: its own Hours
        "E9,2024-01-01,10\n",  # not in the HR master
        encoding="utf-8",
    )
    hr, _, _ = load_hr(str(tmp_path / "hr.csv"))
    ts = load_timesheets(str(ts_file), Params(), hr)
    assert ts["E1"] is ts["E2"] and ts["E3"] is not ts["E1"]
    assert (str(ts["E1"].total), str(ts["E1"].overtime), ts["E1"].weeks) == ("82.0", "2.0", 2)
    assert [(w, str(h), str(o)) for w, h, o in ts["E3"].lines] == [
        ("2024-01-08", "40.0", "0.0"),
        ("2024-01-01", "42", "2"),
    ]
    assert (str(ts["E3"].total), str(ts["E3"].overtime)) == ("82.0", "2.0")
    assert str(ts["E9"].total) == "10" and list(ts) == ["E1", "E2", "E3", "E9"]
    hr_ids = {eid: eid for eid in hr}
    assert all(k is hr_ids[k] for k in ts if k in hr_ids)  # the HR master's own id strings
    assert load_timesheets(str(ts_file), Params())["E1"].total == Decimal("82")  # without an HR master


def test_payments_share_ids_accounts_and_amounts(tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(HR, encoding="utf-8")
    txs = "".join(
        f"<CdtTrfTxInf><PmtId><EndToEndId>SAL-{eid}</EndToEndId></PmtId>"
        f'<Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt><Cdtr><Nm>{eid}</Nm></Cdtr>'
        f"<CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct></CdtTrfTxInf>"
        for eid, amount, iban in (
            ("E1", "100.00", "DE89370400440532013000"),
            ("E2", "100.00", "DE02120300000000202051"),
            ("E3", "100.0", "DE02 5001 0517 0137 0750 30"),
        )
    )
    (tmp_path / "pain.xml").write_text(
        '<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">'
        "<CstmrCdtTrfInitn><GrpHdr><MsgId>M</MsgId><NbOfTxs>3</NbOfTxs><CtrlSum>300.00</CtrlSum></GrpHdr>"
        f"<PmtInf><PmtInfId>P</PmtInfId><NbOfTxs>3</NbOfTxs>{txs}</PmtInf></CstmrCdtTrfInitn></Document>",
        encoding="utf-8",
    )
    ctx = load_context({"hr": str(tmp_path / "hr.csv"), "bank_file": str(tmp_path / "pain.xml")})
    (p1,), (p2,), (p3,) = (ctx.payments[e] for e in ("E1", "E2", "E3"))
    assert p1.amount is p2.amount and str(p3.amount) == "100.0"  # 100.0 is its own amount, as written
    assert p1.account is ctx.hr["E1"].bank_account and p3.account == "DE02500105170137075030"
    hr_ids = {eid: eid for eid in ctx.hr}
    assert all(k is hr_ids[k] for k in ctx.payments)
    assert ctx.payment_file is not None and ctx.payment_file.control_problems() == []
