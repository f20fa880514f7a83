"""The invoice-matching item (``InvoiceModel``: the payload of every queued or posted invoice),
the tolerances, and the look-up context the rules read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bots.invoice_matching.matching import DEFAULT_CHARGE_KEYWORDS, LineMatch, match_indexed, norm_vendor
from connectors.einvoice import ExtractedInvoice
from connectors.purchasing import POLine, Vendor

__all__ = [
    "DocRef",
    "InvoiceFacts",
    "InvoiceLineModel",
    "InvoiceModel",
    "MatchContext",
    "POIndex",
    "Tolerances",
]


class InvoiceLineModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    line_amount: Decimal | None = None
    tax_rate: Decimal | None = None


class InvoiceModel(BaseModel):
    """One invoice as extracted from its PDF (or embedded XML). Humans correct these fields."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(description="Idempotency key: hash of file name and sha256.")
    file: str
    sha256: str
    source: Literal["xml", "text"]
    syntax: str | None = None
    pages: int = 0
    invoice_number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    seller_name: str | None = None
    seller_vat_id: str | None = None
    buyer_name: str | None = None
    po_number: str | None = None
    currency: str | None = None
    net_total: Decimal | None = None
    tax_total: Decimal | None = None
    gross_total: Decimal | None = None
    amount_due: Decimal | None = None
    iban: str | None = None
    lines: list[InvoiceLineModel] = Field(default_factory=list)
    extraction_errors: list[dict[str, Any]] = Field(default_factory=list)
    vendor_id: str | None = Field(
        default=None, description="Set by a reviewer to pin the vendor when the invoice does not identify it."
    )


@dataclass(frozen=True)
class Tolerances:
    """Defaults from DOMAIN.md; ``None`` means no limit (never 0)."""

    price_pct: Decimal | None = Decimal("5")
    price_abs: Decimal | None = Decimal("25.00")
    qty_pct: Decimal | None = Decimal("5")
    qty_abs: Decimal | None = Decimal("25.00")
    small_diff: Decimal = Decimal("0.05")
    tax_abs: Decimal = Decimal("0.02")
    dup_window_days: int = 30
    min_similarity: float = 0.75

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Tolerances:
        """Inverse of :meth:`as_params` (strings back to Decimal / int / float)."""

        def dec(name: str) -> Decimal | None:
            v = params.get(name)
            return None if v is None else Decimal(str(v))

        default = cls()
        return cls(
            price_pct=dec("price_pct"),
            price_abs=dec("price_abs"),
            qty_pct=dec("qty_pct"),
            qty_abs=dec("qty_abs"),
            small_diff=dec("small_diff") or default.small_diff,
            tax_abs=dec("tax_abs") or default.tax_abs,
            dup_window_days=int(params.get("dup_window_days", default.dup_window_days)),
            min_similarity=float(params.get("min_similarity", default.min_similarity)),
        )

    def as_params(self) -> dict[str, str | None]:
        return {k: None if v is None else str(v) for k, v in self.__dict__.items()}


@dataclass(slots=True)
class DocRef:
    """An invoice seen before this one (posted in the ledger, or earlier in this run)."""

    key: str
    vendor_id: str | None
    vendor_norm: str
    currency: str | None
    gross: Decimal | None
    number: str | None
    ref_norm: str
    issue_date: date | None
    file: str
    origin: str  # "ledger" or "run"


@dataclass(slots=True)
class InvoiceFacts:
    """The per-invoice look-ups every rule needs, computed once per ``RULES.check`` (the shared
    match step): the resolved vendor, the invoice's PO lines, and its lines paired with PO lines."""

    vendor: Vendor | None
    po_lines: list[POLine]  # the PO's lines, whoever the PO belongs to ([] when unknown)
    po: list[POLine] | None  # the same when the PO exists and belongs to the vendor, else None
    matches: list[LineMatch]  # [] when ``po`` is None


@dataclass(slots=True)
class POIndex:
    """One PO's lines arranged for line matching (built once per PO, on first use)."""

    goods: list[POLine]
    by_item: dict[str, POLine]
    charges: dict[str, POLine]


@dataclass
class MatchContext:
    """Everything the rules look up. Built once per run by the bot (``InvoiceMatchingBot.context``)."""

    tolerances: Tolerances = field(default_factory=Tolerances)
    company_currency: str = "EUR"
    fx_to_company: dict[str, Decimal] = field(default_factory=dict)
    vendors: dict[str, Vendor] = field(default_factory=dict)
    vendors_by_vat: dict[str, Vendor] = field(default_factory=dict)
    vendors_by_name: dict[str, Vendor] = field(default_factory=dict)
    po_lines: dict[str, list[POLine]] = field(default_factory=dict)
    received: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    prior_qty: dict[str, dict[tuple[str, int], Decimal]] = field(default_factory=dict)
    history: list[DocRef] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)
    charge_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHARGE_KEYWORDS))

    def fx(self, currency: str | None) -> Decimal | None:
        """Rate from ``currency`` to the company currency; None when unknown."""
        if currency is None or currency == self.company_currency:
            return Decimal(1)
        return self.fx_to_company.get(currency)

    _match_memo: dict[tuple[str, tuple[str | None, ...]], list[LineMatch]] = field(
        default_factory=dict, repr=False
    )
    _po_index: dict[str, POIndex] = field(default_factory=dict, repr=False)
    _po_index_of: int = -1  # id of the po_lines dict the index was built from
    _by_gross: dict[Decimal | None, list[DocRef]] = field(default_factory=dict, repr=False)
    _indexed: tuple[int, int] = (0, -1)  # (id of the history list, entries indexed)
    _facts_inv: object = field(default=None, repr=False)
    _facts: InvoiceFacts | None = field(default=None, repr=False)

    # ---------------------------------------------------------------- vendor and line matching
    def resolve_vendor(self, inv: InvoiceModel | ExtractedInvoice) -> Vendor | None:
        """The vendor-master record of the seller: pinned id, VAT id, then normalised name."""
        pinned = inv.vendor_id if isinstance(inv, InvoiceModel) else None  # a reviewer's pin
        if pinned:
            return self.vendors.get(pinned)
        vat = inv.seller_vat_id
        if vat:
            v = self.vendors_by_vat.get(
                vat if vat.isupper() and " " not in vat else vat.replace(" ", "").upper()
            )
            if v is not None:
                return v
        return self.vendors_by_name.get(norm_vendor(inv.seller_name)) if inv.seller_name else None

    def po_index(self, po_number: str) -> POIndex:
        if self._po_index_of != id(self.po_lines):
            self._po_index = {}
            self._po_index_of = id(self.po_lines)
        found = self._po_index.get(po_number)
        if found is None:
            goods: list[POLine] = []
            by_item: dict[str, POLine] = {}
            charges: dict[str, POLine] = {}
            for p in self.po_lines.get(po_number, ()):
                if p.charge_code:
                    charges.setdefault(p.charge_code, p)
                else:
                    goods.append(p)
                    if p.item:
                        by_item[p.item.upper()] = p
            found = POIndex(goods, by_item, charges)
            self._po_index[po_number] = found
        return found

    def matches(self, inv: InvoiceModel | ExtractedInvoice) -> list[LineMatch]:
        """Invoice lines paired with PO lines (memoised on PO and descriptions)."""
        po = inv.po_number or ""
        memo_key = (po, tuple([ln.description for ln in inv.lines]))
        found = self._match_memo.get(memo_key)
        if found is None:
            index = self.po_index(po)
            found = match_indexed(
                memo_key[1],
                index.goods,
                index.by_item,
                index.charges,
                self.charge_keywords,
                min_similarity=self.tolerances.min_similarity,
            )
            if len(self._match_memo) > 200_000:
                self._match_memo.clear()
            self._match_memo[memo_key] = found
        return found

    def compute_facts(self, inv: InvoiceModel | ExtractedInvoice) -> InvoiceFacts:
        vendor = self.resolve_vendor(inv)
        lines = self.po_lines.get(inv.po_number or "") or []
        po = lines if vendor is not None and lines and lines[0].vendor_id == vendor.vendor_id else None
        return InvoiceFacts(vendor, lines, po, self.matches(inv) if po is not None else [])

    def begin(self, inv: object) -> None:
        """Start checking ``inv``: its facts are computed afresh on first use and then shared by
        every rule until :meth:`end` (the rule set calls both around its rules)."""
        self._facts_inv, self._facts = inv, None

    def end(self) -> None:
        self._facts_inv, self._facts = None, None

    def facts(self, inv: InvoiceModel) -> InvoiceFacts:
        """The shared match step: computed once per invoice inside a ``RULES.check``; outside one
        (a rule called on its own) always computed afresh."""
        if self._facts_inv is inv:
            found = self._facts
            if found is None:
                found = self._facts = self.compute_facts(inv)
            return found
        return self.compute_facts(inv)

    # ------------------------------------------------------------------------------ duplicates
    def add_run_invoice(self, doc: DocRef) -> bool:
        """Add an invoice of the run to the history; True when it duplicates an earlier one
        (same vendor and gross, same normalised reference, dates within the window)."""
        self.same_amount(doc.gross)  # bring the index up to date first
        bucket = self._by_gross.get(doc.gross)
        dup = False
        if bucket is None:
            self._by_gross[doc.gross] = [doc]
        else:
            dup = _duplicates_one(doc, bucket, self.tolerances.dup_window_days)
            bucket.append(doc)
        self.history.append(doc)
        self._indexed = (id(self.history), len(self.history))
        return dup

    def add_history(self, doc: DocRef) -> None:
        self.same_amount(doc.gross)  # bring the index up to date first
        self.history.append(doc)
        self._by_gross.setdefault(doc.gross, []).append(doc)
        self._indexed = (id(self.history), len(self.history))

    def same_amount(self, gross: Decimal | None) -> list[DocRef]:
        """Earlier documents with this gross amount (both duplicate tests need an equal amount)."""
        if self._indexed != (id(self.history), len(self.history)):
            self._by_gross = {}
            for doc in self.history:
                self._by_gross.setdefault(doc.gross, []).append(doc)
            self._indexed = (id(self.history), len(self.history))
        return self._by_gross.get(gross, [])

    def earlier(self, key: str, gross: Decimal | None) -> list[DocRef]:
        """Invoices before ``key`` with the same gross: all ledger entries, and run invoices
        ordered before it."""
        same = self.same_amount(gross)
        if not same or (len(same) == 1 and same[0].key == key):
            return []
        mine = self.order.get(key)
        out = []
        for doc in same:
            if doc.key == key:
                continue
            if doc.origin == "run" and mine is not None and self.order.get(doc.key, -1) > mine:
                continue
            out.append(doc)
        return out


def _duplicates_one(doc: DocRef, history: list[DocRef], window: int) -> bool:
    if doc.gross is None:
        return False
    for h in history:
        if not (
            (doc.vendor_id and h.vendor_id == doc.vendor_id)
            or (doc.vendor_norm and h.vendor_norm == doc.vendor_norm)
        ):
            continue
        if h.gross != doc.gross:
            continue
        if (
            h.ref_norm
            and h.ref_norm == doc.ref_norm
            and doc.issue_date
            and h.issue_date
            and abs((doc.issue_date - h.issue_date).days) <= window
        ):
            return True
    return False
