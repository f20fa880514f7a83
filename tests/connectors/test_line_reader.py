"""The line-table reader of text PDFs without templates (``generic.parse_lines``, column heads
by meaning in ``invoice_templates.lines``)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.invoice_templates.generic import parse_lines
from connectors.invoice_templates.lines import head_kinds, is_head_row

ROOT = Path(__file__).resolve().parents[2]


def _rows(text: str, decimal: str = ",") -> list[tuple[str | None, str, str | None, str, str | None]]:
    return [
        (
            ln.description,
            str(ln.quantity),
            None if ln.unit_price is None else str(ln.unit_price),
            str(ln.line_amount),
            None if ln.tax_rate is None else str(ln.tax_rate),
        )
        for ln in parse_lines(text, decimal)
    ]


@pytest.mark.parametrize(
    ("head", "kinds"),
    [
        ("Description Qty Unit price Amount", ["desc", "qty", "price", "amount"]),
        (
            "Bezeichnung Menge EP MwSt % Nachlass Positionswert",
            ["desc", "qty", "price", "rate", "disc", "amount"],
        ),
        ("Désignation Qté P.U. HT Montant HT", ["desc", "qty", "price", "amount"]),
        (
            "Pos Artikel Menge Einheit Einzelpreis Rabatt % Steuer Betrag",
            ["pos", "desc", "qty", "unit", "price", "disc", "rate", "amount"],
        ),
        (
            "Omschrijving Aantal Prijs p/st Korting % BTW % Bedrag",
            ["desc", "qty", "price", "disc", "rate", "amount"],
        ),
    ],
)
def test_head_kinds_by_meaning(head: str, kinds: list[str]) -> None:
    assert head_kinds(head) == kinds
    assert is_head_row(head) == kinds


@pytest.mark.parametrize(
    "line",
    [
        "Kunden-Nr. Rechnungs-Nr. Rechnungsdatum Fällig am Bestell-Nr.",  # header fields in a row
        "Nettobetrag MwSt.-Betrag Gesamtbetrag",  # a totals row's heads: no quantity nor price
        "Description Qty Unit price Amount 1,00",  # amounts printed: an item, not a head
    ],
)
def test_not_head_rows(line: str) -> None:
    assert is_head_row(line) is None


def test_head_of_unknown_spelling_and_discount_column() -> None:
    text = "\n".join(
        [
            "Bezeichnung Menge EP MwSt % Nachlass Positionswert",
            "Service hours 14,00 377,84 19% 5.289,76",
            "Onderhoud 16 408,63 19% 3 6.341,94",  # 16 x 408,63 less 3 %
            "Summe netto 11.631,70",
        ]
    )
    assert _rows(text) == [
        ("Service hours", "14.00", "377.84", "5289.76", "19"),
        ("Onderhoud", "16", "408.63", "6341.94", "19"),
    ]


def test_subtotal_rows_by_arithmetic_do_not_end_the_table() -> None:
    text = "\n".join(
        [
            "Pos. Réf. article Désignation Quantité Prix unitaire Total ligne",
            "1 T5900 Office chair 16,00 69,89 1 118,24",
            "2 B598 Office chair 12 85,08 1 020,96",
            "Sous-total 2 139,20",  # no subtotal wording the reader knows: its sum says it
            "3 K9268 Montage 20,00 278,42 5 568,40",
            "Total intermédiaire 5 568,40",  # a total word, then more items
            "4 A4907 Service hours 3 47,57 142,71",
            "Total HT 7 850,31 €",
            "TVA 20% 1 570,06 €",
        ]
    )
    rows = _rows(text)
    assert [r[0] for r in rows] == ["Office chair", "Office chair", "Montage", "Service hours"]
    assert sum(Decimal(r[3]) for r in rows) == Decimal("7850.31")


def test_space_grouped_amount_with_a_discount() -> None:
    text = "Désignation Quantité Prix unitaire Taux Rabais Prix total HT\nSteel bracket 12 122,72 21% 15 1 251,74"
    assert _rows(text) == [("Steel bracket", "12", "122.72", "1251.74", "21")]


def test_wrapped_descriptions_with_numbers() -> None:
    # the quantity column is not next to the description: "levering week 14" is its second line
    text = "\n".join(
        [
            "Pos. Artikelcode Omschrijving Prijs Aantal Bedrag",
            "1 M2366 Kantoorpapier A4 491,86 5 2.459,30",
            "levering week 14",
            "Totaal excl. btw 2.459,30",
        ]
    )
    assert _rows(text)[0][0] == "Kantoorpapier A4 levering week 14"
    # the quantity follows the description: "Apple Magic Mouse 1" may be an item, not a wrap
    text = "\n".join(
        [
            "Artikel Aantal Prijs per stuk BTW Prijs incl. BTW",
            "Decoded Leather Sleeve 2 € 99,99 21% € 199,98",
            "Apple Magic Mouse 1",
            "Exclusief BTW € 199,98",
        ]
    )
    assert _rows(text)[0][0] == "Decoded Leather Sleeve"


def test_unit_column_between_quantity_and_description() -> None:
    text = "Menge Einheit Bezeichnung Einzelpreis Betrag\n3 Satz Montage 10,00 30,00"
    assert _rows(text) == [("Montage", "3", "10.00", "30.00", None)]


def test_head_repeated_on_the_next_page_and_carried_forward_rows() -> None:
    text = "\n".join(
        [
            "Description Qty Unit price Amount",
            "Toner cartridge 2 10.00 20.00",
            "Carried forward 20.00",
            "Page 1 of 2",
            "Description Qty Unit price Amount",
            "Carried forward 20.00",
            "Office chair 1 99.00 99.00",
            "Net total 119.00",
        ]
    )
    assert _rows(text, ".") == [
        ("Toner cartridge", "2", "10.00", "20.00", None),
        ("Office chair", "1", "99.00", "99.00", None),
    ]


def test_generated_development_tables(tmp_path: Path) -> None:
    """Development line tables of bench/invoice_layouts.py (heads, orders, units, discounts,
    wraps, subtotals, pages) through the PDF text layer."""
    sys.path.insert(0, str(ROOT / "bench"))
    from invoice_layouts import generate

    from connectors.pdf import read_text

    right = total = 0
    for gen in generate(12, seed=5):
        pdf = tmp_path / gen.name
        pdf.write_bytes(gen.pdf)
        text = "\n".join(read_text(pdf).pages)
        got = parse_lines(text, "." if gen.traits["lang"] == "en" else ",")
        amounts = [str(ln.line_amount) for ln in got]
        for want in gen.truth["lines"]:
            total += 1
            right += want["line_amount"] in amounts
    assert total > 0
    assert right / total >= 0.95


def test_unit_written_after_the_quantity_is_not_the_description() -> None:
    text = (
        "Aantal Omschrijving Prijs Bedrag\n1 set Schrauben M8 270,47 270,47\n16 rol Afplaktape 92,18 1.474,88"
    )
    assert [r[0] for r in _rows(text)] == ["Schrauben M8", "Afplaktape"]


def test_discounted_row_resumes_the_table_after_a_total_worded_subtotal() -> None:
    text = "\n".join(
        [
            "Désignation Qté Prix unit. Taux Rabais Total ligne",
            "Office chair 20 415,70 21 % 8 314,00",
            "Total intermédiaire 8 314,00",
            "Steel bracket 14 317,42 21 % 15 % 3 777,30",  # 14 x 317,42 less 15 %
            "Total HT 12 091,30 €",
        ]
    )
    assert _rows(text) == [
        ("Office chair", "20", "415.70", "8314.00", "21"),
        ("Steel bracket", "14", "317.42", "3777.30", "21"),
    ]


def test_table_without_a_head_row_is_read_by_its_arithmetic() -> None:
    text = "\n".join(
        [
            "Invoice No. 821299 Date 2025-10-10",
            "Customer K1554",
            "Steel bracket pack 10 84.86 19% 848.60",  # a unit column between name and quantity
            "Toner cartridge 17 417.99 19% 7,105.83",
            "VAT No.: GB409103177",  # a page footer: the rows after it go on
            "Câble réseau 5 m 4.00 53.01 19% 212.04",  # "5 m" is part of the name
            "Net total 8,166.47",
            "VAT 19% 1,551.63",
        ]
    )
    assert _rows(text, ".") == [
        ("Steel bracket", "10", "84.86", "848.60", "19"),
        ("Toner cartridge", "17", "417.99", "7105.83", "19"),
        ("Câble réseau 5 m", "4.00", "53.01", "212.04", "19"),
    ]
