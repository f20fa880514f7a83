"""The data-entry item: one spreadsheet row = one supplier invoice to type into the target."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["COLUMNS", "InvoiceRow"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# =SUM(..), @cmd, +cmd|, -2+3 style openers: typed into a target, they come back in its CSV exports.
_FORMULA = re.compile(r"^(=|@|[+-][^\d\s.,])")

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


def _clean_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if _CONTROL.search(value):
            raise ValueError("contains control characters")
        if _FORMULA.match(value):
            raise ValueError("looks like a spreadsheet formula")
    return value


class InvoiceRow(BaseModel):
    """A validated row. Payload JSON keeps amounts as strings and dates as ISO text."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    row_id: str = Field(min_length=1, max_length=40, description="Row id (column or sheet row number)")
    vendor_no: str = Field(pattern=r"^V\d{4,6}$", description="Vendor number in the target, e.g. V1001")
    invoice_no: str = Field(min_length=1, max_length=30)
    invoice_date: date
    due_date: date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    net_amount: Money
    tax_amount: Money
    gross_amount: Money
    po_number: str | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=200)

    @field_validator("invoice_no", "po_number", "description", "vendor_no", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _clean_text(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("po_number", "description", "due_date", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def _spec() -> dict[str, Any]:
    from connectors.excel import ColumnSpec

    return {
        "row_id": ColumnSpec("str", required=False, nullable=True, aliases=("row", "line", "line id", "id")),
        "vendor_no": ColumnSpec("str", aliases=("vendor", "vendor number", "supplier", "supplier no")),
        "invoice_no": ColumnSpec("str", aliases=("invoice", "invoice number", "inv no", "invoice id")),
        "invoice_date": ColumnSpec("date", aliases=("date", "document date")),
        "due_date": ColumnSpec("date", required=False, nullable=True, aliases=("due", "payment due")),
        "currency": ColumnSpec("str", aliases=("ccy", "cur")),
        "net_amount": ColumnSpec("money", aliases=("net",)),
        "tax_amount": ColumnSpec("money", aliases=("tax", "vat", "vat amount")),
        "gross_amount": ColumnSpec("money", aliases=("gross", "total", "amount")),
        "po_number": ColumnSpec("str", required=False, nullable=True, aliases=("po", "purchase order")),
        "description": ColumnSpec("str", required=False, nullable=True, aliases=("text", "memo")),
    }


#: Input columns (name -> connectors.excel.ColumnSpec); header spellings in ``aliases``.
COLUMNS = _spec()
