"""The layout reader where the lexicon holds no label of a field: dates told apart by their order
(payment is due after issue) and an invoice number read from a label's shape (a number word, no
other number's word); readings, not labels, so their confidences stay below the review threshold."""

from __future__ import annotations

from datetime import date

from connectors.invoice_templates.layout import read_invoice

TOTALS = "Net total: 100.00 EUR\nVAT 19%: 19.00 EUR\nTotal: 119.00 EUR\n"
REVIEW = 0.8


def test_one_later_header_date_is_the_due_date() -> None:
    inv = read_invoice("ACME GmbH\nInvoice date: 01/03/2025\nSettle until: 31/03/2025\n" + TOTALS)
    assert inv.issue_date == date(2025, 3, 1)
    assert inv.due_date == date(2025, 3, 31)
    assert inv.confidence["due_date"] < REVIEW


def test_a_later_date_beyond_payment_terms_is_no_due_date() -> None:
    inv = read_invoice("ACME GmbH\nInvoice date: 01/03/2025\nContract ends: 31/12/2026\n" + TOTALS)
    assert inv.issue_date == date(2025, 3, 1)
    assert inv.due_date is None


def test_two_unlabelled_dates_earlier_is_issue_later_is_due() -> None:
    inv = read_invoice("ACME GmbH\nStichtag: 2025-03-31\nVom: 2025-03-01\n" + TOTALS)
    assert (inv.issue_date, inv.due_date) == (date(2025, 3, 1), date(2025, 3, 31))
    assert inv.confidence["issue_date"] < REVIEW and inv.confidence["due_date"] < REVIEW


def test_number_of_an_unknown_label_ending_in_a_number_word() -> None:
    inv = read_invoice(
        "ACME GmbH\nKundennummer: K-4711\nVorgangsnummer: VG-2025-17\nDatum: 01.03.2025\n" + TOTALS
    )
    assert inv.invoice_number == "VG-2025-17"  # the customer number's label names another number
    assert inv.confidence["invoice_number"] < REVIEW


def test_no_invoice_number_from_other_numbers() -> None:
    inv = read_invoice("ACME GmbH\nCustomer no.: 4711\nOrder number: 0815\nDate: 2025-03-01\n" + TOTALS)
    assert inv.invoice_number is None


def test_a_bare_date_word_heading_another_dates_label_is_no_issue_date() -> None:
    inv = read_invoice(
        "ACME SARL\nFACTURE\nDate d'échéance 2025-12-23\nDate 2025-12-09\nN° de facture 2025/1\n" + TOTALS
    )
    assert inv.issue_date == date(2025, 12, 9)
    assert inv.due_date == date(2025, 12, 23)
