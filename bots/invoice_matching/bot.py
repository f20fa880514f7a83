"""Invoice-matching bot: invoice PDFs vs purchase orders vs goods receipts (see README.md).

Steps:

1. ``context``: reads the vendor master, POs, receipts, the output ledger and every invoice in
   the directory (once, cached by file identity), then orders the run's invoices by issue date
   and file name to give each one what was billed before it (cumulative partial invoicing) and
   the invoices it may duplicate.
2. ``read``: one item per PDF, keyed by hash(file name, sha256); the PDF, its pages as PNG
   (``connectors.pdf.render_pages``) and a JSON of the matched PO lines and receipts are stored
   as evidence. Unreadable PDFs become ``INPUT`` items (with the PDF as evidence).
3. The runner validates ``InvoiceModel`` and applies ``RULES``.
4. ``act``: straight-through invoices are appended to the xlsx ledger under a file lock; a key
   already in the ledger is not posted again (idempotent), and the posting is audited by the
   runner as ``invoice.posted``.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from backoffice.errors import ConfigError, InputError, TransientError
from backoffice.items import EvidenceRef, Item, SourceRef, file_sha256, make_key
from backoffice.rules import RuleSet
from backoffice.runner import Outcome, RunContext
from bots.invoice_matching.matching import norm_ref, norm_vendor
from bots.invoice_matching.models import DocRef, InvoiceModel, MatchContext, Tolerances
from bots.invoice_matching.rules import RULES, resolve_vendor
from connectors.einvoice import HEADER_FIELDS, ExtractedInvoice
from connectors.pdf import extract_invoice, render_pages
from connectors.purchasing import (
    LedgerEntry,
    LedgerLine,
    POLine,
    Receipt,
    Vendor,
    append_ledger,
    ledger_lock,
    read_ledger,
    read_purchase_orders,
    read_receipts,
    read_vendors,
)

__all__ = ["InvoiceMatchingBot", "bot", "invoice_files"]

log = logging.getLogger("bots.invoice_matching")

_EXTRACT_CACHE: dict[tuple[str, int, int], tuple[str, ExtractedInvoice | InputError]] = {}


@dataclass(frozen=True)
class Loaded:
    """One input PDF: its key and sha256, and the extraction or the error that stopped it."""

    path: Path
    key: str
    sha256: str
    result: ExtractedInvoice | InputError


def invoice_files(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise InputError("invoice directory not found", file=str(d))
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")


def load_invoice(path: Path) -> Loaded:
    """Extract one PDF (cached by path, size and mtime, so context and read share the work)."""
    st = path.stat()
    ident = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    cached = _EXTRACT_CACHE.get(ident)
    if cached is None:
        sha = file_sha256(path)
        try:
            result: ExtractedInvoice | InputError = extract_invoice(path)
        except InputError as exc:
            result = exc
        cached = (sha, result)
        if len(_EXTRACT_CACHE) > 20_000:
            _EXTRACT_CACHE.clear()
        _EXTRACT_CACHE[ident] = cached
    sha, result = cached
    return Loaded(path, make_key("invoice", path.name, sha), sha, result)


def to_payload(loaded: Loaded) -> dict[str, Any]:
    """The item payload: the extraction's fields with their own types (``Decimal``, ``date``), so
    ``InvoiceModel`` validates them without re-parsing strings; the store keeps its canonical JSON
    (decimal strings, ISO dates), which validates to the same model."""
    inv = loaded.result
    if not isinstance(inv, ExtractedInvoice):
        raise TypeError("to_payload needs an extracted invoice")
    data: dict[str, Any] = {name: getattr(inv, name) for name in HEADER_FIELDS}
    data["lines"] = [
        {
            "description": ln.description,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "line_amount": ln.line_amount,
            "tax_rate": ln.tax_rate,
        }
        for ln in inv.lines
    ]
    data.update(
        key=loaded.key,
        file=loaded.path.name,
        sha256=loaded.sha256,
        source=inv.source,
        syntax=inv.syntax,
        pages=inv.pages,
        extraction_errors=list(inv.errors),
    )
    return data


def _ledger_path(inputs: dict[str, Any], run: RunContext) -> Path:
    return Path(inputs.get("ledger") or run.settings.home / "invoice_ledger.xlsx")


def _require(inputs: dict[str, Any], name: str) -> Path:
    value = inputs.get(name)
    if not value:
        raise ConfigError(f"input {name!r} is required")
    return Path(value)


class InvoiceMatchingBot:
    name: str = "invoice-matching"
    model: type[BaseModel] = InvoiceModel
    ruleset: RuleSet = RULES

    # -------------------------------------------------------------------------------- context
    def context(self, inputs: dict[str, Any], run: RunContext) -> MatchContext:
        company = run.settings.company_currency
        vendors = read_vendors(_require(inputs, "vendors"))
        pos = read_purchase_orders(_require(inputs, "pos"), company_currency=company)
        receipts = read_receipts(_require(inputs, "receipts"))
        ledger = read_ledger(_ledger_path(inputs, run))
        loaded = [load_invoice(p) for p in invoice_files(_require(inputs, "invoices"))]
        return build_context(
            vendors, pos, receipts, ledger.entries.values(), loaded, company, inputs.get("fx")
        )

    # ----------------------------------------------------------------------------------- read
    def read(self, inputs: dict[str, Any], run: RunContext) -> Iterator[Item]:
        pos = _po_index(
            read_purchase_orders(_require(inputs, "pos"), company_currency=run.settings.company_currency)
        )
        receipts = read_receipts(_require(inputs, "receipts"))
        for path in invoice_files(_require(inputs, "invoices")):
            loaded = load_invoice(path)
            source = SourceRef(file=str(path), locator=None, sha256=loaded.sha256)
            evidence = _pdf_evidence(run, path)
            if isinstance(loaded.result, InputError):
                item = Item.from_input_error(self.name, loaded.key, loaded.result, source)
                item.evidence = evidence
                yield item
                continue
            inv = loaded.result
            source.locator = f"{inv.pages} page(s), {inv.source}"
            evidence.append(_match_evidence(run, inv, pos, receipts))
            yield Item(
                bot=self.name,
                key=loaded.key,
                payload=to_payload(loaded),
                source=source,
                amount=inv.gross_total,
                currency=inv.currency,
                evidence=evidence,
            )

    # ------------------------------------------------------------------------------------ act
    def act(self, items: list[Item], ctx: MatchContext, run: RunContext) -> list[Outcome]:
        path = _ledger_path(run.inputs, run)
        entries: list[LedgerEntry] = []
        for it in items:
            inv = (
                it.parsed if isinstance(it.parsed, InvoiceModel) else InvoiceModel.model_validate(it.payload)
            )
            entries.append(ledger_entry(inv, ctx, run.run_id))
        try:
            with ledger_lock(path):
                added = set(append_ledger(path, entries))
        except PermissionError as exc:  # e.g. the workbook is open in Excel on a share
            raise TransientError(f"ledger {path} is locked: {exc}") from exc
        out = []
        for e in entries:
            out.append(
                Outcome(
                    key=e.key,
                    ok=True,
                    action="invoice.posted",
                    result={
                        "ledger": str(path),
                        "posted": e.key in added,
                        "already_posted": e.key not in added,
                        "vendor_id": e.vendor_id,
                        "invoice_number": e.invoice_number,
                        "gross_total": str(e.gross_total),
                        "currency": e.currency,
                        "po_number": e.po_number,
                    },
                )
            )
        return out


def _pdf_evidence(run: RunContext, path: Path) -> list[EvidenceRef]:
    """The PDF itself and its page(s) as PNG (the first EVIDENCE_MAX_PAGES), each stored and hashed
    like any evidence. A PDF that cannot be rendered (corrupt, encrypted) keeps the PDF only; its
    item carries the INPUT error that says why."""
    if not path.stat().st_size:
        return []
    refs = [run.store_evidence(path, path.name, "application/pdf")]
    try:
        pages = render_pages(path)
    except InputError as exc:
        log.info("%s: no page images: %s", path.name, exc)
        return refs
    for number, png in enumerate(pages, start=1):
        refs.append(run.store_evidence(png, f"{path.stem}-page-{number}.png", "image/png"))
    return refs


def _po_index(pos: list[POLine]) -> dict[str, list[POLine]]:
    out: dict[str, list[POLine]] = {}
    for p in pos:
        out.setdefault(p.po_number, []).append(p)
    return out


def _match_evidence(
    run: RunContext, inv: ExtractedInvoice, pos: dict[str, list[POLine]], receipts: list[Receipt]
) -> EvidenceRef:
    lines = pos.get(inv.po_number or "", [])
    wanted = {(p.po_number, p.po_line) for p in lines}
    doc = {
        "invoice": {"number": inv.invoice_number, "po_number": inv.po_number, "file": inv.file},
        "po_lines": [p.to_json() for p in lines],
        "receipts": [
            {
                "receipt_id": r.receipt_id,
                "po_number": r.po_number,
                "po_line": r.po_line,
                "quantity": str(r.quantity),
                "receipt_date": r.receipt_date.isoformat() if r.receipt_date else None,
                "source": r.locator,
            }
            for r in receipts
            if (r.po_number, r.po_line) in wanted
        ],
    }
    data = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True).encode()
    return run.store_evidence(data, f"po-match-{inv.po_number or 'none'}.json", "application/json")


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while the context's indexes are built: they are
    hundreds of thousands of small acyclic objects that all stay alive, so the collector's passes
    over them (about half of the build time at 100,000 lines) find nothing to free. Reference
    counting still frees everything; the collector is resumed (if it was on) on the way out."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def build_context(
    vendors: list[Vendor],
    pos: list[POLine],
    receipts: list[Receipt],
    ledger: Any,
    loaded: list[Loaded],
    company_currency: str = "EUR",
    fx: dict[str, str] | None = None,
    tolerances: Tolerances | None = None,
) -> MatchContext:
    """The rules' look-ups; ``ledger`` is an iterable of LedgerEntry (posted invoices)."""
    with _bulk_allocation():
        return _build_context(vendors, pos, receipts, ledger, loaded, company_currency, fx, tolerances)


def _build_context(
    vendors: list[Vendor],
    pos: list[POLine],
    receipts: list[Receipt],
    ledger: Any,
    loaded: list[Loaded],
    company_currency: str,
    fx: dict[str, str] | None,
    tolerances: Tolerances | None,
) -> MatchContext:
    tol = tolerances or Tolerances.from_params(RULES.params)
    ctx = MatchContext(tolerances=tol, company_currency=company_currency)
    ctx.fx_to_company = {k.upper(): Decimal(str(v)) for k, v in (fx or {}).items()}
    for v in vendors:
        ctx.vendors[v.vendor_id] = v
        if v.vat_id:
            ctx.vendors_by_vat[v.vat_id] = v
        ctx.vendors_by_name.setdefault(norm_vendor(v.name), v)
    ctx.po_lines = _po_index(pos)
    for r in receipts:
        k = (r.po_number, r.po_line)
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
                vendor_norm=norm_vendor(vendor.name if vendor else entry.vendor_name),
                currency=entry.currency,
                gross=entry.gross_total,
                number=entry.invoice_number,
                ref_norm=norm_ref(entry.invoice_number),
                issue_date=entry.issue_date,
                file=entry.file,
                origin="ledger",
            )
        )
        for line in entry.lines:
            if line.po_number and line.po_line is not None and line.quantity is not None:
                k = (line.po_number, line.po_line)
                billed = running.setdefault(line.po_number, {})
                billed[k] = billed.get(k, Decimal(0)) + line.quantity

    readable = [(ld, ld.result) for ld in loaded if isinstance(ld.result, ExtractedInvoice)]
    readable.sort(key=lambda pair: (pair[1].issue_date or date.max, pair[0].path.name))
    order, prior_qty = ctx.order, ctx.prior_qty
    for n, (ld, model) in enumerate(readable):
        # the extraction already carries typed values: no need for a pydantic round trip here
        key = ld.key
        order[key] = n
        # what was billed before this invoice, for the lines of its PO (cumulative partial invoicing)
        before = running.get(model.po_number or "")
        if before:
            prior_qty[key] = before.copy()
        # the history of invoices for the duplicate checks (run invoices after the ledger)
        vendor = ctx.resolve_vendor(model)
        doc = DocRef(
            key,
            vendor.vendor_id if vendor else None,
            norm_vendor(vendor.name if vendor else model.seller_name),
            model.currency,
            model.gross_total,
            model.invoice_number,
            norm_ref(model.invoice_number),
            model.issue_date,
            ld.path.name,
            "run",
        )
        if ctx.add_run_invoice(doc):
            continue  # a duplicate's quantities are not billed a second time
        lines = model.lines
        for m in ctx.matches(model):
            po_line = m.po_line
            if m.kind == "goods" and po_line is not None:
                qty = lines[m.index].quantity
                if qty is not None:
                    k = (po_line.po_number, po_line.po_line)
                    of_po = running.get(po_line.po_number)
                    if of_po is None:
                        of_po = running[po_line.po_number] = {}
                    q = of_po.get(k)
                    of_po[k] = qty if q is None else q + qty
    return ctx


def ledger_entry(inv: InvoiceModel, ctx: MatchContext, run_id: str) -> LedgerEntry:
    vendor = resolve_vendor(inv, ctx)
    matches = ctx.matches(inv) if vendor is not None else []
    by_index = {m.index: m for m in matches}
    lines = []
    for i, ln in enumerate(inv.lines):
        m = by_index.get(i)
        po_line = m.po_line if m is not None else None
        lines.append(
            LedgerLine(
                key=inv.key,
                invoice_number=inv.invoice_number or "",
                po_number=inv.po_number,
                po_line=po_line.po_line
                if (po_line is not None and m is not None and m.kind == "goods")
                else None,
                charge_code=m.charge_code if m is not None else None,
                description=ln.description,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                line_amount=ln.line_amount,
                tax_rate=ln.tax_rate,
            )
        )
    return LedgerEntry(
        key=inv.key,
        vendor_id=vendor.vendor_id if vendor else "",
        vendor_name=vendor.name if vendor else (inv.seller_name or ""),
        invoice_number=inv.invoice_number or "",
        issue_date=inv.issue_date,
        due_date=inv.due_date,
        currency=inv.currency or ctx.company_currency,
        net_total=inv.net_total,
        tax_total=inv.tax_total,
        gross_total=inv.gross_total if inv.gross_total is not None else Decimal(0),
        po_number=inv.po_number,
        file=inv.file,
        sha256=inv.sha256,
        run_id=run_id,
        posted_at=datetime.now(UTC),
        lines=tuple(lines),
    )


bot = InvoiceMatchingBot()
