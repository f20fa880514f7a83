"""The invoice-matching rules as pure functions on hand-built invoices and contexts."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bots.invoice_matching.context import DocRef, MatchContext, build_context
from bots.invoice_matching.matching import match_lines, norm_ref, norm_vendor
from bots.invoice_matching.models import InvoiceModel, Tolerances
from bots.invoice_matching.rules import RULES
from connectors.purchasing import POLine, Receipt, Vendor

VENDOR = Vendor("V1", "Acme Parts GmbH", "DE111111111", "DE89370400440532013000", None, "EUR", "active")


def po_line(
    line: int,
    item: str,
    qty: str,
    price: str,
    *,
    rate: str = "19",
    gr: bool = True,
    charge: str | None = None,
) -> POLine:
    return POLine(
        "PO1",
        line,
        "V1",
        item,
        f"{item} thing",
        Decimal(qty),
        Decimal(price),
        "EUR",
        Decimal(rate),
        gr,
        charge,
    )


def ctx(lines: list[POLine], received: dict[int, str] | None = None, **kw: Any) -> MatchContext:
    receipts = [Receipt(f"GR{n}", "PO1", n, Decimal(q), None) for n, q in (received or {}).items()]
    c = build_context([VENDOR], lines, receipts, [], [], tolerances=kw.pop("tolerances", None))
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def invoice(lines: list[tuple[str, str, str, str]], *, tax: str | None = None, **kw: Any) -> InvoiceModel:
    """lines: (description, qty, unit price, rate); totals computed unless given."""
    items = []
    net = Decimal(0)
    taxes: dict[Decimal, Decimal] = {}
    for desc, qty, price, rate in lines:
        amount = (Decimal(qty) * Decimal(price)).quantize(Decimal("0.01"))
        net += amount
        taxes[Decimal(rate)] = taxes.get(Decimal(rate), Decimal(0)) + amount
        items.append(
            {
                "description": desc,
                "quantity": qty,
                "unit_price": price,
                "line_amount": str(amount),
                "tax_rate": rate,
            }
        )
    tax_total = (
        Decimal(tax)
        if tax is not None
        else sum(((b * r / 100).quantize(Decimal("0.01")) for r, b in taxes.items()), Decimal(0))
    )
    data: dict[str, Any] = {
        "key": kw.pop("key", "K1"),
        "file": "a.pdf",
        "sha256": "0" * 64,
        "source": "text",
        "invoice_number": "INV-1",
        "issue_date": "2024-03-05",
        "seller_name": VENDOR.name,
        "seller_vat_id": VENDOR.vat_id,
        "po_number": "PO1",
        "currency": "EUR",
        "net_total": str(net),
        "tax_total": str(tax_total),
        "gross_total": str(net + tax_total),
        "iban": VENDOR.iban,
        "lines": items,
    }
    data.update(kw)
    return InvoiceModel.model_validate(data)


def codes(inv: InvoiceModel, c: MatchContext, *, info: bool = False) -> list[str]:
    return sorted({v.code for v in RULES.check(inv, c) if (v.severity == "info") == info})


def test_clean_three_way_match_passes() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    assert codes(invoice([("A-1 bolts", "10", "5.00", "19")]), c) == []


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("5.20", []),  # +2.00 (4 %): inside both limits
        ("5.30", ["INV-PRICE"]),  # +3.00 (6 %): above 5 %
        ("4.70", ["INV-PRICE"]),  # -3.00 (-6 %): either direction
    ],
)
def test_price_percent_limit(price: str, expected: list[str]) -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    assert codes(invoice([("A-1", "10", price, "19")]), c) == expected


def test_price_absolute_limit_applies_even_under_the_percent() -> None:
    c = ctx([po_line(1, "A-1", "1000", "10.00")], {1: "1000"})
    # +30.00 on 10,000.00 is 0.3 % but above 25.00
    assert codes(invoice([("A-1", "1000", "10.03", "19")]), c) == ["INV-PRICE"]


def test_none_tolerance_means_no_limit() -> None:
    tol = Tolerances(price_pct=None, price_abs=None)
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"}, tolerances=tol)
    assert codes(invoice([("A-1", "10", "9.00", "19")]), c) == []


def test_quantity_cumulative_over_received_and_no_receipt() -> None:
    lines = [po_line(1, "A-1", "100", "5.00"), po_line(2, "B-2", "10", "5.00")]
    c = ctx(lines, {1: "60"})
    c.prior_qty["K1"] = {("PO1", 1): Decimal("50")}
    found = RULES.check(invoice([("A-1", "20", "5.00", "19"), ("B-2", "1", "5.00", "19")]), c)
    assert sorted(v.code for v in found) == ["INV-NO-RECEIPT", "INV-QTY"]
    qty = next(v for v in found if v.code == "INV-QTY")
    assert qty.expected == "60" and qty.actual == "70"


def test_quantity_small_excess_within_tolerance_and_two_way() -> None:
    c = ctx([po_line(1, "A-1", "100", "0.10")], {1: "100"})
    assert codes(invoice([("A-1", "104", "0.10", "19")]), c) == []  # 4 % and 0.40 over
    services = ctx([po_line(1, "S-1", "10", "70.00", gr=False)])
    assert codes(invoice([("S-1 hours", "10", "70.00", "19")]), services) == []
    assert codes(invoice([("S-1 hours", "11", "70.00", "19")]), services) == ["INV-QTY"]


def test_tax_over_and_under_against_po_rates() -> None:
    c = ctx([po_line(1, "A-1", "10", "10.00", rate="7")], {1: "10"})
    assert codes(invoice([("A-1", "10", "10.00", "19")]), c) == ["INV-TAX-OVER"]
    c19 = ctx([po_line(1, "A-1", "10", "10.00")], {1: "10"})
    assert codes(invoice([("A-1", "10", "10.00", "7")]), c19) == ["INV-TAX-UNDER"]
    assert codes(invoice([("A-1", "10", "10.00", "19")], tax="19.01"), c19) == []  # rounding


def test_small_header_difference_is_recorded_not_blocked() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    inv = invoice([("A-1", "10", "5.00", "19")])
    shifted = inv.model_copy(
        update={
            "net_total": inv.net_total + Decimal("0.04"),
            "gross_total": inv.gross_total + Decimal("0.04"),
        }
    )  # type: ignore[operator]
    assert codes(shifted, c) == []
    assert codes(shifted, c, info=True) == ["INV-SMALL-DIFF"]
    off = inv.model_copy(update={"net_total": inv.net_total + Decimal("0.06")})  # type: ignore[operator]
    assert "INV-TOTAL" in codes(off, c)


def test_charges_expected_unexpected_and_over() -> None:
    lines = [po_line(1, "A-1", "10", "5.00"), po_line(2, "FREIGHT", "1", "20.00", charge="FREIGHT")]
    c = ctx(lines, {1: "10"})
    assert codes(invoice([("A-1", "10", "5.00", "19"), ("Freight", "1", "20.00", "19")]), c) == []
    assert codes(invoice([("A-1", "10", "5.00", "19"), ("Fracht", "1", "60.00", "19")]), c) == ["INV-CHARGE"]
    c2 = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    assert codes(invoice([("A-1", "10", "5.00", "19"), ("Verpackung", "1", "3.00", "19")]), c2) == [
        "INV-CHARGE"
    ]


def test_vendor_unknown_blocked_and_bank_change() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    stranger = invoice([("A-1", "10", "5.00", "19")], seller_name="Someone Else", seller_vat_id="FR999")
    assert codes(stranger, c) == ["INV-VENDOR-UNKNOWN"]  # no PO checks without a vendor
    c.vendors["V1"] = VENDOR.__class__(**{**VENDOR.__dict__, "status": "blocked"})
    c.vendors_by_vat["DE111111111"] = c.vendors["V1"]
    assert codes(invoice([("A-1", "10", "5.00", "19")]), c) == ["INV-VENDOR-BLOCKED"]
    c2 = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    moved = invoice([("A-1", "10", "5.00", "19")], iban="GB29NWBK60161331926819")
    [v] = RULES.check(moved, c2)
    assert v.code == "INV-BANK-CHANGE" and v.actual.endswith("6819") and "NWBK" not in v.actual
    assert RULES.codes()["INV-BANK-CHANGE"].approver_only


def test_po_missing_wrong_vendor_and_currency() -> None:
    other = POLine("PO2", 1, "V9", "X", "x", Decimal(1), Decimal(1), "EUR", Decimal(19), True, None)
    c = ctx([po_line(1, "A-1", "10", "5.00"), other], {1: "10"})
    assert codes(invoice([("A-1", "10", "5.00", "19")], po_number=None), c) == ["INV-NO-PO"]
    assert codes(invoice([("A-1", "10", "5.00", "19")], po_number="PO2"), c) == ["INV-NO-PO"]
    assert codes(invoice([("A-1", "10", "5.00", "19")], currency="USD"), c) == ["INV-CURRENCY"]


def test_unmatched_line() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    assert codes(invoice([("A-1", "10", "5.00", "19"), ("Z-9 something else", "1", "5.00", "19")]), c) == [
        "INV-LINE-NOMATCH"
    ]


def test_duplicates_exact_and_fuzzy_with_ocr_lookalikes() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "100"})
    inv = invoice([("A-1", "10", "5.00", "19")], invoice_number="RE-2024-0018")

    def seen(number: str, day: int, gross: Decimal | None = None, origin: str = "ledger") -> DocRef:
        return DocRef(
            "OLD",
            "V1",
            norm_vendor(VENDOR.name),
            "EUR",
            gross or inv.gross_total,
            number,
            norm_ref(number),
            date(2024, 3, day),
            "old.pdf",
            origin,
        )

    c.history = [seen("RE-2024-0018", 5)]
    assert codes(inv, c) == ["INV-DUP-EXACT"]
    for typed in ("RE 2024 OO18", "re-2024-0018", "RE-2O24-OOI8", "RE/2024/0018"):
        c.history = [seen(typed, 20)]
        assert codes(inv, c) == ["INV-DUP-FUZZY"], typed
    c.history = [seen("RE-2024-0018", 5, gross=Decimal("1.00"))]
    assert codes(inv, c) == []  # different amount
    c.history = [replace(seen("RE-2024-OO18", 5), issue_date=date(2024, 1, 20))]
    assert codes(inv, c) == []  # 45 days apart: outside the window
    # a later invoice of the same run is not "earlier"
    c.history = [seen("RE-2024-0018", 5, origin="run")]
    c.order = {"K1": 0, "OLD": 1}
    assert codes(inv, c) == []


def test_normalisers_and_line_matching() -> None:
    assert (
        norm_vendor("Bluefield Supplies, Ltd.")
        == norm_vendor("BLUEFIELD SUPPLIES LTD")
        == "bluefield supplies"
    )
    assert norm_vendor("Lumen Électrique SAS") == "lumen electrique"
    assert norm_ref("LE-24-Ol52") == norm_ref("LE 24 0152")
    assert norm_ref("B8-S5") == norm_ref("88-55")
    # every look-alike folded, the rest kept: upper-cased, punctuation and non-ASCII letters dropped
    assert norm_ref("inv-ObIS/l0 ß-é") == "1NV081510"
    assert norm_ref("R-2024/0l8") == "R2024018"
    lines = [
        po_line(1, "A-1", "1", "1"),
        po_line(2, "B-2", "1", "1"),
        po_line(3, "PK", "1", "1", charge="PACKAGING"),
    ]
    m = match_lines(["B-2 widget", "Emballage", "A-1 thing x", "unrelated"], lines)
    assert [(x.kind, x.po_line.po_line if x.po_line else None) for x in m] == [
        ("goods", 2),
        ("charge", 3),
        ("goods", 1),
        ("unmatched", None),
    ]


def test_a_description_of_blanks_only_is_an_unmatched_line_not_a_crash() -> None:
    lines = [po_line(1, "A-1", "1", "1")]
    m = match_lines(["   ", "\t", "", None, "A-1"], lines)
    assert [x.kind for x in m] == ["unmatched", "unmatched", "unmatched", "unmatched", "goods"]


def test_ruleset_declares_every_code_once_with_a_description() -> None:
    specs = RULES.codes()
    assert {
        "INV-XML-TEXT",
        "INV-LOW-CONFIDENCE",
        "INV-MISSING",
        "INV-TOTAL",
        "INV-SMALL-DIFF",
        "INV-VENDOR-UNKNOWN",
        "INV-VENDOR-BLOCKED",
        "INV-BANK-CHANGE",
        "INV-DUP-EXACT",
        "INV-DUP-FUZZY",
        "INV-NO-PO",
        "INV-CURRENCY",
        "INV-LINE-NOMATCH",
        "INV-PRICE",
        "INV-QTY",
        "INV-NO-RECEIPT",
        "INV-CHARGE",
        "INV-TAX-OVER",
        "INV-TAX-UNDER",
    } == set(specs)
    assert all(s.description for s in specs.values())
    readme = (
        __import__("pathlib").Path(__file__).resolve().parents[3] / "bots/invoice_matching/README.md"
    ).read_text()
    assert all(f"`{code}`" in readme for code in specs)


def test_absolute_limits_are_in_company_currency() -> None:
    usd_line = POLine(
        "PO1", 1, "V1", "A-1", "a", Decimal(1000), Decimal("10.00"), "USD", Decimal(19), True, None
    )
    c = ctx([usd_line], {1: "1000"})
    inv = invoice([("A-1", "1000", "10.04", "19")], currency="USD")  # +40.00 USD, 0.4 %
    c.fx_to_company = {"USD": Decimal("0.5")}  # = 20.00 EUR: inside the 25.00 limit
    assert codes(inv, c) == []
    c.fx_to_company = {"USD": Decimal("0.9")}  # = 36.00 EUR: above it
    assert codes(inv, c) == ["INV-PRICE"]
    c.fx_to_company = {}  # rate unknown: only the percent limit can apply
    assert codes(inv, c) == []


# ------------------------------------------------ BT-10, line-level order references, credit notes


def two_pos(*, other_vendor: bool = False) -> MatchContext:
    """PO1 (A-1, 10 x 5.00) and PO2 (B-1, 20 x 2.00; another vendor's when asked), all received."""
    second = POLine(
        "PO2",
        1,
        "V9" if other_vendor else "V1",
        "B-1",
        "B-1 thing",
        Decimal(20),
        Decimal("2.00"),
        "EUR",
        Decimal(19),
        True,
        None,
    )
    receipts = [Receipt("GR1", "PO1", 1, Decimal(10), None), Receipt("GR2", "PO2", 1, Decimal(20), None)]
    return build_context([VENDOR], [po_line(1, "A-1", "10", "5.00"), second], receipts, [], [])


def with_orders(inv: InvoiceModel, *refs: str | None) -> InvoiceModel:
    lines = [replace(ln, order_reference=ref) for ln, ref in zip(inv.lines, refs, strict=True)]
    return inv.model_copy(update={"lines": lines})


def test_buyer_reference_names_the_po_only_when_bt13_is_absent_and_it_is_a_po() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    line = [("A-1 bolts", "10", "5.00", "19")]
    assert codes(invoice(line, po_number=None, buyer_reference="PO1"), c) == []
    leitweg = invoice(line, po_number=None, buyer_reference="04011000-12345-03")
    [v] = RULES.check(leitweg, c)
    assert v.code == "INV-NO-PO" and "buyer reference '04011000-12345-03' is not a PO" in v.message
    # BT-13 wins over BT-10
    assert codes(invoice(line, po_number="PO9", buyer_reference="PO1"), c) == ["INV-NO-PO"]


def test_one_invoice_over_two_pos_matches_line_by_line() -> None:
    c = two_pos()
    base = invoice([("bolts", "10", "5.00", "19"), ("washers", "20", "2.00", "19")], po_number=None)
    inv = with_orders(base, "PO1/1", "PO2/1")
    assert codes(inv, c) == []
    matches = c.matches(inv)
    assert [(m.po, m.po_line.po_line if m.po_line else None, m.how) for m in matches] == [
        ("PO1", 1, "order line reference"),
        ("PO2", 1, "order line reference"),
    ]
    # a line naming only its PO is matched by item code on that PO; over-billing names that PO
    over = with_orders(
        invoice([("A-1 bolts", "10", "5.00", "19"), ("B-1 washers", "30", "2.00", "19")], po_number=None),
        "PO1",
        "PO2",
    )
    found = [v for v in RULES.check(over, c) if v.severity != "info"]
    assert [v.code for v in found] == ["INV-QTY"] and "PO PO2/1" in found[0].message
    # another vendor's PO on one line stops the invoice
    assert codes(inv, two_pos(other_vendor=True)) == ["INV-NO-PO"]


def test_a_line_naming_its_po_line_bt132_is_matched_to_it_whatever_its_description() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00"), po_line(2, "C-3", "4", "7.50")], {1: "10", 2: "4"})
    inv = with_orders(invoice([("Something", "4", "7.50", "19")]), "2")  # LINE of the header PO1
    assert codes(inv, c) == []
    [m] = c.matches(inv)
    assert m.po_line is not None and m.po_line.po_line == 2 and m.how == "order line reference"


def test_credit_note_lowers_what_was_billed_and_passes_its_po() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00")], {1: "10"})
    credit = invoice([("A-1 bolts", "-4", "5.00", "19")], document_type="381")
    assert credit.gross_total == Decimal("-23.80")
    assert codes(credit, c) == []
    # after 10 billed and 4 credited, 4 more may be billed against the 10 received
    c.prior_qty["K2"] = {("PO1", 1): Decimal(6)}
    assert codes(invoice([("A-1 bolts", "4", "5.00", "19")], key="K2"), c) == []


def test_credit_note_without_po_takes_the_po_of_the_invoice_it_corrects() -> None:
    from datetime import UTC, datetime

    from connectors.purchasing import LedgerEntry, LedgerLine

    posted = LedgerEntry(
        key="OLD",
        vendor_id="V1",
        vendor_name=VENDOR.name,
        invoice_number="INV-1",
        issue_date=date(2024, 3, 1),
        due_date=None,
        currency="EUR",
        net_total=Decimal("50.00"),
        tax_total=Decimal("9.50"),
        gross_total=Decimal("59.50"),
        po_number="PO1",
        file="a.pdf",
        sha256="0" * 64,
        run_id="r0",
        posted_at=datetime(2024, 3, 2, tzinfo=UTC),
        lines=(
            LedgerLine(
                "OLD", "INV-1", "PO1", 1, None, "A-1 bolts", Decimal(10), Decimal(5), Decimal(50), Decimal(19)
            ),
        ),
    )
    receipts = [Receipt("GR1", "PO1", 1, Decimal(10), None)]
    c = build_context([VENDOR], [po_line(1, "A-1", "10", "5.00")], receipts, [posted], [])
    note = invoice(
        [("A-1 bolts", "-2", "5.00", "19")],
        key="CN",
        invoice_number="CN-1",
        po_number=None,
        document_type="381",
        preceding_invoice="INV-1",
    )
    assert c.header_po(note) == "PO1" and codes(note, c) == []
    unknown = note.model_copy(update={"preceding_invoice": "INV-404"})
    [v] = RULES.check(unknown, c)
    assert v.code == "INV-NO-PO" and "'INV-404', is neither posted nor in this run" in v.message


def test_a_po_line_billed_on_two_invoice_lines_counts_both_quantities() -> None:
    c = ctx([po_line(1, "A-1", "10", "5.00"), po_line(2, "B-2", "10", "5.00")], {1: "10", 2: "10"})
    inv = invoice(
        [("A-1 bolts", "6", "5.00", "19"), ("B-2 nuts", "1", "5.00", "19"), ("A-1 more", "6", "5.00", "19")]
    )
    facts = c.compute_facts(inv)
    assert facts.repeated and [m.key for m in facts.matches] == [("PO1", 1), ("PO1", 2), ("PO1", 1)]
    [v] = RULES.check(inv, c)
    assert (v.code, v.expected, v.actual) == ("INV-QTY", "10", "12")  # 6 + 6 billed on PO1/1
    assert not c.compute_facts(invoice([("A-1 bolts", "6", "5.00", "19")])).repeated


def test_duplicates_among_many_invoices_of_the_same_amount() -> None:
    """Monthly invoices of one vendor for the same amount are not duplicates of each other; the
    one sent twice is, and the index finds it among them (keyed by amount and normalised number)."""
    from datetime import timedelta
    from pathlib import Path

    from bots.invoice_matching.invoices import Loaded
    from connectors.einvoice import ExtractedInvoice, InvoiceLine

    def monthly(n: int, number: str, day: date) -> Loaded:
        inv = ExtractedInvoice(
            file=f"m{n:03d}.pdf",
            invoice_number=number,
            issue_date=day,
            seller_name=VENDOR.name,
            seller_vat_id=VENDOR.vat_id,
            po_number="PO1",
            currency="EUR",
            net_total=Decimal("5.00"),
            tax_total=Decimal("0.95"),
            gross_total=Decimal("5.95"),
            lines=[InvoiceLine("A-1 rent", Decimal(1), Decimal("5.00"), Decimal("5.00"), Decimal(19))],
        )
        return Loaded(Path(inv.file or ""), f"K{n:03d}", "0" * 64, inv)

    loaded = [monthly(n, f"R-{n:03d}", date(2020, 1, 1) + timedelta(days=n)) for n in range(300)]
    loaded.append(monthly(300, "R-l50", date(2020, 1, 1) + timedelta(days=160)))  # R-150 again, OCR'd
    c = build_context([VENDOR], [po_line(1, "A-1", "1000", "5.00", gr=False)], [], [], loaded)
    found = {}
    for ld in loaded:
        payload = {**ld.result.header(), "key": ld.key, "file": ld.path.name, "sha256": ld.sha256}
        payload["source"] = "text"
        payload["lines"] = [
            {
                "description": "A-1 rent",
                "quantity": "1",
                "unit_price": "5.00",
                "line_amount": "5.00",
                "tax_rate": "19",
            }
        ]
        dup = [
            v for v in RULES.check(InvoiceModel.model_validate(payload), c) if v.code.startswith("INV-DUP")
        ]
        if dup:
            found[ld.key] = (dup[0].code, dup[0].actual["duplicate_of"])
    assert found == {"K300": ("INV-DUP-FUZZY", "K150")}
    assert len(c._dup_index) == 300  # one bucket per (amount, normalised number)


def test_context_build_leaves_the_collector_as_it_found_it() -> None:
    """build_context pauses the cyclic collector and hands what it built straight to the oldest
    generation; the collector's on/off state is restored, and objects the process froze itself
    stay frozen (their count unchanged)."""
    import gc

    lines = [po_line(1, "A-1", "10", "2.00")]
    was_on = gc.isenabled()
    try:
        gc.disable()
        build_context([VENDOR], lines, [], [], [])
        assert not gc.isenabled()
        gc.enable()
        build_context([VENDOR], lines, [], [], [])
        assert gc.isenabled()
        gc.freeze()
        frozen = gc.get_freeze_count()
        build_context([VENDOR], lines, [], [], [])
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        if not was_on:
            gc.disable()


def test_every_violation_of_the_rules_is_valid_data() -> None:
    """Every violation a rule makes passes the Violation model's own checks (path syntax
    included): a dump validates back to an equal violation."""
    from backoffice.rules import Violation

    lines = [po_line(1, "A-1", "10", "2.00"), po_line(2, "B-2", "5", "3.00", gr=False)]
    c = ctx(lines, {1: "4"})
    inv = invoice(
        [("A-1 thing", "6", "2.00", "19"), ("B-2 thing", "9", "3.30", "19"), ("Freight", "1", "9", "19")]
    )
    found = RULES.check(inv, c)
    assert {v.code for v in found} >= {"INV-QTY", "INV-PRICE", "INV-CHARGE"}
    for v in found:
        assert Violation.model_validate(v.model_dump()) == v


def test_low_ocr_confidence_sends_a_human_only_to_fields_a_decision_rests_on() -> None:
    """The letterhead's trading name (BT-28) is read with a confidence kept low on purpose and no
    rule reads it: its OCR record raises nothing; the gross total's does."""

    def low(field: str, actual: str) -> dict[str, Any]:
        return {
            "code": "INV-LOW-CONFIDENCE",
            "field": field,
            "actual": actual,
            "page": 1,
            "box": [1, 2, 3, 4],
        }

    c = ctx([po_line(1, "A-1", "10", "5.00")], received={1: "10"})
    inv = invoice([("A-1", "10", "5.00", "19")], source="ocr", seller_trading_name="Acme")
    inv = inv.model_copy(
        update={
            "extraction_errors": [
                low("seller_trading_name", "Acme"),
                low("gross_total", str(inv.gross_total)),
            ]
        }
    )
    found = [v for v in RULES.check(inv, c) if v.code == "INV-LOW-CONFIDENCE"]
    assert [v.field for v in found] == ["gross_total"]
