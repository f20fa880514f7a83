"""Invoice-matching bot: invoice PDFs vs purchase orders vs goods receipts (see README.md).

Steps, each handed the run's :class:`InvoiceState`:

1. ``open``: reads the vendor master, POs, receipts, the output ledger and every file in the
   directory (each PDF or XML extracted once; any other file kept as the InputError that says why), then builds the rules' look-ups
   (:func:`~bots.invoice_matching.context.build_context`): the run's invoices ordered by issue
   date and file name, what was billed before each one (cumulative partial invoicing) and the
   invoices it may duplicate. With ``files`` only those files are read later, but the look-ups
   still cover the whole directory, so a part of a split run decides exactly as one run would.
2. ``read``: one item per file (of ``files``), keyed by hash(file name, sha256), from what
   ``open`` loaded; the file (a PDF with its pages as PNG) and a JSON of the matched PO lines
   and receipts are stored as evidence. Files that cannot be read (another kind of file, not an
   invoice, unreadable XML, a PDF that fails) become ``INPUT`` items naming the file and why.
   ``finish`` adds the file counts to the summary: ``files_seen``, ``files_read``,
   ``files_refused``.
3. The runner validates ``InvoiceModel`` and applies the rule set, with the look-ups as context.
4. ``act``: straight-through invoices are appended to the xlsx ledger under a file lock; a key
   already in the ledger is not posted again (idempotent), and the posting is audited by the
   runner as ``invoice.posted``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import typer

from backoffice.contract import Bot, Outcome, State
from backoffice.errors import InputError
from backoffice.items import EvidenceRef, Item, SourceRef
from backoffice.rules import Violation
from backoffice.runner import Run, RunSummary
from bots.invoice_matching.context import MatchContext, build_context
from bots.invoice_matching.evidence import file_evidence, match_evidence, page_evidence
from bots.invoice_matching.invoices import (
    Loaded,
    file_counts,
    invoice_files,
    load_invoices,
    select_files,
    to_payload,
)
from bots.invoice_matching.models import InvoiceMatchingInputs, InvoiceModel, Tolerances
from bots.invoice_matching.posting import ledger_entry, post
from bots.invoice_matching.regions import region_evidence
from bots.invoice_matching.rules import build_ruleset
from connectors.pdf_sandbox import session as pdf_worker_session
from connectors.purchasing import Receipt, read_ledger, read_purchase_orders, read_receipts, read_vendors

__all__ = ["InvoiceMatchingBot", "InvoiceState", "bot", "invoice_files"]


class InvoiceState(State[InvoiceMatchingInputs]):
    """What ``open`` loaded for one run: the ledger path, the invoices to read, the receipts by
    PO (for the match evidence) and the rules' look-ups."""

    def __init__(
        self,
        inputs: InvoiceMatchingInputs,
        run: Run,
        *,
        ledger: Path,
        invoices: list[Loaded],
        receipts_by_po: dict[str, list[Receipt]],
        match: MatchContext,
    ) -> None:
        super().__init__(inputs, run)
        self.ledger = ledger
        self.invoices = invoices
        self.by_key = {ld.key: ld for ld in invoices}
        self.receipts_by_po = receipts_by_po
        self.match = match


class InvoiceMatchingBot(Bot[InvoiceMatchingInputs, InvoiceState]):
    name: ClassVar[str] = "invoice-matching"
    Inputs = InvoiceMatchingInputs
    model = InvoiceModel
    record_class = "financial"
    title_field = "invoice_number"
    party_field = "seller_vat_id"  # the vendor an invoice is about, for the access review
    amount_class = None
    summary_labels = ("invoices", "posted")
    description = (
        "Match invoices (PDF, Factur-X, bare UBL/CII XML) against purchase orders and goods receipts; "
        "post or queue each; every other file in the directory is queued as INPUT."
    )

    def __init__(self, tolerances: Tolerances | None = None) -> None:
        self.tolerances = tolerances or Tolerances()
        self.ruleset = build_ruleset(self.tolerances)

    # ------------------------------------------------------------------------------------ open
    def open(self, inputs: InvoiceMatchingInputs, run: Run) -> InvoiceState:
        company = run.settings.company_currency
        vendors = read_vendors(inputs.vendors)
        pos = read_purchase_orders(inputs.pos, company_currency=company)
        receipts = read_receipts(inputs.receipts)
        ledger_path = inputs.ledger or run.settings.home / "invoice_ledger.xlsx"
        ledger = read_ledger(ledger_path)
        paths = invoice_files(inputs.invoices)
        # a reprocess reads no files: the subset only matters to `read`
        wanted = {p.name for p in select_files(paths, None if run.reprocess else inputs.files)}
        with pdf_worker_session():  # one bounded worker reads the PDFs back to back, each within its limits
            loaded = load_invoices(paths)
        match = build_context(
            vendors, pos, receipts, ledger.entries.values(), loaded, company, inputs.fx, self.tolerances
        )
        receipts_by_po: dict[str, list[Receipt]] = {}
        for r in receipts:
            receipts_by_po.setdefault(r.po_number, []).append(r)
        return InvoiceState(
            inputs,
            run,
            ledger=ledger_path,
            invoices=[ld for ld in loaded if ld.path.name in wanted],
            receipts_by_po=receipts_by_po,
            match=match,
        )

    # ------------------------------------------------------------------------------------ read
    def read(self, state: InvoiceState) -> Iterator[Item]:
        run = state.run
        for loaded in state.invoices:
            path = loaded.path
            source = SourceRef(file=str(path), locator=None, sha256=loaded.sha256)
            if isinstance(loaded.result, InputError):
                item = Item.from_input_error(self.name, loaded.key, loaded.result, source)
                item.evidence = (
                    file_evidence(run, path, loaded.kind) if loaded.sha256 else []
                )  # unopened: none
                yield item
                continue
            # the file itself for every item; its pages are rendered only if it is queued (evidence)
            evidence = file_evidence(run, path, loaded.kind, pages=False) if loaded.sha256 else []
            inv = loaded.result
            source.locator = (
                f"{inv.pages} page(s), {inv.source}" if loaded.kind == "pdf" else f"{inv.syntax} XML"
            )
            evidence.append(
                match_evidence(
                    run, inv, state.match.po_lines, state.receipts_by_po, state.match.po_numbers(inv)
                )
            )
            evidence.extend(region_evidence(run, path, inv))
            yield Item(
                bot=self.name,
                key=loaded.key,
                payload=to_payload(loaded),
                source=source,
                amount=inv.gross_total,
                currency=inv.currency,
                evidence=evidence,
            )

    def rules_context(self, state: InvoiceState) -> MatchContext:
        return state.match

    def evidence(self, item: Item, violations: list[Violation], state: InvoiceState) -> list[EvidenceRef]:
        """A queued PDF's pages as PNG, next to the PDF (rendered here, for the items a person
        will look at, not for every invoice read)."""
        loaded = state.by_key.get(item.key)
        if loaded is None or loaded.kind != "pdf" or not loaded.sha256 or not loaded.path.is_file():
            return []
        return page_evidence(state.run, loaded.path)

    # ------------------------------------------------------------------------------------- act
    def act(self, items: list[Item], state: InvoiceState) -> list[Outcome]:
        entries = [
            ledger_entry(
                it.parsed if isinstance(it.parsed, InvoiceModel) else InvoiceModel.model_validate(it.payload),
                state.match,
                state.run.run_id,
            )
            for it in items
        ]
        added = post(state.ledger, entries)
        return [
            Outcome(
                key=e.key,
                ok=True,
                action="invoice.posted",
                result={
                    "ledger": str(state.ledger),
                    "posted": e.key in added,
                    "already_posted": e.key not in added,
                    "vendor_id": e.vendor_id,
                    "invoice_number": e.invoice_number,
                    "gross_total": str(e.gross_total),
                    "currency": e.currency,
                    "po_number": e.po_number,
                },
            )
            for e in entries
        ]

    def finish(self, state: InvoiceState, summary: RunSummary) -> Mapping[str, Any]:
        """The ledger, and (for a run that read files) the files of the run accounted for: seen,
        read, refused (each refused file is an ``INPUT`` item naming it and why)."""
        if state.run.reprocess:
            return {"ledger": str(state.ledger)}
        return {"ledger": str(state.ledger), **file_counts(state.invoices)}

    # ----------------------------------------------------------------------------- plugin extras
    def commands(self) -> Mapping[str, typer.Typer]:
        from bots.invoice_matching.cli import app

        return {"extract": app}

    def flows(self) -> list[Any]:
        from bots.invoice_matching.split import invoice_matching_part, invoice_matching_split

        return [invoice_matching_split, invoice_matching_part]


bot = InvoiceMatchingBot()
