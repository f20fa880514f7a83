"""Posting: an invoice that passed every rule becomes a ledger entry in the xlsx ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from backoffice.errors import TransientError
from bots.invoice_matching.context import MatchContext
from bots.invoice_matching.models import InvoiceModel
from connectors.purchasing import LedgerEntry, LedgerLine, append_ledger, ledger_lock

__all__ = ["ledger_entry", "post"]


def ledger_entry(inv: InvoiceModel, ctx: MatchContext, run_id: str) -> LedgerEntry:
    """The ledger entry of ``inv``: its lines with the PO line or charge code they matched."""
    vendor = ctx.resolve_vendor(inv)
    matches = ctx.matches(inv) if vendor is not None else []
    by_index = {m.index: m for m in matches}
    header = ctx.header_po(inv)
    lines = []
    for i, ln in enumerate(inv.lines):
        m = by_index.get(i)
        po_line = m.po_line if m is not None else None
        lines.append(
            LedgerLine(
                key=inv.key,
                invoice_number=inv.invoice_number or "",
                po_number=(m.po if m is not None and m.po else header),
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
        po_number=header or next((ln.po_number for ln in lines if ln.po_number), None),
        file=inv.file,
        sha256=inv.sha256,
        run_id=run_id,
        posted_at=datetime.now(UTC),
        lines=tuple(lines),
    )


def post(path: Path, entries: Sequence[LedgerEntry]) -> set[str]:
    """Append ``entries`` to the ledger under its file lock; the keys actually added (a key
    already on the ledger is not posted again). A workbook locked by another program (open in
    Excel on a share) is a transient failure, retried by the runner."""
    try:
        with ledger_lock(path):
            return set(append_ledger(path, entries))
    except PermissionError as exc:
        raise TransientError(f"ledger {path} is locked: {exc}") from exc
