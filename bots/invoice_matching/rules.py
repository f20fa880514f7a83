"""Invoice-matching rules: pure functions of (InvoiceModel, MatchContext), no I/O.

Codes and default tolerances are listed in README.md; SAP's blocking keys in brackets.
``Violation.field`` paths are dotted, list positions as numbers (``lines.0.line_amount``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from backoffice.money import CENT, q2
from backoffice.pii import mask_account
from backoffice.rules import RuleSet, RuleSpec, Violation, rule
from bots.invoice_matching import context, matching, models
from bots.invoice_matching.context import MatchContext
from bots.invoice_matching.models import UNREVIEWED_FIELDS, InvoiceModel, Tolerances
from connectors import purchasing
from connectors.einvoice import ExtractedInvoice
from connectors.pdf import region_name
from connectors.purchasing import POLine, Vendor

__all__ = ["RULES", "build_ruleset", "resolve_vendor"]

DAY = timedelta(hours=24)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
PERCENT = Decimal("0.01")
_NOTHING_BEFORE: dict[tuple[str, int], Decimal] = {}


def resolve_vendor(inv: InvoiceModel | ExtractedInvoice, ctx: MatchContext) -> Vendor | None:
    """The vendor-master record of the invoice's seller: pinned id, VAT id, then normalised name."""
    return ctx.resolve_vendor(inv)


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
def xml_text(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    for err in inv.extraction_errors:
        if err.get("code") == "INV-XML-TEXT" and err.get("severity", "error") == "error":
            out.append(
                Violation(
                    code="INV-XML-TEXT",
                    message=str(err.get("message")),
                    field=err.get("field"),
                    expected=err.get("expected"),
                    actual=err.get("actual"),
                )
            )
    return out


@rule(
    code="INV-LOW-CONFIDENCE",
    description="A field read by OCR from a scan is below the confidence threshold "
    "(setting ocr_min_confidence, default 0.8): check it against its page region (evidence).",
    sla=DAY,
)
def low_confidence(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    """One violation per low-confidence field that still holds what OCR read (a corrected field
    is no longer OCR's reading); none for a field no decision rests on (``UNREVIEWED_FIELDS``)."""
    out: list[Violation] = []
    for err in inv.extraction_errors:
        name = err.get("field")
        if err.get("code") != "INV-LOW-CONFIDENCE" or not isinstance(name, str) or name in UNREVIEWED_FIELDS:
            continue
        value = getattr(inv, name, None)
        shown = None if value is None else str(value)
        if isinstance(value, Decimal):
            shown = format(value, "f")
        elif isinstance(value, date):
            shown = value.isoformat()
        if shown != err.get("actual"):
            continue
        page = err.get("page")
        out.append(
            Violation(
                code="INV-LOW-CONFIDENCE",
                message=f"{name} was read by OCR with confidence {err.get('confidence')}: check it "
                f"against the page region {region_name(inv.file or '', int(page or 1), name)}",
                field=name,
                expected=None,
                actual=err.get("actual"),
            )
        )
    return out


@rule(
    code="INV-MISSING", description="A field needed for matching could not be read from the invoice.", sla=DAY
)
def required_fields(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    if (
        inv.invoice_number is None
        or inv.issue_date is None
        or inv.gross_total is None
        or inv.currency is None
    ):
        for name in ("invoice_number", "issue_date", "gross_total", "currency"):
            if getattr(inv, name) is None:
                out.append(
                    Violation(code="INV-MISSING", message=f"{name} not found on the invoice", field=name)
                )
    if not inv.lines:
        out.append(Violation(code="INV-MISSING", message="no invoice lines found", field="lines"))
    for i, ln in enumerate(inv.lines):
        if ln.line_amount is None:
            out.append(
                Violation(
                    code="INV-MISSING", message=f"line {i + 1} has no amount", field=f"lines.{i}.line_amount"
                )
            )
    return out


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
def totals(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    small = ctx.tolerances.small_diff
    net = inv.net_total
    checks = []
    if net is not None and inv.lines:
        lines_sum = Decimal(0)
        for ln in inv.lines:
            if ln.line_amount is None:
                break
            lines_sum += ln.line_amount
        else:
            if lines_sum != net:
                checks.append(("net_total", lines_sum, net, "sum of lines"))
    tax_total, gross = inv.tax_total, inv.gross_total
    if net is not None and tax_total is not None and gross is not None and net + tax_total != gross:
        checks.append(("gross_total", net + tax_total, gross, "net + tax"))
    for name, expected, actual, what in checks:
        diff = actual - expected
        if diff == 0:
            continue
        if abs(diff) <= small:
            out.append(
                Violation(
                    code="INV-SMALL-DIFF",
                    message=f"{name} differs from {what} by {diff} (within {small}): accepted and recorded",
                    field=name,
                    expected=_s(expected),
                    actual=_s(actual),
                    severity="info",
                )
            )
        else:
            out.append(
                Violation(
                    code="INV-TOTAL",
                    message=f"{name} {actual} differs from {what} {expected} by {diff}",
                    field=name,
                    expected=_s(expected),
                    actual=_s(actual),
                )
            )
    return out


# --------------------------------------------------------------------------------- vendor


@rule(
    code="INV-VENDOR-UNKNOWN",
    description="The seller is not in the vendor master (matched by VAT id, then name).",
    sla=DAY,
    codes=(RuleSpec("INV-VENDOR-BLOCKED", description="The vendor is blocked in the vendor master."),),
)
def vendor_known(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    vendor = ctx.facts(inv).vendor
    if vendor is None:
        out.append(
            Violation(
                code="INV-VENDOR-UNKNOWN",
                message=f"seller {inv.seller_name!r} (VAT {inv.seller_vat_id}) is not in the vendor master",
                field="seller_vat_id" if inv.seller_vat_id else "seller_name",
                actual=inv.seller_vat_id or inv.seller_name,
            )
        )
    elif vendor.blocked:
        out.append(
            Violation(
                code="INV-VENDOR-BLOCKED",
                message=f"vendor {vendor.vendor_id} {vendor.name} is {vendor.status} in the vendor master",
                field="vendor_id",
                expected="active",
                actual=vendor.status,
            )
        )
    return out


@rule(
    code="INV-BANK-CHANGE",
    owner_role="approver",
    approver_only=True,
    priority=1,
    sla=DAY,
    description="The IBAN on the invoice differs from the vendor master: fraud signal, approver only.",
)
def bank_account(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    if not inv.iban:
        return out
    vendor = ctx.facts(inv).vendor
    if vendor is None:
        return out
    iban = inv.iban.replace(" ", "").upper()
    if iban != (vendor.iban or ""):
        out.append(
            Violation(
                code="INV-BANK-CHANGE",
                message=f"invoice asks for payment to {_mask(iban)}; vendor master has {_mask(vendor.iban)}",
                field="iban",
                expected=_mask(vendor.iban),
                actual=_mask(iban),
            )
        )
    return out


def _mask(iban: str | None) -> str | None:
    return None if not iban else mask_account(iban)


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
def duplicates(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    if inv.gross_total is None:
        return out
    ref = ctx.ref_norm(inv.invoice_number)  # normalised once per number for the run
    candidates = ctx.earlier(inv.key, inv.gross_total, ref)
    if not candidates:
        return out
    vendor = ctx.facts(inv).vendor
    vid = vendor.vendor_id if vendor else None
    vnorm = ctx.vendor_norm(vendor.name if vendor else inv.seller_name)
    window = ctx.tolerances.dup_window_days
    for doc in candidates:
        same_vendor = (vid is not None and doc.vendor_id == vid) or (bool(vnorm) and doc.vendor_norm == vnorm)
        if not same_vendor or inv.gross_total is None or doc.gross != inv.gross_total:
            continue
        where = f"{doc.file} ({'posted' if doc.origin == 'ledger' else 'this run'})"
        if (
            doc.currency == inv.currency
            and doc.number == inv.invoice_number
            and doc.issue_date == inv.issue_date
        ):
            out.append(
                Violation(
                    code="INV-DUP-EXACT",
                    message=f"exact duplicate of {doc.number} dated {doc.issue_date} in {where}",
                    field="invoice_number",
                    expected=None,
                    actual={"duplicate_of": doc.key, "file": doc.file, "number": doc.number},
                )
            )
            return out
        if (
            ref
            and doc.ref_norm == ref
            and inv.issue_date is not None
            and doc.issue_date is not None
            and abs((inv.issue_date - doc.issue_date).days) <= window
        ):
            out.append(
                Violation(
                    code="INV-DUP-FUZZY",
                    message=f"possible duplicate of {doc.number} dated {doc.issue_date} in {where} "
                    f"(reference {inv.invoice_number!r} ~ {doc.number!r})",
                    field="invoice_number",
                    actual={"duplicate_of": doc.key, "file": doc.file, "number": doc.number},
                )
            )
            return out
    return out


# ------------------------------------------------------------------------------------- PO


@rule(
    code="INV-NO-PO",
    description="The PO reference is missing, unknown, or belongs to another vendor.",
    sla=DAY,
    codes=(RuleSpec("INV-CURRENCY", description="Invoice currency differs from the PO currency."),),
)
def po_reference(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    facts = ctx.facts(inv)
    vendor = facts.vendor
    if vendor is None:
        return out  # INV-VENDOR-UNKNOWN says it; no PO can be matched without a vendor
    numbers = facts.po_numbers
    if not numbers:
        why = f" (buyer reference {inv.buyer_reference!r} is not a PO)" if inv.buyer_reference else ""
        if inv.preceding_invoice:  # a credit note: its invoice would have named the PO
            why += f" (the invoice it corrects, {inv.preceding_invoice!r}, is neither posted nor in this run)"
        out.append(
            Violation(code="INV-NO-PO", message=f"no PO number on the invoice{why}", field="po_number")
        )
    for number in numbers:
        lines = ctx.po_lines.get(number)
        if not lines:
            out.append(
                Violation(
                    code="INV-NO-PO", message=f"PO {number} not found", field="po_number", actual=number
                )
            )
        elif lines[0].vendor_id != vendor.vendor_id:
            out.append(
                Violation(
                    code="INV-NO-PO",
                    message=f"PO {number} belongs to vendor {lines[0].vendor_id}, not {vendor.vendor_id}",
                    field="po_number",
                    expected=lines[0].vendor_id,
                    actual=vendor.vendor_id,
                )
            )
        elif inv.currency and lines[0].currency != inv.currency:
            out.append(
                Violation(
                    code="INV-CURRENCY",
                    message=f"invoice in {inv.currency}, PO {number} in {lines[0].currency}",
                    field="currency",
                    expected=lines[0].currency,
                    actual=inv.currency,
                )
            )
    return out


@rule(code="INV-LINE-NOMATCH", description="An invoice line matches no line or charge of the PO.", sla=DAY)
def lines_match(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    for m in ctx.facts(inv).matches:
        if m.kind == "unmatched":
            ln = inv.lines[m.index]
            out.append(
                Violation(
                    code="INV-LINE-NOMATCH",
                    message=f"line {m.index + 1} {ln.description!r} is not on "
                    + (f"PO {m.po}" if m.po else "any PO (the line names none)"),
                    field=f"lines.{m.index}",
                    actual=ln.description,
                )
            )
    return out


@rule(
    code="INV-PRICE",
    description="Price variance (PP): line amount vs billed quantity x PO price beyond 5 % or 25.00.",
    sla=DAY,
)
def price_variance(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    facts = ctx.facts(inv)
    po = facts.po
    if po is None:
        return out
    currency = inv.currency
    if currency:
        numbers = facts.po_numbers
        if len(numbers) == 1:  # the usual case: ``po`` is that PO's lines
            if po[0].currency != currency:
                return out
        elif any(p.currency != currency for p in ctx.first_lines(numbers)):
            return out
    tol = ctx.tolerances
    fx: Decimal | None = None
    lines = inv.lines
    for m in facts.matches:
        p = m.po_line
        if p is None or m.kind != "goods":
            continue
        ln = lines[m.index]
        qty, amount = ln.quantity, ln.line_amount
        if qty is None or amount is None:
            continue
        expected = (qty * p.unit_price).quantize(CENT, ROUND_HALF_UP)  # q2, without the call
        diff = amount - expected
        if not diff:
            continue
        if fx is None:
            fx = ctx.fx(currency)
        if _over(diff, expected, tol.price_pct, tol.price_abs, fx):
            pct = f"{diff * 100 / expected:+.1f} %" if expected else "n/a"
            out.append(
                Violation(
                    code="INV-PRICE",
                    message=f"line {m.index + 1} {p.item}: {ln.line_amount} billed, {ln.quantity} x "
                    f"{p.unit_price} = {expected} on PO {p.po_number}/{p.po_line} "
                    f"({diff:+} , {pct})",
                    field=f"lines.{m.index}.line_amount",
                    expected=_s(expected),
                    actual=_s(ln.line_amount),
                )
            )
    return out


@rule(
    code="INV-QTY",
    description="Quantity (DQ): cumulative billed above received (3-way) or ordered (2-way) beyond 5 % or 25.00.",
    sla=DAY,
    codes=(RuleSpec("INV-NO-RECEIPT", description="3-way PO line billed with nothing received."),),
)
def quantity(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    facts = ctx.facts(inv)
    if facts.po is None:
        return out
    lines = inv.lines
    # quantity billed now per PO line: one per goods match, unless a PO line is on several lines
    if facts.repeated:
        summed: dict[tuple[str, int], tuple[POLine, Decimal]] = {}
        for m in facts.matches:
            p = m.po_line
            if p is not None and m.kind == "goods":
                k = (p.po_number, p.po_line)
                qty = lines[m.index].quantity or ZERO
                got = summed.get(k)
                summed[k] = (p, qty if got is None else got[1] + qty)
        billed = [(k, p, now) for k, (p, now) in summed.items()]
    else:
        billed = [
            (m.key, m.po_line, lines[m.index].quantity or ZERO)
            for m in facts.matches
            if m.key is not None and m.po_line is not None
        ]
    if not billed:
        return out
    tol = ctx.tolerances
    pct, absolute = tol.qty_pct, tol.qty_abs
    fx = ctx.fx(facts.po[0].currency)
    if fx is None:
        absolute = None  # the absolute limit is skipped when the rate is unknown (``_over``)
    prior = ctx.prior_qty.get(inv.key) or _NOTHING_BEFORE
    received = ctx.received
    for k, p, now in billed:
        before = prior.get(k, ZERO)
        total = before + now
        if p.receipt_required:
            allowed = received.get(k, ZERO)
            if allowed <= ZERO:
                out.append(
                    Violation(
                        code="INV-NO-RECEIPT",
                        message=f"PO {p.po_number}/{p.po_line} {p.item}: {now} billed, nothing received (3-way)",
                        field="lines",
                        expected="0",
                        actual=_s(now),
                    )
                )
                continue
            basis = "received"
        else:
            allowed = p.quantity
            basis = "ordered"
        excess = total - allowed
        if excess <= ZERO:
            continue
        # ``_over(excess value, allowed value, ...)``, the absolute limit first: it settles most
        # excesses without the percent's division (the same answer: either limit breaks)
        value = excess * p.unit_price
        if (absolute is not None and abs(value) * fx > absolute) or (  # type: ignore[operator]
            pct is not None and _over(value, allowed * p.unit_price, pct, None, None)
        ):
            out.append(
                Violation(
                    code="INV-QTY",
                    # ``!s``: a Decimal's str is its format with no spec, at a third of the cost
                    message=f"PO {p.po_number}/{p.po_line} {p.item}: {before!s} billed before + {now!s} now = "
                    f"{total!s}, {allowed!s} {basis} ({excess!s} over, {q2(value)!s} {p.currency})",
                    field="lines",
                    expected=_s(allowed),
                    actual=_s(total),
                )
            )
    return out


@rule(
    code="INV-CHARGE",
    description="A charge (freight, packaging, surcharge) the PO does not provide for, or above its PO amount.",
    sla=DAY,
)
def charges(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    facts = ctx.facts(inv)
    if facts.po is None:
        return out
    tol = ctx.tolerances
    for m in facts.matches:
        if m.kind != "charge":
            continue
        fx = ctx.fx(inv.currency)
        ln = inv.lines[m.index]
        amount = ln.line_amount or Decimal(0)
        if m.po_line is None:
            out.append(
                Violation(
                    code="INV-CHARGE",
                    message=f"line {m.index + 1} {ln.description!r}: charge {m.charge_code} {amount} not expected by "
                    f"PO {m.po}",
                    field=f"lines.{m.index}",
                    expected=None,
                    actual=_s(amount),
                )
            )
            continue
        expected = q2(m.po_line.quantity * m.po_line.unit_price)
        diff = amount - expected
        if diff > 0 and _over(diff, expected, tol.price_pct, tol.price_abs, fx):
            out.append(
                Violation(
                    code="INV-CHARGE",
                    message=f"line {m.index + 1}: charge {m.charge_code} {amount} vs {expected} on PO "
                    f"{m.po_line.po_number}/{m.po_line.po_line}",
                    field=f"lines.{m.index}.line_amount",
                    expected=_s(expected),
                    actual=_s(amount),
                )
            )
    return out


# ------------------------------------------------------------------------------------ tax


@rule(
    code="INV-TAX-OVER",
    description="Tax recomputed per rate (PO rates where matched) is lower than the invoice's tax.",
    sla=DAY,
    codes=(
        RuleSpec("INV-TAX-UNDER", description="Tax recomputed per rate is higher than the invoice's tax."),
    ),
)
def tax(inv: InvoiceModel, ctx: MatchContext) -> list[Violation]:
    out: list[Violation] = []
    lines = inv.lines
    if inv.tax_total is None or not lines:
        return out
    rates = [ln.tax_rate for ln in lines]
    for m in ctx.facts(inv).matches:  # PO rates where matched
        p = m.po_line
        if p is not None and p.tax_rate is not None:
            rates[m.index] = p.tax_rate
    bases: dict[Decimal, Decimal] = {}
    first = rates[0]
    if first is not None and rates.count(first) == len(rates):  # one rate: one base (the usual case)
        base = ZERO
        for ln in lines:
            amount = ln.line_amount
            if amount is None:
                return out  # cannot recompute: an amount is missing
            base += amount
        bases[first] = base
        # q2(base * first / 100) without the call, and the exact division by 100 as the exact
        # product with 0.01: the same value, and quantize gives it the same digits
        expected = ZERO + (base * first * PERCENT).quantize(CENT, ROUND_HALF_UP)
    else:
        for rate, ln in zip(rates, lines, strict=True):
            if rate is None or ln.line_amount is None:
                return out  # cannot recompute: a rate or an amount is missing
            got = bases.get(rate)
            bases[rate] = ln.line_amount if got is None else got + ln.line_amount
        expected = ZERO
        for rate, base in bases.items():
            expected += q2(base * rate / HUNDRED)
    diff = inv.tax_total - expected
    if abs(diff) <= ctx.tolerances.tax_abs:
        return out
    per_rate = ", ".join(f"{r}% of {b}" for r, b in sorted(bases.items()))
    out.append(
        Violation(
            code="INV-TAX-OVER" if diff > 0 else "INV-TAX-UNDER",
            message=f"tax {inv.tax_total} on the invoice, {expected} recomputed ({per_rate}): {diff:+}",
            field="tax_total",
            expected=_s(expected),
            actual=_s(inv.tax_total),
        )
    )
    return out


class InvoiceRuleSet(RuleSet):
    """The rule set with the shared match step: ``check`` lets the rules share one computation
    of the invoice's vendor, PO and line matches (``MatchContext.facts``)."""

    def check(self, model: Any, ctx: Any) -> list[Violation]:
        if not isinstance(ctx, MatchContext):
            return super().check(model, ctx)
        ctx.begin(model)
        try:
            return super().check(model, ctx)
        finally:
            ctx.end()


# What the rules call besides this module: the version covers their code too.
DEPENDS_ON = (matching, context, models, purchasing)


def build_ruleset(tolerances: Tolerances | None = None) -> RuleSet:
    """The rule set running with ``tolerances`` (default: DOMAIN.md's); its version covers the
    rules, the helper modules they call and these tolerances."""
    return InvoiceRuleSet(
        "invoice-matching",
        [
            xml_text,
            low_confidence,
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
        params=tolerances or Tolerances(),
        depends_on=DEPENDS_ON,
    )


RULES = build_ruleset()
