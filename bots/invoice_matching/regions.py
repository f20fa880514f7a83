"""Evidence for the fields OCR read with low confidence: each field's page region as a PNG."""

from __future__ import annotations

import logging
from pathlib import Path

from backoffice.data_classes import declared
from backoffice.errors import InputError
from backoffice.items import EvidenceRef
from backoffice.runner import Run
from bots.invoice_matching.models import UNREVIEWED_FIELDS, InvoiceModel
from connectors.einvoice import ExtractedInvoice
from connectors.pdf import LOW_CONFIDENCE_CODE, field_region, region_name

__all__ = ["region_evidence"]

log = logging.getLogger("bots.invoice_matching")


def region_evidence(run: Run, path: Path, inv: ExtractedInvoice) -> list[EvidenceRef]:
    """One cropped page image per ``INV-LOW-CONFIDENCE`` field of ``inv``, named by
    :func:`connectors.pdf.region_name` (the name its violation message gives), so the person who
    works the item checks exactly that field. A region that cannot be rendered is logged and
    left out (the violation still names the page).

    A crop of a field the invoice model declares personal (the IBAN) shows the whole value: it is
    stored as an ordinary page image, which the inbox shows only in an audited unmask. A crop of
    any other field holds nothing personal and is marked ``redacted`` so the item's workers see it."""
    personal = set(declared(InvoiceModel))
    refs: list[EvidenceRef] = []
    for err in inv.errors:
        field, page, box = err.get("field"), err.get("page"), err.get("box")
        if err.get("code") != LOW_CONFIDENCE_CODE or not isinstance(field, str) or not page or not box:
            continue
        if field in UNREVIEWED_FIELDS:  # no one is sent to check it (bots.invoice_matching.models)
            continue
        try:
            png = field_region(path, int(page), [float(v) for v in box])
        except InputError as exc:
            log.info("%s: no region image for %s: %s", path.name, field, exc)
            continue
        ref = run.store_evidence(png, region_name(path.name, int(page), field), "image/png")
        refs.append(ref if field in personal else ref.model_copy(update={"redacted": True}))
    return refs
