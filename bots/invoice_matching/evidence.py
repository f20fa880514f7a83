"""The evidence stored with every invoice item: the PDF, its pages as PNG, and the PO match."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from backoffice.errors import InputError
from backoffice.items import EvidenceRef
from backoffice.runner import Run
from connectors.einvoice import ExtractedInvoice
from connectors.pdf import render_pages
from connectors.purchasing import POLine, Receipt

__all__ = ["match_evidence", "pdf_evidence"]

log = logging.getLogger("bots.invoice_matching")


def pdf_evidence(run: Run, path: Path) -> list[EvidenceRef]:
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


def match_evidence(
    run: Run,
    inv: ExtractedInvoice,
    po_lines: Mapping[str, Sequence[POLine]],
    receipts_by_po: Mapping[str, Sequence[Receipt]],
) -> EvidenceRef:
    """A JSON of the invoice's PO lines and the goods receipts against them (file order)."""
    lines = po_lines.get(inv.po_number or "", [])
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
            for r in receipts_by_po.get(inv.po_number or "", ())
            if (r.po_number, r.po_line) in wanted
        ],
    }
    data = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True).encode()
    return run.store_evidence(data, f"po-match-{inv.po_number or 'none'}.json", "application/json")
