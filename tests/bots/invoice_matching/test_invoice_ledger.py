"""The xlsx output ledger: idempotent, safe against formula injection, serialised by its lock."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backoffice.errors import InputError
from connectors.purchasing import (
    LedgerEntry,
    LedgerLine,
    append_ledger,
    ledger_lock,
    read_ledger,
    read_purchase_orders,
)


def entry(key: str, description: str = "Widget") -> LedgerEntry:
    line = LedgerLine(
        key,
        f"INV-{key}",
        "PO1",
        1,
        None,
        description,
        Decimal(2),
        Decimal("5.00"),
        Decimal("10.00"),
        Decimal(19),
    )
    return LedgerEntry(
        key=key,
        vendor_id="V1",
        vendor_name="=2+3 Evil Corp",
        invoice_number=f"INV-{key}",
        issue_date=date(2024, 3, 1),
        due_date=None,
        currency="EUR",
        net_total=Decimal("10.00"),
        tax_total=Decimal("1.90"),
        gross_total=Decimal("11.90"),
        po_number="PO1",
        file=f"{key}.pdf",
        sha256="0" * 64,
        run_id="r1",
        posted_at=datetime(2024, 3, 2, tzinfo=UTC),
        lines=(line,),
    )


def test_append_is_idempotent_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    assert append_ledger(path, [entry("a"), entry("b")]) == ["a", "b"]
    assert append_ledger(path, [entry("b"), entry("c")]) == ["c"]
    ledger = read_ledger(path)
    assert sorted(ledger.entries) == ["a", "b", "c"]
    a = ledger.entries["a"]
    assert a.gross_total == Decimal("11.90") and a.issue_date == date(2024, 3, 1)
    assert [(ln.po_number, ln.po_line, ln.quantity) for ln in a.lines] == [("PO1", 1, Decimal(2))]


def test_hostile_text_is_written_as_text_not_formulas(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    append_ledger(path, [entry("x", description='=HYPERLINK("http://evil","click")')])
    wb = load_workbook(path)
    values = [
        c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)
    ]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in values)
    assert read_ledger(path).entries["x"].vendor_name.endswith("=2+3 Evil Corp")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"

    def post(prefix: str) -> None:
        for i in range(5):
            with ledger_lock(path):
                append_ledger(path, [entry(f"{prefix}{i}")])

    threads = [threading.Thread(target=post, args=(p,)) for p in "pq"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(read_ledger(path).entries) == 10


def test_purchase_order_file_errors_name_the_cell(tmp_path: Path) -> None:
    csv = tmp_path / "po.csv"
    csv.write_text("po_number,po_line,vendor_id,quantity,unit_price\nP1,1,V1,10,2.50\nP1,1,V1,5,1.00\n")
    with pytest.raises(InputError) as err:
        read_purchase_orders(csv)
    assert err.value.row == 3  # duplicate (po_number, po_line)
    csv.write_text("po_number,po_line,vendor_id,quantity,unit_price\nP1,1,V1,-10,2.50\n")
    with pytest.raises(InputError, match="negative") as err:
        read_purchase_orders(csv)
    assert err.value.column == "quantity"
    csv.write_text("PO,Line,Supplier,Qty,Price,GR based\nP1,1,V1,10,2.50,no\n")
    [line] = read_purchase_orders(csv)
    assert line.po_number == "P1" and line.receipt_required is False and line.currency == "EUR"
    csv.write_text("po_number,po_line,vendor_id,quantity\nP1,1,V1,10\n")
    with pytest.raises(InputError, match="unit_price"):
        read_purchase_orders(csv)
