"""The invoice-matching bot's declarations: its run inputs (``InvoiceMatchingInputs``), the item
(``InvoiceModel``: the payload of every queued or posted invoice) and the tolerances the rules
run with (``Tolerances``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from backoffice.contract import InputDir, InputFile, Inputs, OutputFile
from backoffice.data_classes import DataClass

__all__ = [
    "UNREVIEWED_FIELDS",
    "InvoiceLineModel",
    "InvoiceMatchingInputs",
    "InvoiceModel",
    "Tolerances",
]

# Header fields no rule reads and the ledger does not post: a low OCR confidence there changes no
# decision, so no one is sent to check it (no INV-LOW-CONFIDENCE, no region image). The trading
# name (BT-28) is often a reading of the letterhead, not of a label, with a confidence kept low
# on purpose; on a text PDF that raises nothing, and a scan should not either.
UNREVIEWED_FIELDS = frozenset({"seller_trading_name"})


class InvoiceMatchingInputs(Inputs):
    """What one run of the invoice-matching bot reads and writes."""

    invoices: InputDir = Field(
        description="Directory of invoices: PDFs and bare e-invoice XML (UBL, CII); every other file "
        "in it becomes an INPUT exception naming it."
    )
    pos: InputFile = Field(description="Purchase order lines (xlsx or CSV).")
    receipts: InputFile = Field(description="Goods receipts (xlsx or CSV).")
    vendors: InputFile = Field(description="Vendor master with bank accounts (xlsx or CSV).")
    ledger: OutputFile | None = Field(
        default=None,
        description="Output ledger (.xlsx) for posted invoices; default BACKOFFICE_HOME/invoice_ledger.xlsx.",
    )
    fx: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Rate to the company currency (CUR=RATE, e.g. USD=0.92) for the absolute limits.",
    )
    files: list[str] | None = Field(
        default=None,
        description="Only these files (names inside --invoices) are read, checked and posted; "
        "the matching context still covers the whole directory. Default: every file.",
    )
    split: str | None = Field(
        default=None,
        description="Label of the split run this run is a part of (set by the invoice-matching-split flow).",
    )

    def rates_to_company(self) -> Mapping[str, Decimal]:
        """The ``fx`` rates: the queue compares an invoice's gross total with the delegated limit
        in the company currency with them."""
        return self.fx

    @field_validator("ledger")
    @classmethod
    def _ledger_is_xlsx(cls, value: Any) -> Any:
        if value is not None and value.suffix.lower() != ".xlsx":
            raise ValueError("must name an .xlsx file")
        return value

    @field_validator("fx", mode="before")
    @classmethod
    def _rates(cls, value: Any) -> dict[str, Decimal]:
        """``{"usd": "0.92"}`` -> ``{"USD": Decimal("0.92")}``; a 3-letter code and a rate > 0."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("takes CUR=RATE pairs, e.g. USD=0.92")
        out: dict[str, Decimal] = {}
        for cur, rate in value.items():
            code = str(cur).strip().upper()
            if len(code) != 3 or not code.isascii() or not code.isalpha():
                raise ValueError(f"takes CUR=RATE with a 3-letter currency code (e.g. USD=0.92), got {cur!r}")
            try:
                number = Decimal(str(rate).strip())
            except InvalidOperation:
                raise ValueError(f"rate for {code} is not a number: {rate!r}") from None
            if not number.is_finite() or number <= 0:
                raise ValueError(f"rate for {code} must be greater than 0, got {rate!r}")
            out[code] = number
        return out

    @field_validator("files")
    @classmethod
    def _file_names(cls, value: list[str] | None) -> list[str] | None:
        """Plain file names (no paths), each once, sorted."""
        if value is None:
            return None
        if not value:
            raise ValueError("names no file (leave it out to read every file)")
        for name in value:
            if not name or name in (".", "..") or "/" in name or "\\" in name:
                raise ValueError(f"takes file names inside --invoices, not paths: {name!r}")
        return sorted(set(value))


@pydantic_dataclass(slots=True, config=ConfigDict(extra="forbid"))
class InvoiceLineModel:
    """One invoice line. A pydantic dataclass, not a BaseModel: validated the same way (types,
    no unknown keys; an unknown key is "Unexpected keyword argument"), dumped the same way by
    ``InvoiceModel.model_dump``, at about half the cost per line (every item of a run validates
    all its lines; see ``bench/match_bench.py``). Copy one with ``dataclasses.replace``."""

    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    line_amount: Decimal | None = None
    tax_rate: Decimal | None = None
    order_reference: str | None = Field(
        default=None,
        description="The PO this line bills, as the invoice says: PO/LINE, PO, or LINE of the header PO.",
    )


class InvoiceModel(BaseModel):
    """One invoice as extracted from its PDF (or embedded XML). Humans correct these fields."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(description="Idempotency key: hash of file name and sha256.")
    file: str
    sha256: str
    source: Literal["xml", "text", "ocr"]
    syntax: str | None = None
    document_type: str | None = Field(
        default=None, description="UNTDID 1001 type code (380 invoice, 381 credit note); None when not given."
    )
    pages: int = 0
    invoice_number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    seller_name: str | None = Field(default=None, description="The seller's legal name (BT-27).")
    seller_trading_name: str | None = Field(default=None, description="The seller's trading name (BT-28).")
    seller_vat_id: str | None = None
    buyer_name: str | None = None
    buyer_reference: str | None = Field(
        default=None,
        description="Buyer reference (BT-10); names the PO when po_number is absent and it is one.",
    )
    po_number: str | None = None
    preceding_invoice: str | None = Field(
        default=None,
        description="The invoice a credit note corrects (BT-25); names the PO when the note gives none.",
    )
    currency: str | None = None
    net_total: Decimal | None = None
    tax_total: Decimal | None = None
    gross_total: Decimal | None = None
    amount_due: Decimal | None = None
    iban: Annotated[str | None, DataClass.BANK_ACCOUNT] = Field(
        default=None, description="The account the invoice asks to be paid to."
    )
    lines: list[InvoiceLineModel] = Field(default_factory=list)
    extraction_errors: list[dict[str, Any]] = Field(default_factory=list)
    vendor_id: str | None = Field(
        default=None, description="Set by a reviewer to pin the vendor when the invoice does not identify it."
    )


class Tolerances(BaseModel):
    """Defaults from DOMAIN.md; ``None`` means no limit (never 0). The bot's rule set hashes the
    very object the bot runs with, so a changed tolerance changes the rule-set version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_pct: Decimal | None = Field(default=Decimal("5"), description="Price variance, percent.")
    price_abs: Decimal | None = Field(
        default=Decimal("25.00"), description="Price variance, company currency."
    )
    qty_pct: Decimal | None = Field(default=Decimal("5"), description="Quantity excess, percent of value.")
    qty_abs: Decimal | None = Field(
        default=Decimal("25.00"), description="Quantity excess value, company currency."
    )
    small_diff: Decimal = Field(
        default=Decimal("0.05"), description="Header differences up to this are recorded, not queued."
    )
    tax_abs: Decimal = Field(default=Decimal("0.02"), description="Tax recomputation difference allowed.")
    dup_window_days: int = Field(default=30, description="Fuzzy duplicates: dates at most this far apart.")
    min_similarity: float = Field(
        default=0.75, description="Line matching by description: minimum similarity ratio."
    )
