"""File-level controls: bank file totals, statement balance, GL tie, headcount, department variance, NACHA."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from backoffice.runner import run_bot
from backoffice.schema import items
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from connectors.bankfiles import read_camt053, read_pain001
from fixtures.bankfiles_writers import write_camt053, write_nacha
from tests.bots.payroll_reconciliation.helpers import BOT, codes_by_subject


def run(store: Store, inputs: dict[str, Any]) -> dict[str, set[str]]:
    run_bot(PayrollReconciliationBot(), inputs, store=store)
    return codes_by_subject(store)


def test_gl_that_does_not_tie(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    gl = Path(payroll_inputs["gl"])
    rows = list(csv.reader(gl.open()))
    rows[1][3] = str(Decimal(rows[1][3]) + Decimal("1000.00"))  # gross
    rows[3][3] = str(Decimal(rows[3][3]) - Decimal("0.05"))  # deductions payable
    with gl.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    got = run(bo_store, payroll_inputs)
    assert got["control:gl"] == {"PAY-GL-GROSS", "PAY-GL-LIAB"}


def test_pain001_header_that_lies(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    f = Path(payroll_inputs["bank_file"])
    text = f.read_text()
    start = text.index("<NbOfTxs>")
    end = text.index("</NbOfTxs>")
    f.write_text(text[: start + 9] + "999" + text[end:])
    got = run(bo_store, payroll_inputs)
    assert got["control:bank-file"] == {"PAY-BANK-CONTROL"}


def test_payment_for_nobody_in_the_register(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    f = Path(payroll_inputs["bank_file"])
    pf = read_pain001(f)
    stranger = replace(pf.payments[0], end_to_end_id="SAL202401-X99999", name="Somebody Else")
    text = f.read_text()
    tx = text[text.index("<CdtTrfTxInf>") : text.index("</CdtTrfTxInf>") + len("</CdtTrfTxInf>")]
    f.write_text(
        text.replace(tx, tx + "\n" + tx.replace(pf.payments[0].end_to_end_id, stranger.end_to_end_id), 1)
    )
    got = run(bo_store, payroll_inputs)
    # the header no longer matches either: both codes on the bank-file control
    assert got["control:bank-file"] == {"PAY-BANK-UNKNOWN", "PAY-BANK-CONTROL"}


def test_statement_that_does_not_balance(
    bo_store: Store, payroll_inputs: dict[str, Any], tmp_path: Path
) -> None:
    (st,) = read_camt053(payroll_inputs["statement"])
    entries = [(t.amount, t.end_to_end_id, t.partner_name) for _, t in st.transactions()]
    bad = write_camt053(
        tmp_path / "stmt.xml",
        statement_id=st.id,
        account=st.account,
        currency=st.currency,
        opening=st.opening,
        booking_date=date(2024, 1, 31),
        entries=entries,
        closing=st.closing + Decimal("10"),
    )
    payroll_inputs["statement"] = str(bad)
    got = run(bo_store, payroll_inputs)
    assert got["control:statement"] == {"PAY-STMT-BALANCE"}


def test_statement_without_booked_closing_balance_is_queued_naming_file_and_why(
    bo_store: Store, payroll_inputs: dict[str, Any]
) -> None:
    """Issue 12: the camt.053 reader's CAMT-NO-CLBD warning used to leave PAY-STMT-BALANCE
    skipped without a trace; now the statement control is queued and says which file and why."""
    f = Path(payroll_inputs["statement"])
    text = f.read_text()
    assert text.count("<Cd>CLBD</Cd>") == 1
    f.write_text(text.replace("<Cd>CLBD</Cd>", "<Cd>CLAV</Cd>"))  # only the available balance left
    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    with bo_store.read() as conn:
        (row,) = [
            r
            for r in conn.execute(
                select(items.c.status, items.c.payload, items.c.violations).where(items.c.bot == BOT)
            )
            if r.payload.get("control", {}).get("name") == "statement"
        ]
    assert row.status == "open"
    (v,) = row.violations
    assert v["code"] == "PAY-STMT-BALANCE"
    assert v["message"].startswith(
        f"statement {row.payload['control']['ids']['statement'][0]!r} in statement.xml:"
    )
    assert "CAMT-NO-CLBD" in v["message"] and "its closing available balance (CLAV)" in v["message"]
    assert row.payload["control"]["problems"] == [v["message"].split("): ", 1)[1]]


def test_department_variance_and_unexplained_leaver(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    prev = Path(payroll_inputs["previous"])
    wb = load_workbook(prev)
    ws = wb.active
    header = [c.value for c in ws[1]]
    dep, gross, eid = header.index("department"), header.index("gross"), header.index("employee_id")
    for row in ws.iter_rows(min_row=2):
        if row[dep].value == "Warehouse":
            row[gross].value = round(row[gross].value * 1.2, 2)
    extra = [c.value for c in ws[2]]
    extra[eid] = "E99999"
    ws.append(extra)
    wb.save(prev)
    got = run(bo_store, payroll_inputs)
    assert got["department:Warehouse"] == {"PAY-DEPT-VARIANCE"}
    assert got["control:headcount"] == {"PAY-HEADCOUNT"}


def test_nacha_bank_file(
    bo_store: Store, payroll_inputs: dict[str, Any], answer_key: dict[str, Any], tmp_path: Path
) -> None:
    pf = read_pain001(payroll_inputs["bank_file"])
    payments = [
        replace(
            p, routing="021000021", employee_id=p.end_to_end_id.rsplit("-", 1)[-1], end_to_end_id=f"{i:015d}"
        )
        for i, p in enumerate(pf.payments, start=1)
    ]
    ach = write_nacha(
        tmp_path / "payroll.ach",
        payments,
        origin_routing="011000015",
        origin_name="Example Mfg",
        company_id="1234567890",
        destination_routing="021000021",
        destination_name="Chase",
        effective_date=date(2024, 1, 31),
    )
    payroll_inputs["bank_file"] = str(ach)
    del payroll_inputs["statement"]  # NACHA trace numbers are not the pain.001 end-to-end ids
    got = run(bo_store, payroll_inputs)
    expected = {
        eid: set(codes) - {"PAY-BANK-ACCOUNT", "PAY-STMT-MISSING", "PAY-STMT-AMOUNT"}
        for eid, codes in answer_key["expected_codes"].items()
    }
    assert got == {k: v for k, v in expected.items() if v}
