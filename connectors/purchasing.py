"""Purchasing data for invoice matching: purchase orders, goods receipts, the vendor master, and
the output ledger of posted invoices. All files are xlsx or CSV, read with
:func:`connectors.excel.read_table` (streaming, typed, every bad cell an ``InputError`` naming
file, sheet, row and column).

Columns (header spelling is forgiving: case, spaces, ``_``/``-`` and the aliases listed):

Purchase orders, one row per PO line
    ``po_number`` (po, purchase order, bestellnummer) · ``po_line`` (line, item no, position) ·
    ``vendor_id`` (vendor, supplier id, kreditor) · ``item`` (material, sku, article; optional) ·
    ``description`` (optional) · ``quantity`` (ordered quantity) · ``unit_price`` (net, per unit) ·
    ``currency`` (optional; default company currency) · ``tax_rate`` (percent, optional) ·
    ``receipt_required`` (yes/no, optional, default yes: 3-way match) ·
    ``charge_code`` (optional: FREIGHT, PACKAGING... marks an expected charge, not goods)
Goods receipts, one row per receipt line (negative quantity = return)
    ``receipt_id`` · ``po_number`` · ``po_line`` · ``quantity`` · ``receipt_date`` (optional)
Vendor master
    ``vendor_id`` · ``name`` · ``vat_id`` (optional) · ``iban`` (optional) · ``bic`` (optional) ·
    ``currency`` (optional) · ``status`` (optional: active / blocked; default active)
Output ledger (written by the bot; sheets ``Invoices`` and ``Lines``)
    Invoices: key, vendor_id, vendor_name, invoice_number, issue_date, due_date, currency,
    net_total, tax_total, gross_total, po_number, file, sha256, run_id, posted_at;
    Lines: key, invoice_number, po_number, po_line, charge_code, description, quantity,
    unit_price, line_amount, tax_rate.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from connectors.excel import ColumnSpec, ReportColumn, Sheet, read_table, write_report

__all__ = [
    "Ledger",
    "LedgerEntry",
    "LedgerLine",
    "POLine",
    "Receipt",
    "Vendor",
    "append_ledger",
    "ledger_lock",
    "read_ledger",
    "read_purchase_orders",
    "read_receipts",
    "read_vendors",
]


@dataclass(frozen=True)
class POLine:
    po_number: str
    po_line: int
    vendor_id: str
    item: str | None
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    currency: str
    tax_rate: Decimal | None
    receipt_required: bool
    charge_code: str | None
    locator: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "po_number": self.po_number,
            "po_line": self.po_line,
            "vendor_id": self.vendor_id,
            "item": self.item,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price),
            "currency": self.currency,
            "tax_rate": None if self.tax_rate is None else str(self.tax_rate),
            "receipt_required": self.receipt_required,
            "charge_code": self.charge_code,
            "source": self.locator,
        }


@dataclass(frozen=True)
class Receipt:
    receipt_id: str
    po_number: str
    po_line: int
    quantity: Decimal
    receipt_date: date | None
    locator: str = ""


@dataclass(frozen=True)
class Vendor:
    vendor_id: str
    name: str
    vat_id: str | None
    iban: str | None
    bic: str | None
    currency: str | None
    status: str

    @property
    def blocked(self) -> bool:
        return self.status.lower() in ("blocked", "gesperrt", "inactive", "bloqué")


PO_COLUMNS = {
    "po_number": ColumnSpec(
        "str", aliases=("po", "po no", "purchase order", "bestellnummer", "order number")
    ),
    "po_line": ColumnSpec("int", aliases=("line", "item no", "position", "pos", "po item")),
    "vendor_id": ColumnSpec("str", aliases=("vendor", "supplier id", "supplier", "kreditor", "vendor no")),
    "item": ColumnSpec(
        "str", required=False, nullable=True, aliases=("material", "sku", "article", "artikel")
    ),
    "description": ColumnSpec("str", required=False, nullable=True, aliases=("text", "bezeichnung")),
    "quantity": ColumnSpec("decimal", aliases=("qty", "ordered quantity", "menge")),
    "unit_price": ColumnSpec("decimal", aliases=("price", "net price", "preis", "einzelpreis")),
    "currency": ColumnSpec("str", required=False, nullable=True, aliases=("cur", "währung")),
    "tax_rate": ColumnSpec(
        "decimal", required=False, nullable=True, aliases=("vat", "vat rate", "tax", "mwst")
    ),
    "receipt_required": ColumnSpec(
        "bool", required=False, nullable=True, aliases=("gr required", "gr based", "three way", "3 way")
    ),
    "charge_code": ColumnSpec("str", required=False, nullable=True, aliases=("charge", "condition")),
}
RECEIPT_COLUMNS = {
    "receipt_id": ColumnSpec("str", aliases=("receipt", "gr", "gr number", "material document")),
    "po_number": PO_COLUMNS["po_number"],
    "po_line": PO_COLUMNS["po_line"],
    "quantity": ColumnSpec("decimal", aliases=("qty", "received", "quantity received", "menge")),
    "receipt_date": ColumnSpec("date", required=False, nullable=True, aliases=("date", "posting date")),
}
VENDOR_COLUMNS = {
    "vendor_id": PO_COLUMNS["vendor_id"],
    "name": ColumnSpec("str", aliases=("vendor name", "supplier name", "name 1")),
    "vat_id": ColumnSpec(
        "str", required=False, nullable=True, aliases=("vat", "vat number", "ust id", "tax id")
    ),
    "iban": ColumnSpec("str", required=False, nullable=True, aliases=("bank account", "account")),
    "bic": ColumnSpec("str", required=False, nullable=True, aliases=("swift",)),
    "currency": ColumnSpec("str", required=False, nullable=True),
    "status": ColumnSpec("str", required=False, nullable=True, aliases=("block", "blocked")),
}


def _norm_id(value: str | None) -> str | None:
    return value.replace(" ", "").upper() if value else None


def read_purchase_orders(path: str | Path, *, company_currency: str = "EUR") -> list[POLine]:
    out: list[POLine] = []
    for row in read_table(path, PO_COLUMNS, key=("po_number", "po_line")):
        if row["quantity"] < 0 or row["unit_price"] < 0:
            bad = "quantity" if row["quantity"] < 0 else "unit_price"
            raise InputError(
                "must not be negative", file=str(path), sheet=row.sheet, row=row.number, column=bad
            )
        charge = (row["charge_code"] or "").strip().upper() or None
        out.append(
            POLine(
                po_number=str(row["po_number"]).strip(),
                po_line=int(row["po_line"]),
                vendor_id=str(row["vendor_id"]).strip(),
                item=(row["item"] or "").strip() or None,
                description=row["description"],
                quantity=row["quantity"],
                unit_price=row["unit_price"],
                currency=(row["currency"] or company_currency).strip().upper(),
                tax_rate=row["tax_rate"],
                receipt_required=(row["receipt_required"] is not False) and charge is None,
                charge_code=charge,
                locator=f"{Path(path).name}, {row.locator}",
            )
        )
    return out


def read_receipts(path: str | Path) -> list[Receipt]:
    return [
        Receipt(
            receipt_id=str(row["receipt_id"]).strip(),
            po_number=str(row["po_number"]).strip(),
            po_line=int(row["po_line"]),
            quantity=row["quantity"],
            receipt_date=row["receipt_date"],
            locator=f"{Path(path).name}, {row.locator}",
        )
        for row in read_table(path, RECEIPT_COLUMNS, key="receipt_id")
    ]


def read_vendors(path: str | Path) -> list[Vendor]:
    return [
        Vendor(
            vendor_id=str(row["vendor_id"]).strip(),
            name=str(row["name"]).strip(),
            vat_id=_norm_id(row["vat_id"]),
            iban=_norm_id(row["iban"]),
            bic=_norm_id(row["bic"]),
            currency=(row["currency"] or "").strip().upper() or None,
            status=(row["status"] or "active").strip().lower(),
        )
        for row in read_table(path, VENDOR_COLUMNS, key="vendor_id")
    ]


# ----------------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class LedgerLine:
    key: str
    invoice_number: str
    po_number: str | None
    po_line: int | None
    charge_code: str | None
    description: str | None
    quantity: Decimal | None
    unit_price: Decimal | None
    line_amount: Decimal | None
    tax_rate: Decimal | None


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    vendor_id: str
    vendor_name: str
    invoice_number: str
    issue_date: date | None
    due_date: date | None
    currency: str
    net_total: Decimal | None
    tax_total: Decimal | None
    gross_total: Decimal
    po_number: str | None
    file: str
    sha256: str
    run_id: str
    posted_at: datetime | None
    lines: tuple[LedgerLine, ...] = ()


@dataclass
class Ledger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    @property
    def lines(self) -> Iterator[LedgerLine]:
        for e in self.entries.values():
            yield from e.lines


INVOICE_COLUMNS: list[tuple[str, str]] = [
    ("key", "text"),
    ("vendor_id", "text"),
    ("vendor_name", "text"),
    ("invoice_number", "text"),
    ("issue_date", "date"),
    ("due_date", "date"),
    ("currency", "text"),
    ("net_total", "money"),
    ("tax_total", "money"),
    ("gross_total", "money"),
    ("po_number", "text"),
    ("file", "text"),
    ("sha256", "text"),
    ("run_id", "text"),
    ("posted_at", "text"),  # ISO 8601 UTC
]
LINE_COLUMNS: list[tuple[str, str]] = [
    ("key", "text"),
    ("invoice_number", "text"),
    ("po_number", "text"),
    ("po_line", "int"),
    ("charge_code", "text"),
    ("description", "text"),
    ("quantity", "decimal"),
    ("unit_price", "decimal"),
    ("line_amount", "money"),
    ("tax_rate", "decimal"),
]
_SPEC_TYPE = {"text": "str", "date": "date", "money": "money", "decimal": "decimal", "int": "int"}


def _specs(columns: list[tuple[str, str]], required: tuple[str, ...]) -> dict[str, ColumnSpec]:
    return {
        name: ColumnSpec(_SPEC_TYPE[kind], nullable=name not in required)  # type: ignore[arg-type]
        for name, kind in columns
    }


@contextmanager
def ledger_lock(path: str | Path) -> Iterator[None]:
    """An exclusive lock next to the ledger, so two runs never interleave read-modify-write."""
    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_ledger(path: str | Path) -> Ledger:
    """The posted invoices (empty when the file does not exist yet)."""
    p = Path(path)
    ledger = Ledger()
    if not p.exists():
        return ledger
    lines: dict[str, list[LedgerLine]] = {}
    for row in read_table(
        p, _specs(LINE_COLUMNS, ("key", "invoice_number")), sheet="Lines", formulas="refuse"
    ):
        lines.setdefault(row["key"], []).append(LedgerLine(**{name: row[name] for name, _ in LINE_COLUMNS}))
    for row in read_table(
        p,
        _specs(INVOICE_COLUMNS, ("key", "vendor_id", "invoice_number", "gross_total")),
        sheet="Invoices",
        key="key",
    ):
        values = {name: row[name] for name, _ in INVOICE_COLUMNS}
        posted = values.pop("posted_at")
        ledger.entries[row["key"]] = LedgerEntry(
            **values,
            posted_at=datetime.fromisoformat(posted) if posted else None,
            lines=tuple(lines.get(row["key"], [])),
        )
    return ledger


def _row(obj: Any, columns: list[tuple[str, str]]) -> list[Any]:
    out = []
    for name, _ in columns:
        value = getattr(obj, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        out.append(value)
    return out


def append_ledger(path: str | Path, new: Sequence[LedgerEntry]) -> list[str]:
    """Post entries whose key is not in the ledger yet; returns the keys actually added.

    Idempotent (a key already posted is skipped) and atomic (the workbook is rewritten to a
    temporary file and renamed). Call it under :func:`ledger_lock`.
    """
    ledger = read_ledger(path)
    added: list[str] = []
    for entry in new:
        if entry.key in ledger.entries:
            continue
        ledger.entries[entry.key] = entry
        added.append(entry.key)
    if not added and Path(path).exists():
        return added
    entries = list(ledger.entries.values())
    write_report(
        path,
        [
            Sheet(
                "Invoices",
                [ReportColumn(name, kind) for name, kind in INVOICE_COLUMNS],  # type: ignore[arg-type]
                [_row(e, INVOICE_COLUMNS) for e in entries],
            ),
            Sheet(
                "Lines",
                [ReportColumn(name, kind) for name, kind in LINE_COLUMNS],  # type: ignore[arg-type]
                [_row(line, LINE_COLUMNS) for e in entries for line in e.lines],
            ),
        ],
    )
    return added
