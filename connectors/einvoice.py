"""Structured e-invoices: UN/CEFACT CII (Factur-X, ZUGFeRD 2.x, XRechnung CII), ZUGFeRD 1.0
(``CrossIndustryDocument``) and OASIS UBL 2.x (``Invoice`` / ``CreditNote``, XRechnung UBL).

``parse_xml(data)`` returns an :class:`ExtractedInvoice`, the same record the PDF text path fills,
so callers never care where a field came from. Parsing is hardened against hostile XML (no entity
resolution, no network, no DTD loading) and anything that is not an invoice is an ``InputError``.

Element paths follow EN 16931 (BT numbers in comments):

=====================  ===========================================================================
field                  CII (rsm:CrossIndustryInvoice)
=====================  ===========================================================================
invoice_number BT-1    ExchangedDocument/ID
issue_date BT-2        ExchangedDocument/IssueDateTime/DateTimeString (format 102 = YYYYMMDD)
due_date BT-9          ApplicableHeaderTradeSettlement/SpecifiedTradePaymentTerms/DueDateDateTime
seller_name BT-27      ApplicableHeaderTradeAgreement/SellerTradeParty/Name (the legal name)
seller_trading_name    SellerTradeParty/SpecifiedLegalOrganization/TradingBusinessName (BT-28)
seller_vat_id BT-31    SellerTradeParty/SpecifiedTaxRegistration/ID[@schemeID='VA'] (never 'FC')
buyer_name BT-44       ApplicableHeaderTradeAgreement/BuyerTradeParty/Name
buyer_reference BT-10  ApplicableHeaderTradeAgreement/BuyerReference
po_number BT-13        ApplicableHeaderTradeAgreement/BuyerOrderReferencedDocument/IssuerAssignedID
line order_reference   line SpecifiedLineTradeAgreement/BuyerOrderReferencedDocument: IssuerAssignedID
                       (the line's own PO, ZUGFeRD EXTENDED) and LineID (BT-132, the PO line)
currency BT-5          ApplicableHeaderTradeSettlement/InvoiceCurrencyCode
net_total BT-109       SpecifiedTradeSettlementHeaderMonetarySummation/TaxBasisTotalAmount
tax_total BT-110       .../TaxTotalAmount (the one in invoice currency)
gross_total BT-112     .../GrandTotalAmount
amount_due BT-115      .../DuePayableAmount
iban BT-84             SpecifiedTradeSettlementPaymentMeans/PayeePartyCreditorFinancialAccount/IBANID,
                       else its ProprietaryID (an account without IBAN; UBL's PayeeFinancialAccount/ID
                       carries either), so the vendor-account check always sees the payee account
preceding_invoice      ApplicableHeaderTradeSettlement/InvoiceReferencedDocument/IssuerAssignedID (BT-25)
=====================  ===========================================================================

=====================  ===========================================================================
field                  UBL (Invoice / CreditNote)
=====================  ===========================================================================
seller_name BT-27      AccountingSupplierParty/Party/PartyLegalEntity/RegistrationName, else PartyName/Name
seller_trading_name    AccountingSupplierParty/Party/PartyName/Name (BT-28)
seller_vat_id BT-31    Party/PartyTaxScheme[TaxScheme/ID='VAT']/CompanyID (never a 'TAX' scheme such
                       as the Swedish 'Godkänd för F-skatt' or a national tax number)
buyer_name BT-44       AccountingCustomerParty/Party/PartyLegalEntity/RegistrationName, else PartyName/Name
buyer_reference BT-10  BuyerReference
po_number BT-13        OrderReference/ID
preceding_invoice      BillingReference/InvoiceDocumentReference/ID (BT-25)
line order_reference   InvoiceLine/OrderLineReference: OrderReference/ID (the line's own PO) and
                       LineID (BT-132, the PO line)
=====================  ===========================================================================

A line's ``order_reference`` is ``PO/LINE`` when the line names both its PO and the PO line,
``PO`` when it names only its PO, and ``LINE`` (a line of the header PO, BT-13) when it names only
the PO line, as EN 16931 has it.

Credit notes (UBL ``CreditNote``, or a document type code of a credit note such as CII ``381``)
are signed: their amounts (totals, line amounts, quantities) are negative, whichever sign the
document wrote them with; a unit price stays positive. ``document_type`` keeps the code.

ZUGFeRD 1.0 (``urn:ferd:CrossIndustryDocument:invoice:1p0``) and its pre-release dialect (root
``Invoice`` in ``urn:un:unece:uncefact:data:standard:CBFBUY:5``, syntax ``zugferd1-rc``, same
elements, dates written directly in ``IssueDateTime``) are read with the ZUGFeRD 1.0 paths.
Every header field found in the XML has confidence 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from backoffice.errors import InputError
from backoffice.jsonutil import jsonable

__all__ = [
    "HEADER_FIELDS",
    "LINE_FIELDS",
    "ExtractedInvoice",
    "InvoiceLine",
    "detect_syntax",
    "parse_xml",
]

HEADER_FIELDS: tuple[str, ...] = (
    "invoice_number",
    "issue_date",
    "due_date",
    "seller_name",
    "seller_trading_name",
    "seller_vat_id",
    "buyer_name",
    "buyer_reference",
    "po_number",
    "currency",
    "net_total",
    "tax_total",
    "gross_total",
    "amount_due",
    "iban",
)
LINE_FIELDS: tuple[str, ...] = (
    "description",
    "quantity",
    "unit_price",
    "line_amount",
    "tax_rate",
    "order_reference",
)
AMOUNT_FIELDS = frozenset({"net_total", "tax_total", "gross_total", "amount_due"})
DATE_FIELDS = frozenset({"issue_date", "due_date"})


@dataclass
class InvoiceLine:
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    line_amount: Decimal | None = None
    tax_rate: Decimal | None = None
    order_reference: str | None = (
        None  # BT-132 (UBL OrderLineReference) / CII line BuyerOrderReferencedDocument
    )

    def to_json(self) -> dict[str, Any]:
        return {name: jsonable(getattr(self, name)) for name in LINE_FIELDS}


@dataclass
class ExtractedInvoice:
    """One invoice as read from a PDF text layer or an e-invoice XML; ``None`` where absent."""

    file: str | None = None
    invoice_number: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    seller_name: str | None = None  # legal name (BT-27) first
    seller_trading_name: str | None = None  # BT-28
    seller_vat_id: str | None = None
    buyer_name: str | None = None  # legal name (BT-44) first
    buyer_reference: str | None = None  # BT-10
    po_number: str | None = None
    preceding_invoice: str | None = None  # BT-25: the invoice a credit note corrects
    currency: str | None = None
    net_total: Decimal | None = None
    tax_total: Decimal | None = None
    gross_total: Decimal | None = None
    amount_due: Decimal | None = None
    iban: str | None = None
    lines: list[InvoiceLine] = field(default_factory=list)
    source: str = "text"  # "xml" or "text"
    errors: list[dict[str, Any]] = field(default_factory=list)
    syntax: str | None = None  # cii, zugferd1, ubl, or the template name for text
    pages: int = 0
    document_type: str | None = None  # 380 invoice, 381 credit note, ...
    # Per header field: how sure the reader is (0..1; XML fields are 1.0) and, for the text path,
    # the (start, end) character offsets of the value in the text the reader was given
    # (``"\n".join(pages)``), so an OCR layer can map a field back to its words and image region.
    confidence: dict[str, float] = field(default_factory=dict)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HEADER_FIELDS}

    def to_json(self) -> dict[str, Any]:
        """The ``backoffice extract invoice --json`` record: exactly the documented keys."""
        out: dict[str, Any] = {"file": self.file}
        for name in HEADER_FIELDS:
            out[name] = jsonable(getattr(self, name))
        out["lines"] = [line.to_json() for line in self.lines]
        out["source"] = self.source
        out["errors"] = list(self.errors)
        out["confidence"] = {k: round(v, 3) for k, v in self.confidence.items()}
        return out


# --------------------------------------------------------------------------------------------- XML

_PARSER_OPTS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
}


def _ln(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _kids(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _ln(c) == name]


def _find(el: etree._Element | None, path: str) -> etree._Element | None:
    """Follow a '/'-separated path of local names (namespace-agnostic); first match wins."""
    if el is None:
        return None
    found = _find_all(el, path)
    return found[0] if found else None


def _find_all(el: etree._Element, path: str) -> list[etree._Element]:
    nodes = [el]
    for step in path.split("/"):
        nodes = [c for n in nodes for c in _kids(n, step)]
        if not nodes:
            return []
    return nodes


def _text(el: etree._Element | None, path: str | None = None) -> str | None:
    node = _find(el, path) if (path and el is not None) else el
    if node is None or node.text is None:
        return None
    value = " ".join(node.text.split())
    return value or None


def _first_text(el: etree._Element | None, *paths: str) -> str | None:
    for path in paths:
        value = _text(el, path)
        if value:
            return value
    return None


def _dec(raw: str | None, where: str, file: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise InputError(f"not a decimal number: {raw!r}", file=file, field=where) from None
    if not value.is_finite():
        raise InputError(f"not a finite number: {raw!r}", file=file, field=where)
    return value


def _xml_date(raw: str | None, where: str, file: str | None) -> date | None:
    if raw is None:
        return None
    s = raw.strip()
    try:
        if re.fullmatch(r"\d{8}", s):
            return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
        m = re.match(r"(\d{4})-(\d{2})-(\d{2})", s)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise InputError(f"not a date: {raw!r}", file=file, field=where)


ZUGFERD_RC_NS = "urn:un:unece:uncefact:data:standard:CBFBUY:5"
# UNTDID 1001 document types EN 16931 treats as credit notes
CREDIT_NOTE_TYPES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})


def detect_syntax(root: etree._Element) -> str:
    """``cii``, ``zugferd1``, ``zugferd1-rc`` (the pre-release ZUGFeRD dialect) or ``ubl``;
    InputError naming the root and its namespace for anything else (e.g. an Order-X order)."""
    name = _ln(root)
    ns = root.tag.split("}", 1)[0].lstrip("{") if isinstance(root.tag, str) and "}" in root.tag else ""
    if name == "CrossIndustryInvoice":
        return "cii"
    if name == "CrossIndustryDocument":
        return "zugferd1"
    if name == "Invoice" and ns == ZUGFERD_RC_NS:
        return "zugferd1-rc"
    if name in ("Invoice", "CreditNote") and "oasis" in ns:
        return "ubl"
    where = f" in namespace {ns}" if ns else " (no namespace)"
    raise InputError(
        f"XML root <{name}>{where} is not an invoice (CII, ZUGFeRD 1.0 or UBL Invoice/CreditNote expected)"
    )


def parse_xml(data: bytes, *, file: str | None = None) -> ExtractedInvoice:
    """Parse a CII / ZUGFeRD 1.0 / UBL invoice. Raises InputError naming the file and field."""
    if not data or not data.strip():
        raise InputError("e-invoice XML is empty", file=file)
    parser = etree.XMLParser(**_PARSER_OPTS)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"e-invoice XML is not well-formed: {exc}", file=file) from None
    try:
        syntax = detect_syntax(root)
    except InputError as exc:
        raise InputError(exc.message, file=file) from None
    inv = _parse_ubl(root, file) if syntax == "ubl" else _parse_cii(root, file, zf1=syntax != "cii")
    if inv.document_type in CREDIT_NOTE_TYPES or (syntax == "ubl" and _ln(root) == "CreditNote"):
        _sign_credit_note(inv)
    inv.syntax = syntax
    inv.source = "xml"
    inv.file = file
    inv.confidence = {name: 1.0 for name in HEADER_FIELDS if getattr(inv, name) is not None}
    return inv


def _neg(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value


def _sign_credit_note(inv: ExtractedInvoice) -> None:
    """A credit note's amounts are negative: totals, line amounts and quantities are turned when
    the document wrote them positive (a credit note with a positive total), left as they are when
    it already wrote them negative; unit prices stay positive."""
    basis = next(
        (v for v in (inv.gross_total, inv.net_total, inv.amount_due) if v is not None and v != 0), None
    )
    if basis is None:
        basis = sum((ln.line_amount for ln in inv.lines if ln.line_amount is not None), Decimal(0))
    if basis <= 0:
        return
    inv.net_total, inv.tax_total = _neg(inv.net_total), _neg(inv.tax_total)
    inv.gross_total, inv.amount_due = _neg(inv.gross_total), _neg(inv.amount_due)
    for ln in inv.lines:
        ln.line_amount, ln.quantity = _neg(ln.line_amount), _neg(ln.quantity)
        if ln.unit_price is not None:
            ln.unit_price = abs(ln.unit_price)


_VAT_LIKE = re.compile(r"^[A-Z]{2}[0-9A-Z]{2,}$")


def _vat_like(value: str) -> str | None:
    """``value`` without blanks when it has the shape of a VAT id (country prefix, then
    alphanumerics), else None: a fallback for registrations that name no scheme."""
    compact = "".join(value.split()).upper()
    return compact if _VAT_LIKE.match(compact) else None


def _vat_id(party: etree._Element | None) -> str | None:
    """CII seller VAT id (BT-31): the registration whose ``schemeID`` is ``VA``; a registration
    without a scheme only when it looks like a VAT id; never ``FC`` (a national tax number)."""
    if party is None:
        return None
    fallback = None
    for reg in _find_all(party, "SpecifiedTaxRegistration/ID"):
        value = _text(reg)
        if not value:
            continue
        scheme = (reg.get("schemeID") or "").strip().upper()
        if scheme == "VA":
            return "".join(value.split())
        if not scheme and fallback is None:
            fallback = _vat_like(value)
    return fallback


def _ubl_vat_id(party: etree._Element | None) -> str | None:
    """UBL seller VAT id (BT-31): the ``PartyTaxScheme`` whose ``TaxScheme/ID`` is ``VAT``; one
    without a tax scheme id only when its CompanyID looks like a VAT id; never another scheme
    (``TAX``: BT-32, e.g. a Swedish 'Godkänd för F-skatt' or a German Steuernummer)."""
    if party is None:
        return None
    fallback = None
    for scheme in _kids(party, "PartyTaxScheme"):
        value = _text(scheme, "CompanyID")
        if not value:
            continue
        scheme_id = (_text(scheme, "TaxScheme/ID") or "").upper()
        if scheme_id == "VAT":
            return "".join(value.split())
        if not scheme_id and fallback is None:
            fallback = _vat_like(value)
    return fallback


def _order_reference(po: str | None, line: str | None) -> str | None:
    """A line's order reference: ``PO/LINE``, ``PO`` or ``LINE`` (of the header PO)."""
    if po and line:
        return f"{po}/{line}"
    return po or line or None


def _parse_cii(root: etree._Element, file: str | None, *, zf1: bool) -> ExtractedInvoice:
    if zf1:
        doc = _find(root, "HeaderExchangedDocument")
        trx = _find(root, "SpecifiedSupplyChainTradeTransaction")
        agreement = _find(trx, "ApplicableSupplyChainTradeAgreement")
        settlement = _find(trx, "ApplicableSupplyChainTradeSettlement")
        sums = _find(settlement, "SpecifiedTradeSettlementMonetarySummation")
    else:
        doc = _find(root, "ExchangedDocument")
        trx = _find(root, "SupplyChainTradeTransaction")
        agreement = _find(trx, "ApplicableHeaderTradeAgreement")
        settlement = _find(trx, "ApplicableHeaderTradeSettlement")
        sums = _find(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    if doc is None or trx is None:
        raise InputError("CII invoice without ExchangedDocument/SupplyChainTradeTransaction", file=file)
    inv = ExtractedInvoice()
    inv.invoice_number = _text(doc, "ID")
    inv.document_type = _text(doc, "TypeCode")
    inv.issue_date = _xml_date(
        _first_text(doc, "IssueDateTime/DateTimeString", "IssueDateTime"), "issue_date", file
    )
    seller = _find(agreement, "SellerTradeParty")
    buyer = _find(agreement, "BuyerTradeParty")
    inv.seller_name = _text(seller, "Name")
    inv.seller_trading_name = _text(seller, "SpecifiedLegalOrganization/TradingBusinessName")
    inv.seller_vat_id = _vat_id(seller)
    inv.buyer_name = _text(buyer, "Name")
    inv.buyer_reference = _text(agreement, "BuyerReference")
    inv.po_number = _text(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID") or _text(
        agreement, "BuyerOrderReferencedDocument/ID"
    )
    inv.currency = _text(settlement, "InvoiceCurrencyCode")
    inv.preceding_invoice = _text(settlement, "InvoiceReferencedDocument/IssuerAssignedID")
    inv.due_date = _xml_date(
        _first_text(
            settlement,
            "SpecifiedTradePaymentTerms/DueDateDateTime/DateTimeString",
            "SpecifiedTradePaymentTerms/DueDateDateTime",
        ),
        "due_date",
        file,
    )
    # BT-84: an IBANID (of any payment means) first, else the ProprietaryID of an account that has
    # no IBAN, as UBL's PayeeFinancialAccount/ID carries either: dropping it would leave a changed
    # payee account unchecked against the vendor master
    means_all = (
        _find_all(settlement, "SpecifiedTradeSettlementPaymentMeans") if settlement is not None else []
    )
    for kind in ("IBANID", "ProprietaryID"):
        account = next(
            (v for m in means_all if (v := _text(m, f"PayeePartyCreditorFinancialAccount/{kind}"))), None
        )
        if account:
            inv.iban = account.replace(" ", "").upper()
            break
    if sums is not None:
        inv.net_total = _dec(_text(sums, "TaxBasisTotalAmount"), "net_total", file)
        taxes = _kids(sums, "TaxTotalAmount")
        tax_el = next((t for t in taxes if t.get("currencyID") in (None, inv.currency)), None)
        inv.tax_total = _dec(_text(tax_el), "tax_total", file)
        inv.gross_total = _dec(_text(sums, "GrandTotalAmount"), "gross_total", file)
        inv.amount_due = _dec(_text(sums, "DuePayableAmount"), "amount_due", file)
    for i, item in enumerate(_kids(trx, "IncludedSupplyChainTradeLineItem")):
        line = _cii_line(item, i, file, zf1=zf1)
        if line.quantity is not None or line.line_amount is not None:  # skip note-only lines
            inv.lines.append(line)
    return inv


def _cii_line(item: etree._Element, i: int, file: str | None, *, zf1: bool) -> InvoiceLine:
    pre = f"lines[{i}]"
    if zf1:
        agreement = _find(item, "SpecifiedSupplyChainTradeAgreement")
        delivery = _find(item, "SpecifiedSupplyChainTradeDelivery")
        settlement = _find(item, "SpecifiedSupplyChainTradeSettlement")
        rate = _text(settlement, "ApplicableTradeTax/ApplicablePercent") or _text(
            settlement, "ApplicableTradeTax/RateApplicablePercent"
        )
        amount = _text(settlement, "SpecifiedTradeSettlementMonetarySummation/LineTotalAmount")
    else:
        agreement = _find(item, "SpecifiedLineTradeAgreement")
        delivery = _find(item, "SpecifiedLineTradeDelivery")
        settlement = _find(item, "SpecifiedLineTradeSettlement")
        rate = _text(settlement, "ApplicableTradeTax/RateApplicablePercent")
        amount = _text(settlement, "SpecifiedTradeSettlementLineMonetarySummation/LineTotalAmount")
    price_el = _find(agreement, "NetPriceProductTradePrice")
    price = _dec(_text(price_el, "ChargeAmount"), f"{pre}.unit_price", file)
    basis = _dec(_text(price_el, "BasisQuantity"), f"{pre}.unit_price", file)
    if price is not None and basis not in (None, Decimal(0), Decimal(1)):
        price = price / basis  # price per BasisQuantity units
    order = _find(agreement, "BuyerOrderReferencedDocument")
    return InvoiceLine(
        description=_text(item, "SpecifiedTradeProduct/Name"),
        quantity=_dec(_text(delivery, "BilledQuantity"), f"{pre}.quantity", file),
        unit_price=price,
        line_amount=_dec(amount, f"{pre}.line_amount", file),
        tax_rate=_dec(rate, f"{pre}.tax_rate", file),
        order_reference=_order_reference(
            _first_text(order, "IssuerAssignedID", "ID"), _text(order, "LineID")
        ),
    )


def _parse_ubl(root: etree._Element, file: str | None) -> ExtractedInvoice:
    credit = _ln(root) == "CreditNote"
    inv = ExtractedInvoice()
    inv.invoice_number = _text(root, "ID")
    inv.document_type = _text(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode")
    inv.issue_date = _xml_date(_text(root, "IssueDate"), "issue_date", file)
    inv.due_date = _xml_date(
        _text(root, "DueDate") or _text(root, "PaymentMeans/PaymentDueDate"), "due_date", file
    )
    seller = _find(root, "AccountingSupplierParty/Party")
    buyer = _find(root, "AccountingCustomerParty/Party")
    inv.seller_name = _first_text(seller, "PartyLegalEntity/RegistrationName", "PartyName/Name")
    inv.seller_trading_name = _text(seller, "PartyName/Name")
    inv.seller_vat_id = _ubl_vat_id(seller)
    inv.buyer_name = _first_text(buyer, "PartyLegalEntity/RegistrationName", "PartyName/Name")
    inv.buyer_reference = _text(root, "BuyerReference")
    inv.po_number = _text(root, "OrderReference/ID")
    inv.preceding_invoice = _text(root, "BillingReference/InvoiceDocumentReference/ID")
    inv.currency = _text(root, "DocumentCurrencyCode")
    for means in _kids(root, "PaymentMeans"):
        iban = _text(means, "PayeeFinancialAccount/ID")
        if iban:
            inv.iban = iban.replace(" ", "").upper()
            break
    totals = _find(root, "LegalMonetaryTotal")
    inv.net_total = _dec(_text(totals, "TaxExclusiveAmount"), "net_total", file)
    inv.gross_total = _dec(_text(totals, "TaxInclusiveAmount"), "gross_total", file)
    inv.amount_due = _dec(_text(totals, "PayableAmount"), "amount_due", file)
    for tax_total in _kids(root, "TaxTotal"):
        amount_el = _find(tax_total, "TaxAmount")
        if amount_el is not None and amount_el.get("currencyID") in (None, inv.currency):
            inv.tax_total = _dec(_text(amount_el), "tax_total", file)
            break
    for i, line in enumerate(_kids(root, "CreditNoteLine" if credit else "InvoiceLine")):
        pre = f"lines[{i}]"
        qty = _text(line, "CreditedQuantity" if credit else "InvoicedQuantity")
        price = _dec(_text(line, "Price/PriceAmount"), f"{pre}.unit_price", file)
        basis = _dec(_text(line, "Price/BaseQuantity"), f"{pre}.unit_price", file)
        if price is not None and basis not in (None, Decimal(0), Decimal(1)):
            price = price / basis
        inv.lines.append(
            InvoiceLine(
                description=_text(line, "Item/Name"),
                quantity=_dec(qty, f"{pre}.quantity", file),
                unit_price=price,
                line_amount=_dec(_text(line, "LineExtensionAmount"), f"{pre}.line_amount", file),
                tax_rate=_dec(_text(line, "Item/ClassifiedTaxCategory/Percent"), f"{pre}.tax_rate", file),
                order_reference=_order_reference(
                    _text(line, "OrderLineReference/OrderReference/ID"),
                    _text(line, "OrderLineReference/LineID"),
                ),
            )
        )
    return inv


def pick_invoice_attachment(attachments: Iterable[tuple[str, bytes]]) -> tuple[str, bytes] | None:
    """Choose the e-invoice among a PDF's attachments: known names first, then any XML whose root is one."""
    items = list(attachments)
    preferred = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
    for wanted in preferred[:3]:
        for name, data in items:
            if name.lower() == wanted:
                return name, data
    for name, data in items:
        if not name.lower().endswith(".xml"):
            continue
        try:
            root = etree.fromstring(data, parser=etree.XMLParser(**_PARSER_OPTS))
            detect_syntax(root)
        except (etree.XMLSyntaxError, InputError, ValueError):
            continue
        return name, data
    return None
