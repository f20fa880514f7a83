"""Bad input: each a clear InputError naming file/sheet/row/column, and nothing half-written."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from backoffice.errors import InputError
from backoffice.runner import run_bot
from backoffice.schema import runs
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from tests.bots.payroll_reconciliation.helpers import codes_by_subject, status_counts


def edit_register(path: str, edits: dict[str, object]) -> None:
    wb = load_workbook(path)
    ws = wb.active
    for cell, value in edits.items():
        ws[cell] = value
    wb.save(path)


def assert_nothing_written(store: Store, inputs: dict[str, Any]) -> None:
    assert status_counts(store) == {}
    assert not Path(inputs["out"]).exists()
    with store.read() as conn:
        assert [r.status for r in conn.execute(select(runs.c.status))] == ["failed"]


def fails(store: Store, inputs: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as ei:
        run_bot(PayrollReconciliationBot(), inputs, store=store)
    assert_nothing_written(store, inputs)
    return ei.value


def test_renamed_register_column(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    edit_register(payroll_inputs["register"], {"R1": "net_payable_amt"})
    err = fails(bo_store, payroll_inputs)
    assert (err.file, err.sheet, err.row, err.column) == (payroll_inputs["register"], "Register", 1, "net")
    assert "missing required column" in str(err) and "net_payable_amt" in str(err)


def test_missing_register_column(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    wb = load_workbook(payroll_inputs["register"])
    wb.active.delete_cols(16)  # taxes
    wb.save(payroll_inputs["register"])
    assert fails(bo_store, payroll_inputs).column == "taxes"


def test_unreadable_rows_are_queued_and_the_rest_reconciled(
    bo_store: Store, payroll_inputs: dict[str, Any], answer_key: dict[str, Any]
) -> None:
    # row 5: text in a money column; row 7: a formula; row 9: a repeated employee id
    wb = load_workbook(payroll_inputs["register"])
    ws = wb.active
    ws["N5"] = "five thousand"
    ws["R7"] = "=N7-O7-P7-Q7"
    ws["A9"] = ws["A8"].value
    wb.save(payroll_inputs["register"])
    summary = run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    assert summary.extra["input_errors"] == 3
    got = codes_by_subject(bo_store)
    inputs = {k: v for k, v in got.items() if v & {"INPUT", "INPUT-DUPLICATE"}}
    assert sorted(c for v in inputs.values() for c in v) == ["INPUT", "INPUT", "INPUT-DUPLICATE"]
    rows = list(load_workbook(payroll_inputs["out"])["Exceptions"].iter_rows(min_row=2, values_only=True))
    messages = [r[6] for r in rows if r[4] in ("INPUT", "INPUT-DUPLICATE")]
    assert any("row 5, column 'gross': expected an amount, got text 'five thousand'" in m for m in messages)
    assert any("row 7, column 'net': formula cell" in m for m in messages)
    assert any(
        "row 9, column 'employee_id': duplicate key" in m and "first seen in row 8" in m for m in messages
    )
    # everyone else still reconciled; the planted breaks are still found
    assert summary.done >= answer_key["employees_in_register"] - len(answer_key["expected_codes"]) - 3


def test_register_that_is_not_a_zip(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    Path(payroll_inputs["register"]).write_text("employee_id,gross\nE1,100\n")
    err = fails(bo_store, payroll_inputs)
    assert err.file == payroll_inputs["register"] and "not a zip" in str(err)


def test_register_zip_bomb(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    with zipfile.ZipFile(payroll_inputs["register"], "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b" " * (30 * 1024 * 1024))
    err = fails(bo_store, payroll_inputs)
    assert "zip bomb" in str(err) and "sheet1.xml" in str(err)


def test_hr_master_renamed_column(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    hr = Path(payroll_inputs["hr"])
    lines = hr.read_text().splitlines()
    lines[0] = lines[0].replace("hire_date", "joined")
    hr.write_text("\n".join(lines) + "\n")
    err = fails(bo_store, payroll_inputs)
    assert (err.file, err.row, err.column) == (str(hr), 1, "hire_date")


def test_hr_master_bad_date(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    hr = Path(payroll_inputs["hr"])
    lines = hr.read_text().splitlines()
    cells = lines[3].split(",")
    # the address is quoted and contains a comma: find the hire date by its shape
    idx = next(i for i, c in enumerate(cells) if len(c) == 10 and c[4] == "-")
    cells[idx] = "31/02/2019x"
    lines[3] = ",".join(cells)
    hr.write_text("\n".join(lines) + "\n")
    err = fails(bo_store, payroll_inputs)
    assert (err.row, err.column) == (4, "hire_date") and "expected a date" in str(err)


def test_hr_master_duplicate_employee(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    hr = Path(payroll_inputs["hr"])
    lines = hr.read_text().splitlines()
    hr.write_text("\n".join([*lines, lines[5]]) + "\n")
    err = fails(bo_store, payroll_inputs)
    assert err.column == "employee_id" and "first seen in row 6" in str(err)


def test_timesheet_with_impossible_hours(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    ts = Path(payroll_inputs["timesheets"])
    lines = ts.read_text().splitlines()
    eid, week, _ = lines[1].split(",")
    lines[1] = f"{eid},{week},200"
    ts.write_text("\n".join(lines) + "\n")
    err = fails(bo_store, payroll_inputs)
    assert (err.row, err.column) == (2, "hours") and "168" in str(err)


def test_broken_bank_file(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    f = Path(payroll_inputs["bank_file"])
    f.write_bytes(f.read_bytes()[:5000])
    err = fails(bo_store, payroll_inputs)
    assert err.file == str(f) and "not well-formed XML" in str(err)


def test_hostile_text_is_neutralised_in_the_workbook(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    wb = load_workbook(payroll_inputs["register"])
    ws = wb.active
    row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "E00201")  # the gross-to-net break
    row[1].value = "@SUM(1+1)*cmd|' /C calc'!A0"
    wb.save(payroll_inputs["register"])
    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    exc = load_workbook(payroll_inputs["out"])["Exceptions"]
    names = [r[1] for r in exc.iter_rows(min_row=2, values_only=True) if r[0] == "E00201"]
    assert names == ["'@SUM(1+1)*cmd|' /C calc'!A0"]
    assert all(c.data_type != "f" for r in exc.iter_rows() for c in r)


def test_missing_input_file(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    payroll_inputs["timesheets"] = payroll_inputs["timesheets"] + ".missing"
    with pytest.raises(InputError, match="file not found"):
        run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    assert status_counts(bo_store) == {} and not Path(payroll_inputs["out"]).exists()
