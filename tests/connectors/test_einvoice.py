"""E-invoice XML parsing: CII (Factur-X / ZUGFeRD 2), ZUGFeRD 1.0, UBL; hostile and wrong XML."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.errors import InputError
from connectors.einvoice import HEADER_FIELDS, parse_xml, pick_invoice_attachment
from connectors.pdf import read_text

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices" / "pdf"

UBL = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>UBL-77</cbc:ID>
  <cbc:IssueDate>2024-05-02</cbc:IssueDate>
  <cbc:DueDate>2024-06-01</cbc:DueDate>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:OrderReference><cbc:ID>PO-9</cbc:ID></cac:OrderReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyName><cbc:Name>Seller AB</cbc:Name></cac:PartyName>
    <cac:PartyTaxScheme><cbc:CompanyID>SE 556677889901</cbc:CompanyID></cac:PartyTaxScheme>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>Buyer GmbH</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>
    <cac:PayeeFinancialAccount><cbc:ID>SE45 5000 0000 0583 9825 7466</cbc:ID></cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">25.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:TaxExclusiveAmount currencyID="EUR">100.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">125.00</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">125.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="H87">4</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Widget</cbc:Name><cac:ClassifiedTaxCategory><cbc:Percent>25</cbc:Percent></cac:ClassifiedTaxCategory></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">250.00</cbc:PriceAmount><cbc:BaseQuantity>10</cbc:BaseQuantity></cac:Price>
  </cac:InvoiceLine>
</Invoice>
"""


def test_ubl_invoice_all_fields() -> None:
    inv = parse_xml(UBL, file="x.xml")
    assert inv.syntax == "ubl" and inv.source == "xml"
    assert inv.invoice_number == "UBL-77"
    assert inv.issue_date == date(2024, 5, 2) and inv.due_date == date(2024, 6, 1)
    assert inv.seller_name == "Seller AB" and inv.seller_vat_id == "SE556677889901"
    assert inv.buyer_name == "Buyer GmbH" and inv.po_number == "PO-9"
    assert (inv.net_total, inv.tax_total, inv.gross_total, inv.amount_due) == (
        Decimal("100.00"),
        Decimal("25.00"),
        Decimal("125.00"),
        Decimal("125.00"),
    )
    assert inv.iban == "SE4550000000058398257466"
    [line] = inv.lines
    assert line.description == "Widget" and line.quantity == 4 and line.line_amount == Decimal("100.00")
    assert line.unit_price == Decimal("25")  # 250.00 per 10 units
    assert line.tax_rate == 25
    record = inv.to_json()
    assert list(record) == ["file", *HEADER_FIELDS, "lines", "source", "errors", "confidence"]
    assert record["gross_total"] == "125.00" and record["issue_date"] == "2024-05-02"


def test_cii_from_generated_factur_x_pdf() -> None:
    pdf = read_text(FIXTURES / "kestrel-31-clean.pdf")
    name, data = pick_invoice_attachment(pdf.attachments) or ("", b"")
    assert name == "factur-x.xml"
    inv = parse_xml(data)
    assert inv.syntax == "cii"
    assert inv.invoice_number == "KC-240031" and inv.po_number == "4500004001"
    assert inv.gross_total == Decimal("612.85") and len(inv.lines) == 2


def test_zugferd1_real_sample(realdata: Path) -> None:
    pdf = read_text(
        realdata / "mustangproject/library/src/test/resources/MustangGnuaccountingBeispielRE-20170509_505.pdf"
    )
    _, data = pick_invoice_attachment(pdf.attachments) or ("", b"")
    inv = parse_xml(data)
    assert inv.syntax == "zugferd1"
    assert inv.invoice_number == "RE-20170509/505"
    assert inv.gross_total == Decimal("571.04") and inv.tax_total == Decimal("75.04")
    assert inv.iban == "DE88200800000970375700"
    assert [ln.tax_rate for ln in inv.lines] == [Decimal("7.00"), Decimal("19.00"), Decimal("19.00")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<Invoice><unclosed>", "not well-formed"),
        (b"<?xml version='1.0'?><Order xmlns='urn:x'/>", "not an invoice"),
        (
            b"<rsm:SCRDMCCBDACIOMessageStructure xmlns:rsm='urn:un:unece:uncefact:data:SCRDMCCBDACIOMessageStructure:100'/>",
            "not an invoice",
        ),
    ],
)
def test_wrong_xml_is_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_xml(data, file="att.xml")
    assert err.value.file == "att.xml"


def test_bad_amount_names_the_field() -> None:
    bad = UBL.replace(b">125.00</cbc:TaxInclusiveAmount>", b">12x.00</cbc:TaxInclusiveAmount>")
    with pytest.raises(InputError) as err:
        parse_xml(bad, file="inv.xml")
    assert err.value.field == "gross_total" and "12x.00" in str(err.value)


def test_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    hostile = UBL.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'.encode(),
    ).replace(b"<cbc:ID>UBL-77</cbc:ID>", b"<cbc:ID>A&x;</cbc:ID>")
    try:
        inv = parse_xml(hostile)
    except InputError:
        return  # refusing the document is fine too
    assert "TOPSECRET" not in (inv.invoice_number or "")


def test_extract_cli_reads_standalone_xml(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from bots.invoice_matching.cli import app

    (tmp_path / "xrechnung.xml").write_bytes(UBL)
    (tmp_path / "notes.txt").write_text("ignored: not a .pdf or .xml")
    result = CliRunner().invoke(app, ["invoice", str(tmp_path), "--json"])
    assert result.exit_code == 0
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (
        record["source"] == "xml"
        and record["invoice_number"] == "UBL-77"
        and record["iban"].startswith("SE45")
    )
