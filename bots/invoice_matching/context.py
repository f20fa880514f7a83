"""The look-ups the invoice rules read (``MatchContext``), built once per run by ``build_context``
from the masters, the posted ledger and every invoice of the run's directory.

The context orders the run's invoices by issue date and file name, and gives each one what was
billed before it (cumulative partial invoicing) and the invoices it may duplicate. Its memos
(line matches, PO indexes, normalised vendor names) live in the context, so they end with the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from backoffice.collector import collector_paused
from bots.invoice_matching.invoices import Loaded
from bots.invoice_matching.matching import (
    DEFAULT_CHARGE_KEYWORDS,
    LineMatch,
    header_po,
    line_orders,
    match_indexed,
    norm_ref,
    norm_vendor,
)
from bots.invoice_matching.models import InvoiceModel, Tolerances
from connectors.einvoice import ExtractedInvoice
from connectors.purchasing import LedgerEntry, POLine, Receipt, Vendor

__all__ = [
    "DocRef",
    "InvoiceFacts",
    "MatchContext",
    "Matched",
    "POIndex",
    "build_context",
    "po_lines_by_po",
]


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


class Matched(list[LineMatch]):
    """An invoice's line matches (one per line, in line order) as :meth:`MatchContext._matched`
    memoises them: a list that also says whether a PO line is billed on more than one line (one
    object per memoised invoice, not a list and a tuple around it)."""

    __slots__ = ("repeated",)
    repeated: bool  # set by ``_remember`` on every one it makes


@dataclass(slots=True)
class InvoiceFacts:
    """The per-invoice look-ups every rule needs, computed once per ``RULES.check`` (the shared
    match step): the resolved vendor, the POs the invoice bills (its header PO, or its buyer
    reference when that names a PO, and the POs its lines name), their lines, and the invoice's
    lines paired with PO lines."""

    vendor: Vendor | None
    po_lines: list[POLine]  # the lines of every PO it bills, whoever they belong to
    po: list[POLine] | None  # the same when every PO exists and belongs to the vendor, else None
    matches: list[LineMatch]  # [] when ``po`` is None
    po_numbers: list[str] = field(default_factory=list)  # header PO first, then the lines' own
    repeated: bool = False  # a PO line is billed on more than one of the invoice's lines


@dataclass(slots=True)
class POIndex:
    """One PO's lines arranged for line matching (built once per PO, on first use)."""

    goods: list[POLine]
    by_item: dict[str, POLine]
    charges: dict[str, POLine]
    keys: dict[int, tuple[str, int]]  # goods line number -> its (PO, line) key, the run's one tuple


@dataclass
class MatchContext:
    """Everything the rules look up. Built once per run by :func:`build_context` (the bot's ``open``)."""

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
    # (vendor id, invoice number) -> PO, of the posted invoices and the run's: the PO of the
    # invoice a credit note corrects (BT-25) when the note names none
    invoice_pos: dict[tuple[str, str], str] = field(default_factory=dict)
    charge_keywords: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHARGE_KEYWORDS))

    def vendor_norm(self, name: str | None) -> str:
        """:func:`~bots.invoice_matching.matching.norm_vendor`, memoised for this run."""
        if not name:
            return ""
        found = self._vendor_norms.get(name)
        if found is None:
            found = self._vendor_norms[name] = norm_vendor(name)
        return found

    def ref_norm(self, number: str | None) -> str:
        """:func:`~bots.invoice_matching.matching.norm_ref` of an invoice number, memoised for
        this run (``build_context`` normalises every number once; the duplicate rule reads it)."""
        if not number:
            return ""
        found = self._ref_norms.get(number)
        if found is None:
            found = self._ref_norms[number] = norm_ref(number)
        return found

    def fx(self, currency: str | None) -> Decimal | None:
        """Rate from ``currency`` to the company currency; None when unknown."""
        if currency is None or currency == self.company_currency:
            return _ONE
        return self.fx_to_company.get(currency)

    _vendor_norms: dict[str, str] = field(default_factory=dict, repr=False)
    _ref_norms: dict[str, str] = field(default_factory=dict, repr=False)
    _match_memo: dict[tuple[object, ...], Matched] = field(default_factory=dict, repr=False)
    _po_keys: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict, repr=False)
    _po_index: dict[str, POIndex] = field(default_factory=dict, repr=False)
    _po_index_of: int = -1  # id of the po_lines dict the index was built from
    # the history by (gross, normalised reference): an exact duplicate has the same number, so
    # the same normalised one, and a fuzzy one the same normalised reference, so every document
    # an invoice may duplicate is in its own bucket (no pairwise scan of same-amount invoices)
    _dup_index: dict[tuple[Decimal | None, str], list[DocRef]] = field(default_factory=dict, repr=False)
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
        return self.vendors_by_name.get(self.vendor_norm(inv.seller_name)) if inv.seller_name else None

    def po_index(self, po_number: str) -> POIndex:
        if self._po_index_of != id(self.po_lines):
            self._po_index = {}
            self._po_index_of = id(self.po_lines)
        found = self._po_index.get(po_number)
        if found is None:
            goods: list[POLine] = []
            by_item: dict[str, POLine] = {}
            charges: dict[str, POLine] = {}
            keys: dict[int, tuple[str, int]] = {}
            shared = self._po_keys
            for p in self.po_lines.get(po_number, ()):
                if p.charge_code:
                    charges.setdefault(p.charge_code, p)
                else:
                    goods.append(p)
                    if p.item:
                        by_item[p.item.upper()] = p
                    if p.po_number == po_number:  # the key a match of it gets (``_remember``)
                        k = (p.po_number, p.po_line)
                        keys.setdefault(p.po_line, shared.setdefault(k, k))
            found = POIndex(goods, by_item, charges, keys)
            self._po_index[po_number] = found
        return found

    def header_po(self, inv: InvoiceModel | ExtractedInvoice) -> str | None:
        """The invoice's PO: BT-13, else its buyer reference (BT-10) when that names a known PO,
        else (a credit note) the PO of the invoice it corrects (BT-25), posted or in this run."""
        found = inv.po_number
        if found:  # the usual case
            return found
        found = header_po(None, inv.buyer_reference, self.po_lines)
        if found is None and inv.preceding_invoice and self.invoice_pos:
            vendor = self.resolve_vendor(inv)
            if vendor is not None:
                return self.invoice_pos.get((vendor.vendor_id, inv.preceding_invoice))
        return found

    def route(
        self, inv: InvoiceModel | ExtractedInvoice
    ) -> tuple[str | None, list[tuple[str | None, str | None]] | None]:
        """The invoice's header PO and, when a line names its own order, ``(PO, PO line)`` per
        line (:meth:`line_orders`); ``None`` for the usual case, every line billing the header PO.
        The header PO is worked out once for both."""
        header = inv.po_number or self.header_po(inv)  # BT-13 without the call: the usual case
        lines = inv.lines
        for ln in lines:
            if ln.order_reference:
                return header, line_orders([ln.order_reference for ln in lines], header, self.po_lines)
        return header, None

    def line_orders(self, inv: InvoiceModel | ExtractedInvoice) -> list[tuple[str | None, str | None]]:
        """``(PO, PO line)`` per invoice line: the line's own order reference, else the header PO."""
        header, orders = self.route(inv)
        return [(header, None)] * len(inv.lines) if orders is None else orders

    def po_numbers(self, inv: InvoiceModel | ExtractedInvoice) -> list[str]:
        """The POs the invoice bills: header PO first, then the lines' own, each once."""
        return _po_numbers(*self.route(inv))

    def matches(self, inv: InvoiceModel | ExtractedInvoice) -> list[LineMatch]:
        """Invoice lines paired with PO lines, each against the PO it bills (its own order
        reference, else the header PO): a line naming its PO line is matched to it; the others by
        item code, charge keyword, then description (memoised on POs and descriptions)."""
        return self._matches(inv, *self.route(inv))

    def _matches(
        self,
        inv: InvoiceModel | ExtractedInvoice,
        header: str | None,
        orders: list[tuple[str | None, str | None]] | None,
    ) -> list[LineMatch]:
        return self._matched(inv, header, orders)

    def _matched(
        self,
        inv: InvoiceModel | ExtractedInvoice,
        header: str | None,
        orders: list[tuple[str | None, str | None]] | None,
    ) -> Matched:
        """The line matches, and whether a PO line is billed on more than one line (memoised on
        the PO, or the lines' orders, and the descriptions: one flat tuple, whose first item, a
        PO number or the orders' tuple, tells the two kinds of key apart)."""
        if orders is None:  # the usual case: one PO for all lines
            po = header or ""
            memo_key: tuple[object, ...] = (po, *[ln.description for ln in inv.lines])
            found = self._match_memo.get(memo_key)
            if found is None:
                found = self._remember(memo_key, self._match_po(po, memo_key[1:]))  # type: ignore[arg-type]
            return found
        memo_key = (tuple(orders), *[ln.description for ln in inv.lines])
        found = self._match_memo.get(memo_key)
        if found is None:
            found = self._remember(memo_key, self._match_orders(orders, memo_key[1:]))  # type: ignore[arg-type]
        return found

    def _remember(self, memo_key: tuple[object, ...], matches: list[LineMatch]) -> Matched:
        """Memoise ``matches``, each goods match keyed by its PO line (:attr:`LineMatch.key`, one
        tuple per PO line for the whole run, the same object as in ``received``)."""
        if len(self._match_memo) > 200_000:
            self._match_memo.clear()
        keys = self._po_keys
        billed: list[tuple[str, int]] = []
        for m in matches:
            k = m.key  # set by ``match_indexed`` on the goods matches of one PO
            if k is None:
                p = m.po_line
                if p is None or m.kind != "goods":
                    continue
                k = (p.po_number, p.po_line)
                k = m.key = keys.setdefault(k, k)
            billed.append(k)
        found = self._match_memo[memo_key] = Matched(matches)
        found.repeated = len(billed) > 1 and len(set(billed)) < len(billed)
        return found

    def _match_po(self, po: str, descriptions: tuple[str | None, ...]) -> list[LineMatch]:
        index = self.po_index(po)
        return match_indexed(
            descriptions,
            index.goods,
            index.by_item,
            index.charges,
            self.charge_keywords,
            min_similarity=self.tolerances.min_similarity,
            po=po or None,
            keys=index.keys,
        )

    def _match_orders(
        self, orders: list[tuple[str | None, str | None]], descriptions: tuple[str | None, ...]
    ) -> list[LineMatch]:
        out: list[LineMatch | None] = [None] * len(descriptions)
        by_po: dict[str, list[int]] = {}
        for i, (po, line_id) in enumerate(orders):
            if not po:
                out[i] = LineMatch(i, "unmatched")
                continue
            target = self._po_line(po, line_id)
            if target is not None:
                kind = "charge" if target.charge_code else "goods"
                out[i] = LineMatch(
                    i, kind, target, charge_code=target.charge_code, how="order line reference", po=po
                )
            else:
                by_po.setdefault(po, []).append(i)
        for po, indexes in by_po.items():
            for k, m in zip(
                indexes, self._match_po(po, tuple(descriptions[i] for i in indexes)), strict=True
            ):
                m.index = k
                out[k] = m
        return [m for m in out if m is not None]

    def _po_line(self, po: str, line_id: str | None) -> POLine | None:
        """The line of ``po`` an invoice line names by its PO line id (BT-132), if it is on the PO."""
        if not line_id:
            return None
        wanted = line_id.strip().lstrip("0") or "0"
        for p in self.po_lines.get(po, ()):
            if str(p.po_line) == wanted:
                return p
        return None

    def compute_facts(self, inv: InvoiceModel | ExtractedInvoice) -> InvoiceFacts:
        vendor = self.resolve_vendor(inv)
        header, orders = self.route(inv)
        po_lines = self.po_lines
        if orders is None:  # the usual case: one PO (or none) for every line
            numbers = [header] if header else []
            lines = (po_lines.get(header) if header else None) or []
            po = lines if lines and vendor is not None and lines[0].vendor_id == vendor.vendor_id else None
        else:
            numbers = _po_numbers(header, orders)
            if len(numbers) == 1:
                lines = po_lines.get(numbers[0]) or []
                ok = bool(lines)
            else:
                lines = [p for n in numbers for p in po_lines.get(n, ())]
                ok = bool(numbers) and all(n in po_lines for n in numbers)
            po = (
                lines
                if ok
                and vendor is not None
                and all(p.vendor_id == vendor.vendor_id for p in self.first_lines(numbers))
                else None
            )
        if po is None:
            return InvoiceFacts(vendor, lines, None, [], numbers)
        matches = self._matched(inv, header, orders)
        return InvoiceFacts(vendor, lines, po, matches, numbers, matches.repeated)

    def first_lines(self, numbers: list[str]) -> list[POLine]:
        """The first line of each of these POs that exists (vendor and currency are per PO)."""
        return [self.po_lines[po][0] for po in numbers if self.po_lines.get(po)]

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
        index = self._dup_index if self._indexed == (id(self.history), len(self.history)) else self._reindex()
        return self._add_run_invoice(doc, index)

    def _add_run_invoice(self, doc: DocRef, index: dict[tuple[Decimal | None, str], list[DocRef]]) -> bool:
        """:meth:`add_run_invoice` with the duplicate index in hand (``build_context`` looks it
        up once for the whole run)."""
        bucket_key = (doc.gross, doc.ref_norm)
        bucket = index.get(bucket_key)
        dup = False
        if bucket is None:
            index[bucket_key] = [doc]
        else:
            dup = _duplicates_one(doc, bucket, self.tolerances.dup_window_days)
            bucket.append(doc)
        history = self.history
        history.append(doc)
        self._indexed = (id(history), len(history))
        return dup

    def add_history(self, doc: DocRef) -> None:
        index = self._dup_index if self._indexed == (id(self.history), len(self.history)) else self._reindex()
        self.history.append(doc)
        index.setdefault((doc.gross, doc.ref_norm), []).append(doc)
        self._indexed = (id(self.history), len(self.history))

    def _reindex(self) -> dict[tuple[Decimal | None, str], list[DocRef]]:
        """The duplicate index rebuilt from ``history`` (which a caller may have replaced)."""
        index: dict[tuple[Decimal | None, str], list[DocRef]] = {}
        for doc in self.history:
            index.setdefault((doc.gross, doc.ref_norm), []).append(doc)
        self._dup_index = index
        self._indexed = (id(self.history), len(self.history))
        return index

    def earlier(self, key: str, gross: Decimal | None, ref: str) -> list[DocRef]:
        """The documents before ``key`` it may duplicate: those with the same gross and the same
        normalised reference ``ref`` (:func:`~bots.invoice_matching.matching.norm_ref` of its
        number), all ledger entries and the run invoices ordered before it, in history order."""
        index = self._dup_index if self._indexed == (id(self.history), len(self.history)) else self._reindex()
        same = index.get((gross, ref))
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


_ONE = Decimal(1)


def _first(item: tuple[tuple[date, str], Loaded, ExtractedInvoice]) -> tuple[date, str]:
    return item[0]


def _po_numbers(header: str | None, orders: list[tuple[str | None, str | None]] | None) -> list[str]:
    """The POs an invoice bills, from :meth:`MatchContext.route`: header PO first, then the
    lines' own, each once."""
    out = [header] if header else []
    if orders:
        for po, _ in orders:
            if po and po not in out:
                out.append(po)
    return out


def _duplicates_one(doc: DocRef, history: list[DocRef], window: int) -> bool:
    """True when ``doc`` is a fuzzy duplicate of one of ``history`` (its bucket of the index)."""
    if doc.gross is None or not doc.ref_norm:
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


def po_lines_by_po(pos: Iterable[POLine]) -> dict[str, list[POLine]]:
    """PO lines grouped by PO number, in file order."""
    out: dict[str, list[POLine]] = {}
    for p in pos:
        out.setdefault(p.po_number, []).append(p)
    return out


def build_context(
    vendors: list[Vendor],
    pos: list[POLine],
    receipts: list[Receipt],
    ledger: Iterable[LedgerEntry],
    loaded: list[Loaded],
    company_currency: str = "EUR",
    fx: Mapping[str, Decimal | str] | None = None,
    tolerances: Tolerances | None = None,
) -> MatchContext:
    """The rules' look-ups; ``ledger`` is an iterable of LedgerEntry (posted invoices)."""
    with collector_paused(promote=True):
        return _build_context(vendors, pos, receipts, ledger, loaded, company_currency, fx, tolerances)


def _build_context(
    vendors: list[Vendor],
    pos: list[POLine],
    receipts: list[Receipt],
    ledger: Iterable[LedgerEntry],
    loaded: list[Loaded],
    company_currency: str,
    fx: Mapping[str, Decimal | str] | None,
    tolerances: Tolerances | None,
) -> MatchContext:
    tol = tolerances or Tolerances()
    ctx = MatchContext(tolerances=tol, company_currency=company_currency)
    ctx.fx_to_company = {k.upper(): Decimal(str(v)) for k, v in (fx or {}).items()}
    for v in vendors:
        ctx.vendors[v.vendor_id] = v
        if v.vat_id:
            ctx.vendors_by_vat[v.vat_id] = v
        ctx.vendors_by_name.setdefault(ctx.vendor_norm(v.name), v)
    ctx.po_lines = po_lines_by_po(pos)
    keys = ctx._po_keys  # one (PO, PO line) tuple per PO line, shared by every index keyed by it
    for r in receipts:
        k = (r.po_number, r.po_line)
        k = keys.setdefault(k, k)
        ctx.received[k] = ctx.received.get(k, Decimal(0)) + r.quantity

    run_keys = {ld.key for ld in loaded}
    # quantity billed so far per PO line, grouped by PO: {po_number: {(po_number, po_line): qty}}
    running: dict[str, dict[tuple[str, int], Decimal]] = {}
    for entry in ledger:
        if entry.key in run_keys:
            continue
        vendor = ctx.vendors.get(entry.vendor_id)
        ctx.add_history(
            DocRef(
                key=entry.key,
                vendor_id=entry.vendor_id,
                vendor_norm=ctx.vendor_norm(vendor.name if vendor else entry.vendor_name),
                currency=entry.currency,
                gross=entry.gross_total,
                number=entry.invoice_number,
                ref_norm=norm_ref(entry.invoice_number),
                issue_date=entry.issue_date,
                file=entry.file,
                origin="ledger",
            )
        )
        if entry.po_number and entry.vendor_id and entry.invoice_number:
            ctx.invoice_pos[(entry.vendor_id, entry.invoice_number)] = entry.po_number
        for line in entry.lines:
            if line.po_number and line.po_line is not None and line.quantity is not None:
                k = (line.po_number, line.po_line)
                billed = running.setdefault(line.po_number, {})
                billed[k] = billed.get(k, Decimal(0)) + line.quantity

    # (sort key, loaded, extraction): the file name is read once per invoice, for the order and the history
    readable = [
        ((ld.result.issue_date or date.max, ld.path.name), ld, ld.result)
        for ld in loaded
        if isinstance(ld.result, ExtractedInvoice)
    ]
    readable.sort(key=_first)
    order, prior_qty, invoice_pos = ctx.order, ctx.prior_qty, ctx.invoice_pos
    vendor_norm, ref_norm, resolve_vendor, route = (
        ctx.vendor_norm,
        ctx.ref_norm,
        ctx.resolve_vendor,
        ctx.route,
    )
    dup_index = ctx._dup_index if ctx._indexed == (id(ctx.history), len(ctx.history)) else ctx._reindex()
    for n, ((_, name), ld, model) in enumerate(readable):
        # the extraction already carries typed values: no need for a pydantic round trip here
        key = ld.key
        order[key] = n
        # what was billed before this invoice, for the lines of its POs (cumulative partial invoicing)
        header, orders = route(model)
        if orders is None:
            first_po = header
            before = running.get(header) if header else None
            if before:
                prior_qty[key] = before.copy()
        else:
            numbers = _po_numbers(header, orders)
            first_po = numbers[0] if numbers else None
            merged: dict[tuple[str, int], Decimal] = {}
            for po in numbers:
                merged.update(running.get(po) or {})
            if merged:
                prior_qty[key] = merged
        # the history of invoices for the duplicate checks (run invoices after the ledger)
        vendor = resolve_vendor(model)
        number = model.invoice_number
        doc = DocRef(
            key,
            vendor.vendor_id if vendor else None,
            vendor_norm(vendor.name if vendor else model.seller_name),
            model.currency,
            model.gross_total,
            number,
            ref_norm(number),
            model.issue_date,
            name,
            "run",
        )
        if ctx._add_run_invoice(doc, dup_index):
            continue  # a duplicate's quantities are not billed a second time
        if vendor is not None and number and first_po:
            invoice_pos.setdefault((vendor.vendor_id, number), first_po)
        lines = model.lines
        for m in ctx._matched(model, header, orders):
            at = m.key  # set on the goods matches
            if at is not None:
                qty = lines[m.index].quantity
                if qty is not None:
                    of_po = running.get(at[0])
                    if of_po is None:
                        of_po = running[at[0]] = {}
                    q = of_po.get(at)
                    of_po[at] = qty if q is None else q + qty
    return ctx
