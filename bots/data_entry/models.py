"""The data-entry inputs and item: one spreadsheet row = one supplier invoice to type into the target.

The row holds no personal or secret data (vendor numbers, invoice numbers, amounts of a
company's supplier invoices): no field declares a data class. The vendor's bank account lives
in the target, is never read into the payload, and is blacked out in the evidence screenshots.
Credentials are not inputs: they come from the environment or a Prefect Secret block.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backoffice.contract import InputFile, Inputs
from backoffice.errors import ConfigError
from bots.data_entry.credentials import resolve_credentials
from connectors.object_repository import KEY_SOURCE, Mapping, MappingError, load_mapping

__all__ = [
    "COLUMNS",
    "DEFAULT_MAPPING",
    "DataEntryInputs",
    "InvoiceRow",
    "check_mapping_file",
    "normalise_target",
]

#: The object repository of the fixture ERP, shipped with it: the default ``--mapping``.
DEFAULT_MAPPING = Path(__file__).resolve().parents[2] / "fixtures" / "erp_app" / "mapping.toml"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# =SUM(..), @cmd, +cmd|, -2+3 style openers: typed into a target, they come back in its CSV exports.
_FORMULA = re.compile(r"^(=|@|[+-][^\d\s.,])")

Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


def normalise_target(url: str) -> str:
    """``HTTP://Host:80/app/`` -> ``http://host:80/app``: the same target always gives the same keys.

    Raises ValueError for anything but an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


class DataEntryInputs(Inputs):
    """What one data-entry run needs (``backoffice run data-entry --input X --target URL``)."""

    input: InputFile | None = Field(
        default=None,
        description="Workbook (.xlsx) of invoices, one per row (required unless --check-mapping).",
    )
    target: str = Field(
        description="Base URL of the back-office app, e.g. http://erp:8000 (normalised: scheme "
        "and host lower-cased, no trailing slash; it is part of every row's key)."
    )
    credentials_block: str | None = Field(
        default=None,
        validate_default=True,
        description="Prefect Secret block holding {'user': ..., 'password': ...}; "
        "default: BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD.",
    )
    mapping: InputFile = Field(
        default=DEFAULT_MAPPING,
        validate_default=True,
        description="Object repository (TOML) of the target: where its login, search, form fields, "
        "confirmation, record fields and look-ups are; default: the fixture ERP's "
        "fixtures/erp_app/mapping.toml.",
    )
    check_mapping: InputFile | None = Field(
        default=None,
        description="Check this mapping file against --target instead of entering rows: open each page, "
        "report every element found or missing, with a screenshot; exit 1 when something is missing.",
    )
    headless: bool = Field(default=True, description="Run the browser without a window.")
    timeout_ms: float = Field(default=5_000, gt=0, description="Timeout of one browser action (ms).")
    navigation_timeout_ms: float = Field(
        default=15_000, gt=0, description="Timeout of one page load in the browser (ms)."
    )

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return normalise_target(value)

    @field_validator("mapping", "check_mapping")
    @classmethod
    def _mapping(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                check_mapping_file(value)
            except MappingError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _input_unless_checking(self) -> DataEntryInputs:
        if self.input is None and self.check_mapping is None:
            raise ValueError("--input is required (a workbook of invoices), unless --check-mapping is given")
        return self

    @field_validator("credentials_block")
    @classmethod
    def _credentials_available(cls, value: str | None) -> str | None:
        """Fail before the run starts, with what to set, when there are no credentials. Only the
        block's name is kept in the inputs, never a value."""
        try:
            resolve_credentials(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


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


def check_mapping_file(path: Path) -> Mapping:
    """The mapping at ``path``, validated, and checked against what this bot types: its form
    fields take input columns (or ``key``, the row's idempotency key, which the search finds)."""
    mapping = load_mapping(path)
    text = Path(path).read_text(encoding="utf-8")
    allowed = set(COLUMNS) - {"row_id"} | {KEY_SOURCE}
    for n, step in enumerate(mapping.form.steps):
        for name, spec in step.fields.items():
            source = spec.source or name
            if source not in allowed:
                raise MappingError.at(
                    text,
                    ("form", "steps", n, "fields", name),
                    f"{source!r} is not an input column; use one of {sorted(allowed)} (source = ...)",
                    file=str(path),
                )
    if KEY_SOURCE not in mapping.sources():
        raise MappingError.at(
            text,
            ("form",),
            'no form field takes the row\'s key (source = "key"): the search could never find a row '
            "entered before, and a rerun would enter it twice",
            file=str(path),
        )
    return mapping
