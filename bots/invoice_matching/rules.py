"""Invoice-matching rules: pure functions of (InvoiceModel, MatchContext), no I/O.

Codes and default tolerances are listed in README.md; SAP's blocking keys in brackets.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from backoffice.rules import RuleSet, RuleSpec, Violation, rule
from bots.invoice_matching.matching import billed_per_po_line, norm_ref, norm_vendor, q2
from bots.invoice_matching.models import InvoiceModel, MatchContext, Tolerances
from connectors.einvoice import ExtractedInvoice
from connectors.purchasing import POLine, Vendor

__all__ = ["RULES", "resolve_vendor"]

DAY = timedelta(hours=24)


def resolve_vendor(inv: InvoiceModel | ExtractedInvoice, ctx: MatchContext) -> Vendor | None:
    """The vendor-master record of the invoice's seller: pinned id, VAT id, then normalised name."""
    pinned = getattr(inv, "vendor_id", None)
    if pinned:
        return ctx.vendors.get(pinned)
    if inv.seller_vat_id:
        v = ctx.vendors_by_vat.get(inv.seller_vat_id.replace(" ", "").upper())
        if v is not None:
            return v
    return ctx.vendors_by_name.get(norm_vendor(inv.seller_name)) if inv.seller_name else None


def _po(inv: InvoiceModel, ctx: MatchContext) -> list[POLine] | None:
    """The invoice's PO lines when the PO exists and belongs to the invoice's vendor."""
    vendor = resolve_vendor(inv, ctx)
    lines = ctx.po_lines.get(inv.po_number or "")
    if vendor is None or not lines or lines[0].vendor_id != vendor.vendor_id:
        return None
    return lines


def _s(v: Decimal | None) -> str | None:
    return None if v is None else format(v, "f")


def _over(
    diff: Decimal, base: Decimal, pct: Decimal | None, absolute: Decimal | None, fx: Decimal | None
) -> bool:
    """True when |diff| breaks the percent limit (document currency) or the absolute limit
    (company currency; skipped when the exchange rate is unknown)."""
    if pct is not None:
        if base == 0:
            if diff != 0:
                return True
        elif abs(diff) * 100 / abs(base) > pct:
            return True
    return absolute is not None and fx is not None and abs(diff) * fx > absolute


# ----------------------------------------------------------------------------- extraction


@rule(
    code="INV-XML-TEXT",
    description="The printed PDF disagrees with its embedded e-invoice XML (the XML is used).",
    sla=DAY,
)
def xml_text(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    for err in inv.extraction_errors:
        if err.get("code") == "INV-XML-TEXT" and err.get("severity", "error") == "error":
            yield Violation(
                code="",
                message=str(err.get("message")),
                field=err.get("field"),
                expected=err.get("expected"),
                actual=err.get("actual"),
            )


@rule(
    code="INV-MISSING", description="A field needed for matching could not be read from the invoice.", sla=DAY
)
def required_fields(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    for name in ("invoice_number", "issue_date", "gross_total", "currency"):
        if getattr(inv, name) is None:
            yield Violation(code="", message=f"{name} not found on the invoice", field=name)
    if not inv.lines:
        yield Violation(code="", message="no invoice lines found", field="lines")
    for i, ln in enumerate(inv.lines):
        if ln.line_amount is None:
            yield Violation(code="", message=f"line {i + 1} has no amount", field=f"lines[{i}].line_amount")


@rule(
    code="INV-TOTAL",
    description="Header totals do not add up (sum of lines vs net, net + tax vs gross) beyond the small difference.",
    sla=DAY,
    codes=(
        RuleSpec(
            "INV-SMALL-DIFF", description="Header difference up to the small-difference limit (BD): recorded."
        ),
    ),
)
def totals(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    small = ctx.tolerances.small_diff
    amounts = [ln.line_amount for ln in inv.lines]
    checks = []
    if inv.net_total is not None and amounts and all(a is not None for a in amounts):
        lines_sum = sum((a for a in amounts if a is not None), Decimal(0))
        checks.append(("net_total", lines_sum, inv.net_total, "sum of lines"))
    if inv.net_total is not None and inv.tax_total is not None and inv.gross_total is not None:
        checks.append(("gross_total", inv.net_total + inv.tax_total, inv.gross_total, "net + tax"))
    for name, expected, actual, what in checks:
        diff = actual - expected
        if diff == 0:
            continue
        if abs(diff) <= small:
            yield Violation(
                code="INV-SMALL-DIFF",
                message=f"{name} differs from {what} by {diff} (within {small}): accepted and recorded",
                field=name,
                expected=_s(expected),
                actual=_s(actual),
                severity="info",
            )
        else:
            yield Violation(
                code="",
                message=f"{name} {actual} differs from {what} {expected} by {diff}",
                field=name,
                expected=_s(expected),
                actual=_s(actual),
            )


# --------------------------------------------------------------------------------- vendor


@rule(
    code="INV-VENDOR-UNKNOWN",
    description="The seller is not in the vendor master (matched by VAT id, then name).",
    sla=DAY,
    codes=(RuleSpec("INV-VENDOR-BLOCKED", description="The vendor is blocked in the vendor master."),),
)
def vendor_known(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    vendor = resolve_vendor(inv, ctx)
    if vendor is None:
        yield Violation(
            code="",
            message=f"seller {inv.seller_name!r} (VAT {inv.seller_vat_id}) is not in the vendor master",
            field="seller_vat_id" if inv.seller_vat_id else "seller_name",
            actual=inv.seller_vat_id or inv.seller_name,
        )
    elif vendor.blocked:
        yield Violation(
            code="INV-VENDOR-BLOCKED",
            message=f"vendor {vendor.vendor_id} {vendor.name} is {vendor.status} in the vendor master",
            field="vendor_id",
            expected="active",
            actual=vendor.status,
        )


@rule(
    code="INV-BANK-CHANGE",
    owner_role="approver",
    approver_only=True,
    priority=1,
    sla=DAY,
    description="The IBAN on the invoice differs from the vendor master: fraud signal, approver only.",
)
def bank_account(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    vendor = resolve_vendor(inv, ctx)
    if vendor is None or not inv.iban:
        return
    iban = inv.iban.replace(" ", "").upper()
    if iban != (vendor.iban or ""):
        yield Violation(
            code="",
            message=f"invoice asks for payment to {_mask(iban)}; vendor master has {_mask(vendor.iban)}",
            field="iban",
            expected=_mask(vendor.iban),
            actual=_mask(iban),
        )


def _mask(iban: str | None) -> str | None:
    return None if not iban else f"{iban[:2]}** **** {iban[-4:]}"


# ----------------------------------------------------------------------------- duplicates


@rule(
    code="INV-DUP-EXACT",
    owner_role="approver",
    approver_only=True,
    priority=2,
    sla=DAY,
    description="Same vendor, currency, gross amount, reference and date as an earlier invoice.",
    codes=(
        RuleSpec(
            "INV-DUP-FUZZY",
            owner_role="approver",
            approver_only=True,
            priority=2,
            sla=DAY,
            description="Same normalised vendor and amount, reference equal up to punctuation and OCR "
            "look-alikes (O/0, I/1/l, B/8, S/5), dates within the window.",
        ),
    ),
)
def duplicates(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    vendor = resolve_vendor(inv, ctx)
    vid = vendor.vendor_id if vendor else None
    vnorm = norm_vendor(vendor.name if vendor else inv.seller_name)
    ref = norm_ref(inv.invoice_number)
    window = ctx.tolerances.dup_window_days
    for doc in ctx.earlier(inv.key, inv.gross_total):
        same_vendor = (vid is not None and doc.vendor_id == vid) or (bool(vnorm) and doc.vendor_norm == vnorm)
        if not same_vendor or inv.gross_total is None or doc.gross != inv.gross_total:
            continue
        where = f"{doc.file} ({'posted' if doc.origin == 'ledger' else 'this run'})"
        if (
            doc.currency == inv.currency
            and doc.number == inv.invoice_number
            and doc.issue_date == inv.issue_date
        ):
            yield Violation(
                code="",
                message=f"exact duplicate of {doc.number} dated {doc.issue_date} in {where}",
                field="invoice_number",
                expected=None,
                actual={"duplicate_of": doc.key, "file": doc.file, "number": doc.number},
            )
            return
        if (
            ref
            and doc.ref_norm == ref
            and inv.issue_date is not None
            and doc.issue_date is not None
            and abs((inv.issue_date - doc.issue_date).days) <= window
        ):
            yield Violation(
                code="INV-DUP-FUZZY",
                message=f"possible duplicate of {doc.number} dated {doc.issue_date} in {where} "
                f"(reference {inv.invoice_number!r} ~ {doc.number!r})",
                field="invoice_number",
                actual={"duplicate_of": doc.key, "file": doc.file, "number": doc.number},
            )
            return


# ------------------------------------------------------------------------------------- PO


@rule(
    code="INV-NO-PO",
    description="The PO reference is missing, unknown, or belongs to another vendor.",
    sla=DAY,
    codes=(RuleSpec("INV-CURRENCY", description="Invoice currency differs from the PO currency."),),
)
def po_reference(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    vendor = resolve_vendor(inv, ctx)
    if vendor is None:
        return  # INV-VENDOR-UNKNOWN says it; no PO can be matched without a vendor
    lines = ctx.po_lines.get(inv.po_number or "")
    if not inv.po_number:
        yield Violation(code="", message="no PO number on the invoice", field="po_number")
    elif not lines:
        yield Violation(
            code="", message=f"PO {inv.po_number} not found", field="po_number", actual=inv.po_number
        )
    elif lines[0].vendor_id != vendor.vendor_id:
        yield Violation(
            code="",
            message=f"PO {inv.po_number} belongs to vendor {lines[0].vendor_id}, not {vendor.vendor_id}",
            field="po_number",
            expected=lines[0].vendor_id,
            actual=vendor.vendor_id,
        )
    elif inv.currency and lines[0].currency != inv.currency:
        yield Violation(
            code="INV-CURRENCY",
            message=f"invoice in {inv.currency}, PO {inv.po_number} in {lines[0].currency}",
            field="currency",
            expected=lines[0].currency,
            actual=inv.currency,
        )


@rule(code="INV-LINE-NOMATCH", description="An invoice line matches no line or charge of the PO.", sla=DAY)
def lines_match(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    if _po(inv, ctx) is None:
        return
    for m in ctx.matches(inv):
        if m.kind == "unmatched":
            ln = inv.lines[m.index]
            yield Violation(
                code="",
                message=f"line {m.index + 1} {ln.description!r} is not on PO {inv.po_number}",
                field=f"lines[{m.index}]",
                actual=ln.description,
            )


@rule(
    code="INV-PRICE",
    description="Price variance (PP): line amount vs billed quantity x PO price beyond 5 % or 25.00.",
    sla=DAY,
)
def price_variance(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    lines = _po(inv, ctx)
    if lines is None or (inv.currency and lines[0].currency != inv.currency):
        return
    tol = ctx.tolerances
    fx = ctx.fx(inv.currency)
    for m in ctx.matches(inv):
        if m.kind != "goods" or m.po_line is None:
            continue
        ln = inv.lines[m.index]
        if ln.quantity is None or ln.line_amount is None:
            continue
        expected = q2(ln.quantity * m.po_line.unit_price)
        diff = ln.line_amount - expected
        if diff != 0 and _over(diff, expected, tol.price_pct, tol.price_abs, fx):
            pct = f"{diff * 100 / expected:+.1f} %" if expected else "n/a"
            yield Violation(
                code="",
                message=f"line {m.index + 1} {m.po_line.item}: {ln.line_amount} billed, {ln.quantity} x "
                f"{m.po_line.unit_price} = {expected} on PO {m.po_line.po_number}/{m.po_line.po_line} "
                f"({diff:+} , {pct})",
                field=f"lines[{m.index}].line_amount",
                expected=_s(expected),
                actual=_s(ln.line_amount),
            )


@rule(
    code="INV-QTY",
    description="Quantity (DQ): cumulative billed above received (3-way) or ordered (2-way) beyond 5 % or 25.00.",
    sla=DAY,
    codes=(RuleSpec("INV-NO-RECEIPT", description="3-way PO line billed with nothing received."),),
)
def quantity(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    lines = _po(inv, ctx)
    if lines is None:
        return
    tol = ctx.tolerances
    fx = ctx.fx(lines[0].currency)
    by_key = {(p.po_number, p.po_line): p for p in lines}
    matches = ctx.matches(inv)
    billed = billed_per_po_line(matches, [ln.quantity for ln in inv.lines])
    prior = ctx.prior_qty.get(inv.key, {})
    for k, now in billed.items():
        p = by_key[k]
        before = prior.get(k, Decimal(0))
        total = before + now
        if p.receipt_required:
            allowed = ctx.received.get(k, Decimal(0))
            if allowed <= 0:
                yield Violation(
                    code="INV-NO-RECEIPT",
                    message=f"PO {p.po_number}/{p.po_line} {p.item}: {now} billed, nothing received (3-way)",
                    field="lines",
                    expected="0",
                    actual=_s(now),
                )
                continue
            basis = "received"
        else:
            allowed = p.quantity
            basis = "ordered"
        excess = total - allowed
        if excess > 0 and _over(excess * p.unit_price, allowed * p.unit_price, tol.qty_pct, tol.qty_abs, fx):
            yield Violation(
                code="",
                message=f"PO {p.po_number}/{p.po_line} {p.item}: {before} billed before + {now} now = {total}, "
                f"{allowed} {basis} ({excess} over, {q2(excess * p.unit_price)} {p.currency})",
                field="lines",
                expected=_s(allowed),
                actual=_s(total),
            )


@rule(
    code="INV-CHARGE",
    description="A charge (freight, packaging, surcharge) the PO does not provide for, or above its PO amount.",
    sla=DAY,
)
def charges(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    lines = _po(inv, ctx)
    if lines is None:
        return
    tol = ctx.tolerances
    fx = ctx.fx(inv.currency)
    for m in ctx.matches(inv):
        if m.kind != "charge":
            continue
        ln = inv.lines[m.index]
        amount = ln.line_amount or Decimal(0)
        if m.po_line is None:
            yield Violation(
                code="",
                message=f"line {m.index + 1} {ln.description!r}: charge {m.charge_code} {amount} not expected by "
                f"PO {inv.po_number}",
                field=f"lines[{m.index}]",
                expected=None,
                actual=_s(amount),
            )
            continue
        expected = q2(m.po_line.quantity * m.po_line.unit_price)
        diff = amount - expected
        if diff > 0 and _over(diff, expected, tol.price_pct, tol.price_abs, fx):
            yield Violation(
                code="",
                message=f"line {m.index + 1}: charge {m.charge_code} {amount} vs {expected} on PO "
                f"{m.po_line.po_number}/{m.po_line.po_line}",
                field=f"lines[{m.index}].line_amount",
                expected=_s(expected),
                actual=_s(amount),
            )


# ------------------------------------------------------------------------------------ tax


@rule(
    code="INV-TAX-OVER",
    description="Tax recomputed per rate (PO rates where matched) is lower than the invoice's tax.",
    sla=DAY,
    codes=(
        RuleSpec("INV-TAX-UNDER", description="Tax recomputed per rate is higher than the invoice's tax."),
    ),
)
def tax(inv: InvoiceModel, ctx: MatchContext) -> Iterator[Violation]:
    if inv.tax_total is None or not inv.lines:
        return
    rate_of: dict[int, Decimal | None] = {i: ln.tax_rate for i, ln in enumerate(inv.lines)}
    if _po(inv, ctx) is not None:
        for m in ctx.matches(inv):
            if m.po_line is not None and m.po_line.tax_rate is not None:
                rate_of[m.index] = m.po_line.tax_rate
    bases: dict[Decimal, Decimal] = {}
    for i, ln in enumerate(inv.lines):
        rate = rate_of[i]
        if rate is None or ln.line_amount is None:
            return  # cannot recompute: a rate or an amount is missing
        bases[rate] = bases.get(rate, Decimal(0)) + ln.line_amount
    expected = sum((q2(base * rate / 100) for rate, base in bases.items()), Decimal(0))
    diff = inv.tax_total - expected
    if abs(diff) <= ctx.tolerances.tax_abs:
        return
    per_rate = ", ".join(f"{r}% of {b}" for r, b in sorted(bases.items()))
    yield Violation(
        code="" if diff > 0 else "INV-TAX-UNDER",
        message=f"tax {inv.tax_total} on the invoice, {expected} recomputed ({per_rate}): {diff:+}",
        field="tax_total",
        expected=_s(expected),
        actual=_s(inv.tax_total),
    )


def build_ruleset(tolerances: Tolerances | None = None) -> RuleSet:
    t = tolerances or Tolerances()
    return RuleSet(
        "invoice-matching",
        [
            xml_text,
            required_fields,
            totals,
            vendor_known,
            bank_account,
            duplicates,
            po_reference,
            lines_match,
            price_variance,
            quantity,
            charges,
            tax,
        ],
        params=t.as_params(),
    )


RULES = build_ruleset()
