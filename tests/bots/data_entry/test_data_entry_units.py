"""Data-entry bot pieces without a browser: inputs, model, rules, keys, read-back comparison, credentials."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from backoffice.contract import State
from backoffice.data_classes import declared
from backoffice.errors import ConfigError, InputError
from backoffice.items import Item
from backoffice.runner import Run
from bots.data_entry.bot import bot
from bots.data_entry.credentials import resolve_credentials
from bots.data_entry.models import DataEntryInputs, InvoiceRow, normalise_target
from bots.data_entry.readback import compare_fields
from bots.data_entry.rules import PARAMS, RULES, DataEntryContext
from fixtures.data_entry.generate import HEADERS, make_rows, write_workbook

ROW = {
    "row_id": "R1",
    "vendor_no": "V1001",
    "invoice_no": "1001-1",
    "invoice_date": "2026-01-05",
    "due_date": "2026-02-04",
    "currency": "eur",
    "net_amount": "100.00",
    "tax_amount": "19.00",
    "gross_amount": "119.00",
    "po_number": "",
    "description": "Copy paper",
}
CTX = DataEntryContext(
    target="http://erp",
    vendors={"V1001": False, "V1005": True},
    currencies=frozenset({"EUR", "SEK"}),
    today=date(2026, 6, 1),
)


def codes(**over) -> list[str]:
    return [v.code for v in RULES.check(InvoiceRow.model_validate({**ROW, **over}), CTX)]


def test_model_normalises_and_refuses_hostile_text() -> None:
    row = InvoiceRow.model_validate(ROW)
    assert row.currency == "EUR" and row.po_number is None and row.gross_amount == Decimal("119.00")
    for bad in ('=HYPERLINK("x")', "@SUM(A1)", "+cmd|' /C calc'!A0", "line\x00break"):
        with pytest.raises(ValidationError):
            InvoiceRow.model_validate({**ROW, "description": bad})
    assert InvoiceRow.model_validate({**ROW, "description": "-5% discount"}).description == "-5% discount"
    with pytest.raises(ValidationError):
        InvoiceRow.model_validate({**ROW, "net_amount": "100.001"})
    with pytest.raises(ValidationError):
        InvoiceRow.model_validate({**ROW, "vendor_no": "ACME"})


def test_a_target_without_a_vendor_master_is_not_checked_for_vendors() -> None:
    from dataclasses import replace

    row = InvoiceRow.model_validate({**ROW, "vendor_no": "V9999"})
    assert [v.code for v in RULES.check(row, replace(CTX, vendors=None))] == []
    assert [v.code for v in RULES.check(row, CTX)] == ["DE-VENDOR"]


def test_rules_pass_a_good_row_and_name_each_problem() -> None:
    assert codes() == []
    assert codes(gross_amount="119.01") == ["DE-TOTAL"]
    assert codes(vendor_no="V9999") == ["DE-VENDOR"]
    assert codes(vendor_no="V1005") == ["DE-VENDOR-BLOCKED"]
    assert codes(currency="USD") == ["DE-CURRENCY"]
    assert codes(invoice_date="2026-07-01", due_date=None) == ["DE-DATE"]
    assert codes(due_date="2026-01-01") == ["DE-DATE"]
    assert codes(net_amount="-100.00", gross_amount="-81.00") == ["DE-AMOUNT", "DE-AMOUNT"]
    assert codes(invoice_no="10 01") == ["DE-REFERENCE"]
    [v] = RULES.check(InvoiceRow.model_validate({**ROW, "gross_amount": "120.00"}), CTX)
    assert (v.field, v.expected, v.actual) == ("gross_amount", "119.00", "120.00")


def test_rule_codes_are_declared_with_owners() -> None:
    specs = RULES.codes()
    for code in ("DE-TOTAL", "DE-VENDOR", "DE-VENDOR-BLOCKED", "DE-READBACK", "DE-SYSTEM"):
        assert code in specs
    assert "DE-LOGIN" not in specs  # a refused login stops the run (one incident), it queues no row
    assert specs["DE-SYSTEM"].owner_role == "rpa_expert"
    readme = (Path(__file__).resolve().parents[3] / "bots" / "data_entry" / "README.md").read_text()
    for code in specs:
        assert f"`{code}`" in readme, f"{code} missing from the README"


def test_read_back_comparison_is_per_field_and_type_aware() -> None:
    typed = {"net_amount": "100.00", "invoice_date": "2026-01-05", "description": "Copy paper"}
    assert (
        compare_fields(
            typed, {"net_amount": "100.0", "invoice_date": "2026-01-05", "description": "Copy paper"}
        )
        == []
    )
    diffs = compare_fields(typed, {"net_amount": "1,000.00", "invoice_date": "2026-01-05"})
    assert [(d.code, d.field) for d in diffs] == [
        ("DE-READBACK", "net_amount"),
        ("DE-READBACK", "description"),
    ]
    assert diffs[0].expected == "100.00" and diffs[0].actual == "1,000.00" and diffs[1].actual is None


def test_target_is_normalised_and_checked(creds, tmp_path: Path) -> None:
    assert normalise_target("HTTP://ERP.Example:8080/app/") == "http://erp.example:8080/app"
    with pytest.raises(ValueError, match="http"):
        normalise_target("ftp://erp")
    f = write_workbook(tmp_path / "in.xlsx", make_rows(1))
    parsed = bot.parse_inputs({"input": str(f), "target": "HTTP://ERP.Example:8080/app/"})
    assert isinstance(parsed, DataEntryInputs) and parsed.target == "http://erp.example:8080/app"
    assert parsed.headless is True and parsed.credentials_block is None
    with pytest.raises(InputError, match="--target: must be an http") as info:
        bot.parse_inputs({"input": str(f), "target": "ftp://erp"})
    assert info.value.code == "USAGE"


def test_inputs_refuse_a_run_without_credentials_and_never_hold_one(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BACKOFFICE_ERP_USER", raising=False)
    monkeypatch.delenv("BACKOFFICE_ERP_PASSWORD", raising=False)
    f = write_workbook(tmp_path / "in.xlsx", make_rows(1))
    with pytest.raises(InputError, match="BACKOFFICE_ERP_USER") as info:
        bot.parse_inputs({"input": str(f), "target": "http://erp"})
    assert info.value.code == "USAGE" and str(info.value).startswith("--credentials-block:")
    assert not {"user", "password"} & set(DataEntryInputs.model_fields)
    monkeypatch.setenv("BACKOFFICE_ERP_USER", "clerk")
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", "pw-123")
    parsed = bot.parse_inputs({"input": str(f), "target": "http://erp"})
    assert "pw-123" not in json.dumps(parsed.model_dump(mode="json"))
    with pytest.raises(InputError, match="unknown input"):
        bot.parse_inputs({"input": str(f), "target": "http://erp", "password": "pw"})


def test_bot_declares_its_record_class_title_and_no_personal_fields() -> None:
    assert bot.record_class == "financial" and bot.amount_class is None
    assert bot.title_field in InvoiceRow.model_fields
    assert declared(InvoiceRow) == {}  # supplier invoices of a company: nothing personal in a row
    assert RULES.params is PARAMS and RULES.params_dict() == {"max_future_days": 0}
    assert {"bots.data_entry.models", "bots.data_entry.readback"} <= set(RULES.modules())


def test_credentials_from_env_or_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("BACKOFFICE_ERP_USER", raising=False)
    monkeypatch.delenv("BACKOFFICE_ERP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="BACKOFFICE_ERP_USER"):
        resolve_credentials(None)
    monkeypatch.setenv("BACKOFFICE_ERP_USER", "clerk")
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", "pw-123")
    creds = resolve_credentials(None)
    assert creds.user == "clerk" and "pw-123" not in repr(creds)


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ERP_USER", "clerk")
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", "pw-123")


def read(path: Path, target: str) -> list[Item]:
    """``bot.read`` alone: it needs only the inputs, not the sessions ``open`` starts."""
    inputs = bot.parse_inputs({"input": str(path), "target": target})
    run = Run(run_id="t", bot="data-entry", inputs=inputs, store=None)  # read() needs no store
    return list(bot.read(State(inputs, run)))  # type: ignore[arg-type]


def test_keys_depend_on_file_row_and_target(tmp_path: Path, creds) -> None:
    rows = make_rows(3)
    f1 = write_workbook(tmp_path / "a.xlsx", rows)
    keys = [it.key for it in read(f1, "http://erp-a")]
    again = [it.key for it in read(f1, "http://ERP-A/")]
    other = [it.key for it in read(f1, "http://erp-b")]
    rows[2][HEADERS.index("Description")] = "changed"
    f2 = write_workbook(tmp_path / "b.xlsx", rows)
    changed = [it.key for it in read(f2, "http://erp-a")]
    assert len(set(keys)) == 3 and keys == again
    assert not set(keys) & set(other) and not set(keys) & set(changed)


def test_bad_cells_and_repeated_row_ids_become_input_items(tmp_path: Path, creds) -> None:
    rows = make_rows(4)
    rows[1][HEADERS.index("Net")] = "twelve"
    rows[3][0] = rows[2][0]  # row id used twice
    f = write_workbook(tmp_path / "in.xlsx", rows)
    items = read(f, "http://erp")
    assert len(items) == 4 and len({it.key for it in items}) == 4  # nothing collapses, nothing is lost
    assert items[0].violations == []
    assert items[1].violations[0].code == "INPUT" and items[1].violations[0].field == "net_amount"
    assert items[3].violations[0].code == "INPUT-DUPLICATE" and "row id" in items[3].violations[0].message
    assert items[0].source.locator == "sheet 'Invoices', row 2" and items[0].source.sha256


def test_missing_file_and_missing_column_are_input_errors(tmp_path: Path, creds) -> None:
    with pytest.raises(InputError, match="--input: file not found") as missing:
        bot.parse_inputs({"input": str(tmp_path / "nope.xlsx"), "target": "http://erp"})
    assert missing.value.code == "INPUT"  # exit 1 at the CLI, not a usage error
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Vendor No", "Invoice No"])
    wb.active.append(["V1001", "X-1"])
    wb.save(tmp_path / "short.xlsx")
    with pytest.raises(InputError) as info:
        read(tmp_path / "short.xlsx", "http://erp")
    assert "short.xlsx" in str(info.value)
