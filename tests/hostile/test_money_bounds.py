"""One absurd money cell is that row's INPUT error (file, sheet, row, column), never an aborted run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from backoffice.errors import InputError
from backoffice.money import money, parse_amount
from backoffice.runner import run_bot
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from connectors.excel import ColumnSpec, read_table
from tests.bots.payroll_reconciliation.conftest import payroll_dir, payroll_inputs  # noqa: F401 (fixtures)
from tests.bots.payroll_reconciliation.helpers import codes_by_subject


@pytest.mark.parametrize(
    "value",
    [1e26, 1e300, 10**26, Decimal("1E+26"), "100000000000000000000000000", "1" * 5000, float("inf")],
)
def test_parse_amount_refuses_out_of_range_values(value: object) -> None:
    with pytest.raises(ValueError, match=r"out of range|not an amount"):
        parse_amount(value)


def test_largest_allowed_amount_still_rounds_to_cents() -> None:
    assert money("999999999999999.995") == Decimal("1000000000000000.00")
    assert money(Decimal("-999999999999999.99")) == Decimal("-999999999999999.99")
    assert money(12.345) == Decimal("12.35")


def test_read_table_names_file_sheet_row_and_column(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Lines"
    ws.append(["id", "amount"])
    ws.append(["a", 10.5])
    ws.append(["b", 1e26])
    ws.append(["c", "2.50"])
    path = tmp_path / "lines.xlsx"
    wb.save(path)
    spec = {"id": ColumnSpec("str"), "amount": ColumnSpec("money")}
    with pytest.raises(InputError) as ei:
        list(read_table(path, spec))
    err = ei.value
    assert (err.file, err.sheet, err.row, err.column) == (str(path), "Lines", 3, "amount")
    assert "out of range" in str(err)


def test_one_absurd_cell_in_a_payroll_register_is_one_input_item(
    bo_store: Store,
    payroll_inputs: dict[str, Any],  # noqa: F811
) -> None:
    wb = load_workbook(payroll_inputs["register"])
    wb.active["N5"] = 1e26  # gross of the employee in row 5
    wb.save(payroll_inputs["register"])
    summary = run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    assert summary.extra["input_errors"] == 1
    rows = list(load_workbook(payroll_inputs["out"])["Exceptions"].iter_rows(min_row=2, values_only=True))
    messages = [r[6] for r in rows if r[4] == "INPUT"]
    assert any("row 5, column 'gross'" in m and "out of range" in m for m in messages), messages
    assert sum("INPUT" in codes for codes in codes_by_subject(bo_store).values()) == 1
    assert summary.done > 0
