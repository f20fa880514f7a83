"""The evidence stored with every invoice item: the file (a PDF, an XML as it came, any other
file as it came, up to a size) and the PO match; a queued PDF's pages as PNG besides (rendering
is lazy: only for the items a person will look at)."""

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

__all__ = ["file_evidence", "match_evidence", "page_evidence", "pdf_evidence"]

MAX_OTHER_EVIDENCE_BYTES = 50 * 1024 * 1024

log = logging.getLogger("bots.invoice_matching")


def pdf_evidence(run: Run, path: Path, *, pages: bool = True) -> list[EvidenceRef]:
    """The PDF itself and, with ``pages``, its page(s) as PNG (:func:`page_evidence`), each stored
    and hashed like any evidence."""
    if not path.stat().st_size:
        return []
    refs = [run.store_evidence(path, path.name, "application/pdf")]
    return refs + page_evidence(run, path) if pages else refs


def page_evidence(run: Run, path: Path) -> list[EvidenceRef]:
    """The PDF's page(s) as PNG (the first EVIDENCE_MAX_PAGES). A PDF that cannot be rendered
    (corrupt, encrypted) gives none; its item carries the INPUT error that says why."""
    try:
        pages = render_pages(path)
    except InputError as exc:
        log.info("%s: no page images: %s", path.name, exc)
        return []
    return [
        run.store_evidence(png, f"{path.stem}-page-{number}.png", "image/png")
        for number, png in enumerate(pages, start=1)
    ]


def file_evidence(run: Run, path: Path, kind: str | None, *, pages: bool = True) -> list[EvidenceRef]:
    """The evidence of one input file by its kind: a PDF (and its pages, with ``pages``:
    :func:`pdf_evidence`), an XML as it came, any other file as it came when it is not empty and
    not over 50 MiB (its INPUT item says why it was refused either way)."""
    if kind == "pdf":
        return pdf_evidence(run, path, pages=pages)
    size = path.stat().st_size
    if not size:
        return []
    if kind == "xml":
        return [run.store_evidence(path, path.name, "application/xml")]
    if size > MAX_OTHER_EVIDENCE_BYTES:
        log.info("%s: %d bytes, not kept as evidence", path.name, size)
        return []
    return [run.store_evidence(path, path.name, "application/octet-stream")]


def match_evidence(
    run: Run,
    inv: ExtractedInvoice,
    po_lines: Mapping[str, Sequence[POLine]],
    receipts_by_po: Mapping[str, Sequence[Receipt]],
    po_numbers: Sequence[str],
) -> EvidenceRef:
    """A JSON of the invoice's PO lines and the goods receipts against them (file order)."""
    lines = [p for po in po_numbers for p in po_lines.get(po, ())]
    wanted = {(p.po_number, p.po_line) for p in lines}
    doc = {
        "invoice": {
            "number": inv.invoice_number,
            "po_number": inv.po_number,
            "buyer_reference": inv.buyer_reference,
            "po_numbers": list(po_numbers),
            "file": inv.file,
        },
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
            for po in po_numbers
            for r in receipts_by_po.get(po, ())
            if (r.po_number, r.po_line) in wanted
        ],
    }
    data = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True).encode()
    label = "+".join(po_numbers) or "none"
    return run.store_evidence(data, f"po-match-{label[:80]}.json", "application/json")
