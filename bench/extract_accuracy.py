"""Field-level accuracy of invoice extraction on real data, for the XML path and the text-only path.

    .venv/bin/python bench/extract_accuracy.py [--realdata ../shared/realdata] [--json] [--details]

Sources (see ../shared/realdata/SOURCES.txt):

- ``mustangproject``: Factur-X / ZUGFeRD / XRechnung PDFs. Ground truth is the embedded XML, read
  here by a separate, strictly namespaced XPath reader (``_truth_from_xml``) that does not share
  code with ``connectors.einvoice``. The XML path is scored against it, and so is the text-only
  path (``extract_invoice(use_xml=False)``) on the PDFs that have a text layer.
- ``invoice2data``: the PDFs of invoice2data's ``tests/compare`` with their expected JSON. No XML
  is embedded, so only the text path is scored.

A field counts when the ground truth has a value; it is right when equal after normalisation
(amounts and quantities as Decimals, dates as dates, identifiers without spaces/punctuation and
case, names without punctuation/case). Line items are paired by position; a line description is
right when the truth starts with the extracted text (wrapped descriptions) after normalisation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backoffice.errors import InputError  # noqa: E402
from connectors.einvoice import HEADER_FIELDS, LINE_FIELDS  # noqa: E402
from connectors.pdf import extract_invoice, read_text  # noqa: E402

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "zrsm": "urn:ferd:CrossIndustryDocument:invoice:1p0",
    "zram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
    "zudt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15",
}

CII = {
    "invoice_number": "rsm:ExchangedDocument/ram:ID",
    "issue_date": "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    "due_date": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
    "seller_name": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/ram:Name",
    "seller_vat_id": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty/"
    "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']",
    "buyer_name": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/ram:Name",
    "po_number": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
    "currency": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceCurrencyCode",
    "net_total": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxBasisTotalAmount",
    "tax_total": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount",
    "gross_total": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount",
    "amount_due": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount",
    "iban": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
    "ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
}
CII_LINE = {
    "items": "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem",
    "description": "ram:SpecifiedTradeProduct/ram:Name",
    "quantity": "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
    "unit_price": "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount",
    "line_amount": "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/"
    "ram:LineTotalAmount",
    "tax_rate": "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
}
ZF1 = {
    "invoice_number": "zrsm:HeaderExchangedDocument/zram:ID",
    "issue_date": "zrsm:HeaderExchangedDocument/zram:IssueDateTime/zudt:DateTimeString",
    "due_date": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradePaymentTerms/zram:DueDateDateTime/zudt:DateTimeString",
    "seller_name": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeAgreement/"
    "zram:SellerTradeParty/zram:Name",
    "seller_vat_id": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeAgreement/"
    "zram:SellerTradeParty/zram:SpecifiedTaxRegistration/zram:ID[@schemeID='VA']",
    "buyer_name": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeAgreement/"
    "zram:BuyerTradeParty/zram:Name",
    "po_number": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeAgreement/"
    "zram:BuyerOrderReferencedDocument/zram:ID",
    "currency": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:InvoiceCurrencyCode",
    "net_total": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradeSettlementMonetarySummation/zram:TaxBasisTotalAmount",
    "tax_total": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradeSettlementMonetarySummation/zram:TaxTotalAmount",
    "gross_total": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradeSettlementMonetarySummation/zram:GrandTotalAmount",
    "amount_due": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradeSettlementMonetarySummation/zram:DuePayableAmount",
    "iban": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:ApplicableSupplyChainTradeSettlement/"
    "zram:SpecifiedTradeSettlementPaymentMeans/zram:PayeePartyCreditorFinancialAccount/zram:IBANID",
}
ZF1_LINE = {
    "items": "zrsm:SpecifiedSupplyChainTradeTransaction/zram:IncludedSupplyChainTradeLineItem",
    "description": "zram:SpecifiedTradeProduct/zram:Name",
    "quantity": "zram:SpecifiedSupplyChainTradeDelivery/zram:BilledQuantity",
    "unit_price": "zram:SpecifiedSupplyChainTradeAgreement/zram:NetPriceProductTradePrice/zram:ChargeAmount",
    "line_amount": "zram:SpecifiedSupplyChainTradeSettlement/zram:SpecifiedTradeSettlementMonetarySummation/"
    "zram:LineTotalAmount",
    "tax_rate": "zram:SpecifiedSupplyChainTradeSettlement/zram:ApplicableTradeTax/zram:ApplicablePercent",
}


def _x(node: Any, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    if not found:
        return None
    text = found[0].text
    return " ".join(text.split()) if text and text.strip() else None


def _truth_from_xml(data: bytes) -> dict[str, Any] | None:
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    tag = etree.QName(root).localname
    if tag == "CrossIndustryInvoice":
        head, line_paths = CII, CII_LINE
    elif tag == "CrossIndustryDocument":
        head, line_paths = ZF1, ZF1_LINE
    else:
        return None
    truth: dict[str, Any] = {name: _x(root, path) for name, path in head.items()}
    lines = []
    for item in root.xpath(line_paths["items"], namespaces=NS):
        line = {k: _x(item, p) for k, p in line_paths.items() if k != "items"}
        if line["quantity"] is None and line["line_amount"] is None:
            continue
        lines.append(line)
    truth["lines"] = lines
    return truth


def _invoice_attachment(path: Path) -> bytes | None:
    for name, data in read_text(path).attachments:
        if name.lower() in ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"):
            return data
    return None


# ------------------------------------------------------------------------------ comparison

AMOUNTS = {
    "net_total",
    "tax_total",
    "gross_total",
    "amount_due",
    "quantity",
    "unit_price",
    "line_amount",
    "tax_rate",
}


def _dec(v: Any) -> Decimal | None:
    if v is None:
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def _date(v: Any) -> date | None:
    if v is None:
        return None
    s = str(v)
    if re.fullmatch(r"\d{8}", s):
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", s)
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def _norm(v: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(v).casefold()) if v is not None else ""


def same(name: str, truth: Any, got: Any) -> bool:
    if got is None:
        return False
    if name in AMOUNTS:
        t, g = _dec(truth), _dec(got)
        return t is not None and g is not None and t == g
    if name in ("issue_date", "due_date"):
        return _date(truth) == _date(got)
    if name == "description":
        t, g = _norm(truth), _norm(got)
        return bool(g) and t.startswith(g)
    return _norm(truth) == _norm(got)


@dataclass
class Score:
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, note: str) -> None:
        self.total[name] += 1
        self.right[name] += ok
        if not ok:
            self.misses.append(note)

    @property
    def pct(self) -> float:
        t = sum(self.total.values())
        return 100.0 * sum(self.right.values()) / t if t else float("nan")


def score(truth: dict[str, Any], got: dict[str, Any], s: Score, label: str) -> None:
    for name in HEADER_FIELDS:
        if truth.get(name) is not None:
            s.add(
                name,
                same(name, truth[name], got.get(name)),
                f"{label}: {name} want {truth[name]!r} got {got.get(name)!r}",
            )
    got_lines = got.get("lines", [])
    for i, tline in enumerate(truth.get("lines", [])):
        gline = got_lines[i] if i < len(got_lines) else {}
        for name in LINE_FIELDS:
            if tline.get(name) is not None:
                s.add(
                    f"lines.{name}",
                    same(name, tline[name], gline.get(name)),
                    f"{label}: lines[{i}].{name} want {tline[name]!r} got {gline.get(name)!r}",
                )


def invoice2data_truth(expected: dict[str, Any]) -> dict[str, Any]:
    vat = expected.get("vat") or expected.get("static_vat")
    truth: dict[str, Any] = {
        "invoice_number": expected.get("invoice_number"),
        "issue_date": expected.get("date"),
        "due_date": expected.get("date_due"),
        "seller_name": expected.get("partner_name"),
        "seller_vat_id": vat if isinstance(vat, str) else None,
        "po_number": expected.get("purchase_order_id"),
        "currency": expected.get("currency"),
        "net_total": expected.get("amount_untaxed"),
        "tax_total": expected.get("amount_tax"),
        "gross_total": expected.get("amount"),
        "iban": expected.get("iban"),
    }
    lines = []
    for line in expected.get("lines", []):
        if "name" not in line:
            continue
        lines.append(
            {
                "description": line.get("name", "").split("\n")[0],
                "quantity": line.get("qty"),
                "unit_price": line.get("price_unit") if "qty" in line else None,
                "line_amount": line.get("price_subtotal"),
                "tax_rate": line.get("line_tax_percent"),
            }
        )
    truth["lines"] = lines
    return truth


def run(realdata: Path, details: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    mustang = realdata / "mustangproject"
    if mustang.exists():
        xml_s, text_s = Score(), Score()
        n = n_text = skipped = 0
        for pdf in sorted(mustang.rglob("*.pdf")):
            try:
                data = _invoice_attachment(pdf)
            except InputError:
                skipped += 1
                continue
            truth = _truth_from_xml(data) if data else None
            if truth is None:
                skipped += 1
                continue
            n += 1
            try:
                xml_s_got = extract_invoice(pdf).to_json()
            except InputError as exc:
                xml_s_got = {"errors": [str(exc)]}
            score(truth, xml_s_got, xml_s, f"{pdf.name} [xml]")
            try:
                got = extract_invoice(pdf, use_xml=False).to_json()
            except InputError:
                continue  # no text layer: the text path does not apply
            n_text += 1
            score(truth, got, text_s, f"{pdf.name} [text]")
        results["mustangproject"] = {
            "pdfs_with_invoice_xml": n,
            "pdfs_without_ground_truth": skipped,
            "xml": xml_s,
            "text": text_s,
            "pdfs_with_text_layer": n_text,
        }
    compare = realdata / "invoice2data" / "tests" / "compare"
    if compare.exists():
        text_s = Score()
        n = 0
        for pdf in sorted(compare.glob("*.pdf")):
            exp_file = pdf.with_suffix(".json")
            if not exp_file.exists():
                continue
            expected = json.loads(exp_file.read_text())[0]
            try:
                got = extract_invoice(pdf).to_json()
            except InputError as exc:
                got = {"errors": [str(exc)]}
            n += 1
            score(invoice2data_truth(expected), got, text_s, pdf.name)
        results["invoice2data"] = {"pdfs": n, "xml": None, "text": text_s}
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    ap.add_argument("--json", action="store_true", help="print a JSON summary")
    ap.add_argument("--details", action="store_true", help="list every wrong field")
    args = ap.parse_args()
    if not args.realdata.exists():
        print(f"no real data at {args.realdata}", file=sys.stderr)
        return 1
    results = run(args.realdata, args.details)
    summary: dict[str, Any] = {}
    for source, res in results.items():
        summary[source] = {k: v for k, v in res.items() if not isinstance(v, Score) and v is not None}
        for path in ("xml", "text"):
            s = res.get(path)
            if s is None:
                summary[source][path] = None
                continue
            head_t = sum(v for k, v in s.total.items() if not k.startswith("lines."))
            head_r = sum(v for k, v in s.right.items() if not k.startswith("lines."))
            line_t = sum(v for k, v in s.total.items() if k.startswith("lines."))
            line_r = sum(v for k, v in s.right.items() if k.startswith("lines."))
            summary[source][path] = {
                "fields": sum(s.total.values()),
                "right": sum(s.right.values()),
                "accuracy_pct": round(s.pct, 2),
                "header_pct": round(100 * head_r / head_t, 1) if head_t else None,
                "lines_pct": round(100 * line_r / line_t, 1) if line_t else None,
                "per_field": {k: f"{s.right[k]}/{s.total[k]}" for k in sorted(s.total)},
            }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for source, res in summary.items():
            print(
                f"== {source}: "
                + ", ".join(f"{k}={v}" for k, v in res.items() if not isinstance(v, dict | None))
            )
            for path in ("xml", "text"):
                s = res[path]
                if s is None:
                    print(f"  {path:4} path: n/a (no embedded XML in this source)")
                    continue
                print(
                    f"  {path:4} path: {s['right']}/{s['fields']} fields = {s['accuracy_pct']:.1f} %"
                    f"  (header fields {s['header_pct']} %, line-item fields {s['lines_pct']} %)"
                )
                print("     " + "  ".join(f"{k} {v}" for k, v in s["per_field"].items()))
    if args.details:
        for source, res in results.items():
            for path in ("xml", "text"):
                s = res.get(path)
                if isinstance(s, Score):
                    for miss in s.misses:
                        print(f"  MISS {source} {path}: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
