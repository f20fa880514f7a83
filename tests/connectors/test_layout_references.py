"""The layout reader's order and reference labels: "Your order" names the PO (BT-13) and, where
no reference label is printed, weakly the buyer's reference (BT-10); "Your reference" names the
buyer's reference first and the PO only where no order label is printed."""

from __future__ import annotations

import pytest

from connectors.invoice_templates.layout import read_invoice

TOTALS = "Net total: 100.00 EUR\nVAT 19%: 19.00 EUR\nTotal: 119.00 EUR\n"


def test_your_order_alone_is_the_po_and_a_flagged_buyer_reference() -> None:
    inv = read_invoice(
        "Kestrel Systems GmbH\nYour order AB321\nInvoice # RE-2020/508 issued at 2020-06-20\n" + TOTALS
    )
    assert inv.po_number == "AB321"
    assert inv.buyer_reference == "AB321"
    assert inv.confidence["buyer_reference"] < 0.8  # a reading, not a label: reviewed
    assert inv.confidence["po_number"] >= 0.8


def test_order_label_wins_the_po_over_a_reference_label() -> None:
    inv = read_invoice(
        "FACTURE\n"
        "N° client: K4537 Votre commande: PO-54025\n"
        "Date: 23/02/2025 Votre référence: KG1146\n"
        "Facture n°: 999331 Notre référence: KH/16\n" + TOTALS
    )
    assert inv.po_number == "PO-54025"
    assert inv.buyer_reference == "KG1146"
    assert inv.invoice_number == "999331"


def test_a_reference_label_alone_still_gives_the_po() -> None:
    inv = read_invoice("Avoir AV-2017-0005\nDate de facture 16/11/2017\nVotre référence PO445\n" + TOTALS)
    assert inv.po_number == "PO445"


def test_a_labelled_reference_beats_the_order_reading() -> None:
    inv = read_invoice(
        "Invoice number: 4711\nYour order: PO-1234\nBuyer reference: 04011000-12345-03\n" + TOTALS
    )
    assert inv.po_number == "PO-1234"
    assert inv.buyer_reference == "04011000-12345-03"


def test_a_your_reference_column_head_gives_the_buyer_reference() -> None:
    inv = read_invoice(
        "FACTURE\n"
        "N° client Date de facture Date d'échéance Numéro de facture Votre référence Notre référence\n"
        "K4752 9 septembre 2025 9 octobre 2025 INV-778203 SM2528 RS/14\n" + TOTALS
    )
    assert inv.buyer_reference == "SM2528"
    assert inv.invoice_number == "INV-778203"
    assert inv.po_number == "SM2528"  # no order head: the reference is the only PO reading


def test_an_order_column_head_wins_the_po_over_a_reference_head() -> None:
    inv = read_invoice(
        "Invoice number Your reference PO number Date\nINV-17 KM5173 PO-88211 2025-03-01\n" + TOTALS
    )
    assert inv.po_number == "PO-88211"
    assert inv.buyer_reference == "KM5173"


def test_a_position_column_is_no_order() -> None:
    inv = read_invoice(
        "Facture n°: RE-750092\nBon de commande: PO-21913\n"
        "Pos. Réf. article Produit Quantité PU Total ligne\n"
        "1 Z9530 Kantoorpapier A4 1 344,11 344,11\n"
        "Total HT 344,11\nTVA 20 % 68,82\nTotal TTC 412,93\n"
    )
    assert inv.po_number == "PO-21913"


@pytest.mark.parametrize(
    "label", ["Uw referentie", "Ihr Kennzeichen", "Your reference no.", "Votre réf.", "Ihre Referenz"]
)
def test_your_reference_wordings_without_a_colon(label: str) -> None:
    # "Uw referentie" was read as "Uw ref" + "erentie": the label must end at a word's end
    inv = read_invoice(
        f"ACME B.V.\nFactuurnummer 993976\n{label} EG1591\nOnze referentie DR/53\nTotaal 10,00\n"
    )
    assert inv.buyer_reference == "EG1591"
