"""Field-level accuracy of invoice extraction on real data, for the XML path and the text-only path.

    .venv/bin/python bench/extract_accuracy.py [--realdata ../shared/realdata] [--json] [--quick]
        [--summary] [--details] [--generated N] [--seed S]

``--json`` prints one result per source and path (``bench/_report.py``): ``ratio`` is the share of
fields right, ``target`` the share measured when the PDF text reader moved to PDFium (it must not
drop), ``better`` is ``"higher"``. ``--quick`` runs the same files (the whole set takes well under
two minutes); ``--summary`` prints the full JSON summary (per-field counts, disagreements) instead.

Sources (see ../shared/realdata/SOURCES.txt):

- ``mustangproject``: Factur-X / ZUGFeRD / XRechnung PDFs. Ground truth is the embedded XML, read
  here by a separate, strictly namespaced XPath reader (``_truth_from_xml``) that does not share
  code with ``connectors.einvoice``. The XML path is scored against it, and so is the text-only
  path (``extract_invoice(use_xml=False)``) on the PDFs that have a text layer.
  ``xml`` is the product's path end to end (``extract_invoice(pdf)``: the bounded PDF worker,
  attachment pick, ``parse_xml``); ``xml_mapping`` is ``parse_xml`` alone on the attachment the
  bench pulled out, so a file the PDF sandbox refuses (listed as ``xml refused``) is told apart
  from a mapping error. Until round 5 every ``xml`` miss (29 of 520 fields) was one file,
  ``validator/.../invalidPDF.pdf``: five 5950x8420 RGB page images inflate its 1.5 MB to 717 MiB,
  past ``pdf_max_inflated_mb`` (256), and the pre-scan counted them against the document's total,
  so ``connectors/pdf_sandbox.py`` refused the whole PDF before its XML was read. Since round 5
  an image is held to the size its own dictionary declares (reading text and attachments never
  decodes an image; rendering has its own guard): ``xml`` is 520/520, as ``xml_mapping`` was.
  Its pages are images only, so it is read by OCR too and kept out of the text figures
  (``pdfs_of_page_images``): OCR is measured by ``bench/ocr_accuracy.py``.
- ``en16931-cef``: the bare EN 16931 example XML invoices (17 UBL incl. a CreditNote, 15 CII),
  read as the invoice bot and ``extract invoice FILE.xml`` read them (``parse_xml``) and scored
  against the same separate XPath reader (UBL paths of the EN 16931 UBL binding: BT-27 legal name
  ``PartyLegalEntity/RegistrationName``, BT-28 ``PartyName/Name``, BT-31 the ``PartyTaxScheme``
  whose scheme is ``VAT``, BT-10 ``BuyerReference``, BT-110 the ``TaxAmount`` in the document
  currency). Added in round 4 (before, the XML path was measured on the 20 PDFs only).
- ``invoice2data``: the PDFs of invoice2data's ``tests/compare`` with their expected JSON. No XML
  is embedded, so only the text path is scored.

- ``generated``: invoices drawn by ``bench/invoice_layouts.py`` (label language and wording, value
  right of or below its label, header side, parties, totals block, tax rates, prepayments, pages),
  written to a temporary directory and read back through the PDF text layer; nothing committed.
  ``generated_held_out_1`` / ``_2`` / ``_3`` use label wordings kept apart from development (set
  1 was looked at once the reader existed; set 2 was only measured until round 5, whose fixes
  were made on sets 1 and 2 and the real data; set 3 was written at the start of round 5, before
  any change of it, and only measured; see that module). ``generated_held_out_4`` (round 6) keeps
  the development label wordings and varies the line table instead (column heads and orders,
  unit columns, discounts per line, wrapped descriptions, tables continuing across pages,
  subtotal rows inside the table); its answer keys carry the lines. It was written at the start
  of round 6, measured before any change of the line reader, and is ONLY MEASURED, never fixed
  against.
  ``generated_held_out_5`` (round 7) has wordings unseen so far and header layouts the other sets
  do not draw (seller and buyer blocks side by side, values far right of their labels, a boxed
  grid of header fields, "Our ref / Your ref" blocks with BT-10 in the answer key); it was written
  at the start of round 7, measured before any change of the header reader, and is ONLY MEASURED.

The text-only path is scored as ``text_generic`` (the layout reader alone: templates disabled,
what a new vendor gets), ``text_templates`` (with the vendor templates of
``connectors/invoice_templates``; those for the real-data vendors were written from their printed
pages, as invoice2data's are, so this measures known layouts), ``text_other_templates``
(leave-one-template-out: every template but the one written from the file's own layout) and
``text_generic_printed`` (the generic figure without the header fields whose truth is printed
nowhere on the page). None of them reads the embedded XML. For mustangproject, header fields
whose XML value is not printed anywhere on the page are listed (page/XML disagreements); they
stay in every figure but the ``_printed`` one. ``seller_trading_name`` (BT-28) and
``buyer_reference`` (BT-10) are scored only where the XML has them.

Every ``text_generic`` / ``text_generic_printed`` figure is followed by how well the reader's
confidence separates right from wrong header values: of the right values the share below 0.8
(``ocr_min_confidence``: flagged for a human for nothing), of the wrong ones the share at or above
it (passed unseen), and the AUC. Against mustangproject's XML most "wrong" values are the page
disagreeing with its XML (read right, scored wrong), so the ``_printed`` line is the one to read.

Measured 3 December 2026 (round 8, issue 12 item 3), header fields right without templates. Set 6
(``generated_held_out_6``, seed 89) was written first, measured once before any reader change and
not looked at since; the changes were made on two development sets with the development wordings
(``generated_dev_7``: set 6's layouts, seed 103; ``generated_dev_8``: set 5's layouts, seed 117)
and the real data. ``--sets`` / ``--no-real`` pick what runs. "Before" is HEAD 286dbdc's reader;
load average 2-8 on the 2 shared cores:

| source | before | after |
|---|---|---|
| mustangproject (19 PDFs, vs their XML) | 93.3 % (210/225) | 93.3 % (210/225) |
| mustangproject, printed on the page only | 98.1 % (209/213) | 98.1 % (209/213) |
| invoice2data (11 PDFs, vs their JSON) | 94.4 % (67/71) | 94.4 % (67/71) |
| generated, development wordings (seed 7) | 100 % | 100 % |
| generated, held-out set 3 (seed 47) | 96.7 % (977/1010) | 96.7 % (977/1010) |
| generated, held-out set 5 (seed 75; only measured) | 94.4 % (1003/1063) | **94.6 %** (1006/1063) |
| generated, held-out set 6 (seed 89; only measured) | 83.6 % (844/1010) | **95.0 %** (960/1010) |
| development set 7 (set 6 layouts, seed 103) | 85.4 % (872/1021) | 99.2 % (1013/1021) |
| development set 8 (set 5 layouts, seed 117) | 98.4 % (1032/1049) | 99.8 % (1047/1049) |

With templates unchanged: mustangproject 94.2 %, invoice2data 98.6 %. What changed (general
rules, each with a test): dot leaders read as a colon; ship-to / delivery blocks are no buyer; a
name is never a field label, a table head, a street or a trailing date; the seller's name starting
a footer line at its VAT id / IBAN; a label ending its line over a value ending the next; compound
issue-date heads read alone over their value; "your reference" wordings ending at a word's end
("Uw referentie" was "Uw ref" + "erentie") with a number word after them; a bare "Date" heading
"Date d'échéance" is no issue-date label; the account holder at the bank details a seller
candidate; dd-mm-yy and dd-Mon-yyyy dates. The real-data misses left are printed nowhere (11 of
mustangproject's 15, all 4 of invoice2data's: the ceilings are 214/225 = 95.1 % and 67/71), or
Facture_F20180027's placeholder names ("LE FOURNISSEUR", "LE CLIENT" are label words; the buyer is
printed at the end of the seller's street line) and "Au bon moulin SARL" printed where the XML's
legal name drops the legal form.

Measured 2 December 2026 (round 6: line tables), line-item fields (description, quantity,
unit_price, line_amount, tax_rate, order_reference of ``LINE_FIELDS``; no source here has line
order references) right without templates. "Before" is HEAD 8c843f7's reader; load average
13-20 on the 2 shared cores. The scorer changed first, measured on the old reader: lines were
paired by position, so one line missed or read twice made every later line wrong; they are now
paired by content (``PAIRING``; ``--pairing position`` gives the old way), and an invoice2data
name wrapped over two lines is the whole name (its first line only before):

| source | before, positional (round 5 scorer) | before, paired by content | **after** | header fields before -> after |
|---|---|---|---|---|
| mustangproject (19 PDFs, vs their XML) | 78.9 % (210/266) | 85.0 % (226/266) | **96.2 %** (256/266) | 92.4 % -> 92.4 % (208/225) |
| invoice2data (11 PDFs, vs their JSON) | 77.0 % | 78.0 % (78/100) | **95.0 %** (95/100) | 94.4 % -> 94.4 % (67/71) |
| generated, held-out set 4 (seed 61, line tables; ONLY MEASURED) | 4.9 % (240/4865) | 15.4 % (751/4865) | **27.1 %** (1317/4865) | 99.6 % -> 99.6 % (1008/1012) |
| generated, sets 0-3 (no line keys) | | | | 100 / 100 / 100 / 94.2 % unchanged |

With templates, line items: mustangproject 94.7 % -> 98.9 %, invoice2data 92.0 % -> 100 %. Set 4
per field, before -> after (973 lines): description 112 -> 223, quantity 164 -> 286, unit_price
163 -> 261, line_amount 164 -> 286, tax_rate 148 -> 261. Its failures were not read (kept blind
for a later round; two of its PDFs' text was printed once while checking the generator drew what
it should, before any change: one table whose "Anz." quantity head the reader does not know, one
whose unit glued to the quantity went into the description; neither was fixed). Confidence and
the printed-only header figures are unchanged on every source (held-out 3: 15.1 % of right
values below 0.8, as in round 5). Reader speed: ``read_invoice`` on the 40 real text PDFs of
mustangproject and invoice2data, HEAD's ``parse_lines`` against this one in one process, median
of 7 interleaved passes (CPU time): 0.331 -> 0.335 s (+1.2 %), 0.335 -> 0.339 s (+1.4 %),
0.329 -> 0.333 s (+1.1 %, load 6-9); the limit was ~5 %.

Wrong line fields by cause, before (``--details``, content pairing; 40 mustangproject, 22
invoice2data) and what was done, in general ways:

- rows that are not items: an attribute row whose numbers follow labels' colons ("Bruttopreis:1,50
  Abschlag:0,03 ... Abschlag:0,02" read as 1.50 x 0.02 = 0.03; now no item); a subtotal row inside
  the table ended it, losing the rows after it ("Subtotal $ 112.00" between two groups; now
  subtotal wordings without excl./incl./tax words skip the row and the table goes on);
- arithmetic: a discount per line (1.00 x 1.00 less 10.00 % = 0.90; qty x price x (100 - d) / 100
  = amount is tried when no exact fit uses the row's last number); rows whose printed price does not
  make the amount (charges folded in: 20 x 2.77 = 55.40, printed 55.46) or that print no price
  ("Stahlcoil 10Stk 19% 850,00", "Thuiskopie 1 21% 4,24"): a quantity with a unit or a plain whole
  number, a rate or unit, and a last amount with cents make a line, its price the number within
  10 % of amount / qty or none (not when the "quantity" is the first digit group of a
  space-grouped amount, "TVA 20 % 1 164,37");
- column assignment: the position number taken as the quantity on a zero-amount row ("7 Kostenlose
  Zugabe 1 0,00 0,00"; position numbers and values right after a colon are now the last choice),
  a GTIN as the quantity of a zero-price row (>= 10,000,000 is no quantity), qty and price swapped
  where both orders fit (the head row's order now decides: "P.U. HT ... Qté"), a rate column
  printed without % ("MwSt-% ... 19,0") read under a rate head as the free number right of the
  price (0-30);
- row segmentation / descriptions: a row of codes and numbers whose name is printed on the line
  below ("4123456000014 ZS997 100,0000 Stk. ..." then "Zitronensäure 100ml"; now that line is the
  name), article codes starting a wrapped line ("ZS997 100ml", "K4321 Bierbrau Pils") and bracketed
  tags ("(GTIN)") no longer continue a description;
- the scorer's pairing (above): 16 mustangproject fields were right but paired with the wrong line.

Left (10 mustangproject, 5 invoice2data): a leasing invoice with no line table at all
(ZTESTZUGFERD_1's "Finanzrate" row, 5 fields); Facture_F20180027 prints each name above its row
as "NAME - Description" (3 descriptions); Fremdwaehrung prints no net price (only the gross
100,00 before two discounts) and its description keeps the customer's article value "Toolbox";
AmazonWebServices' service lines have no head row (4 descriptions); AzureInterior's "Olive Oil"
takes its wrapped note while the JSON's "Beeswax XL" includes its own (the answer key is not
consistent).

Measured 2 December 2026 (round 5), header fields right without templates; "before" is HEAD
b7c7f7e's reader scored by this round's bench (the ``_printed`` figures moved with the
``_printed_otherwise`` fix below, so the round-4 figures of the next table are not comparable
there); load average 10-11 on the 2 shared cores:

| source | before | after | printed on the page only, before -> after |
|---|---|---|---|
| mustangproject (19 PDFs, vs their XML) | 90.7 % (204/225) | **92.4 %** (208/225) | 95.3 % (203/213) -> **97.2 %** (207/213) |
| invoice2data (11 PDFs, vs their JSON) | 91.5 % (65/71) | **94.4 %** (67/71) | 97.0 % (65/67) -> **100 %** (67/67) |
| generated, development wordings (seed 7) | 100 % | 100 % | |
| generated, held-out set 1 (seed 21; looked at) | 97.7 % (991/1014) | 100 % (1014/1014) | |
| generated, held-out set 2 (seed 33; looked at in round 5) | 93.8 % (946/1009) | 100 % (1009/1009) | |
| generated, held-out set 3 (seed 47; only measured) | 91.2 % (921/1010) | **94.2 %** (951/1010) | |

With templates: mustangproject header fields 91.6 % -> 93.3 %, invoice2data 98.6 % -> 98.6 %.
Line items (generic): mustangproject 78.9 % -> 78.9 %, invoice2data 76.0 % -> 77.0 %. Confidence,
right values below 0.8 before -> after: mustangproject 12.3 % -> 12.5 %, invoice2data 18.5 % ->
22.4 % (the new weak readings: a bank account that is no IBAN, a booking number), held-out 3
15.2 % -> 15.1 %; wrong values at/above 0.8 on held-out 3: 9 of 22 -> 5 of 12 (AUC 0.829 ->
0.791: fewer wrong values, the ones left are read confidently). The layout reader's CPU time on
the 30 real text PDFs (``read_invoice`` alone, median of 7 interleaved runs, three such runs at
load 11-15): 0.339-0.341 s -> 0.348-0.354 s, +2.5 %, +3.7 %, +3.9 % (the limit was ~5 %).

Misses by cause, round 5 (``--details``). Fixed in general ways: column heads read as the wrong
segmentation ("Datum | factuur Nummer | factuur"; now fewer, longer heads win and heads are
matched overlapping, so "date Issue" no longer hides "Issue date"); a bare "Due"/"Payable" head
over a date read as the amount due, and an order number under it taken as an amount (column
pairing now takes totals only from amount tokens); unknown wordings of issue, due and order
labels ("Fait le", "Payable avant le", "Commande client", "Rechnungstag", "Dated"); a label
going on in words up to its colon ("Bestellnummer Kunde:", "Votre commande n°:"; not when the
words name another document, "facture associée"); "your reference" labels (BT-10, and a weak
order number); a value row three lines under its heads, past a table head; an IBAN wrapped onto
the next line of its column (joined only when the mod-97 check passes); the letterhead name as
BT-28 trading name (no label says it; below the review threshold unless it is the seller
name too; scored only where the XML has BT-28, so this says nothing of invoices without one); a
name under a buyer's label taken for the seller; a receipt's booking number; a labelled bank
account that is no IBAN (BT-84 is any account identifier; weak). Left, mustangproject (17): 11
XML values printed nowhere or differently (MustangBeispiel's totals 963.11 vs 963.12 printed, its
VAT id and buyer reference; valid/invalidXRechnung's invoice number and dates, the page being
from 2020 and the XML from 2019); ``Facture_F20180027``'s two-column address blocks (seller,
trading name, buyer: the text layer has no x positions to tell the columns apart); "Your order
AB321" (valid/invalidXRechnung) filed as BT-10 in the XML but labelled an order on the page,
read as the PO (reading an order label as BT-10 would fit this one generator); "Au bon moulin
SARL" printed where the XML's legal name drops the legal form. invoice2data (4): AzureInterior's
PO "444" and saeco's seller, VAT id and IBAN are not in the text (saeco's are in an image).

The scorer's "printed" test (``not_printed``) missed three forms (round 5, ``_printed_otherwise``;
``connectors.pdf.is_printed``, which the product's cross-check uses, is another module's and
has the same gaps): the rupee written "Rs" (FlipkartInvoice, oyo), a whole amount printed
without cents ("Rs 1939", oyo) and a value wrapped onto the next line (103767's IBAN). Of the
12 mustangproject values it now finds unprinted, one (MustangBeispiel's net 809.34, the sum of
two printed net rows) is read right by arithmetic: the ceiling for a page reader is 214/225 =
95.1 %.

Round 4: measured 2 December 2026 (round 4), header fields right without templates (``--details`` lists
every wrong field with expected, got and confidence):

| source | before (HEAD 778eca1) | after | printed on the page only, before -> after |
|---|---|---|---|
| mustangproject (19 PDFs, vs their XML) | 88.9 % (200/225) | 90.7 % (204/225) | 94.3 % -> 95.8 % |
| invoice2data (11 PDFs, vs their JSON) | 88.7 % (63/71) | 91.5 % (65/71) | 93.8 % -> 96.9 % |
| generated, development wordings (seed 7) | 100 % | 100 % | |
| generated, held-out set 1 (seed 21) | 96.0 % | 97.7 % | |
| generated, held-out set 2 (seed 33) | 89.9 % | 93.8 % | |

Confidence, right values below 0.8 before -> after: mustangproject 37.5 % -> 12.3 %,
invoice2data 34.9 % -> 18.5 %, development 20.9 % -> 6.9 %, held-out 1 28.5 % -> 12.1 %, held-out 2
33.2 % -> 14.8 %; wrong values at/above 0.8: held-out 1 2 of 15 -> 1 of 7, held-out 2 1 of 35 ->
5 of 19 (AUC 0.857 -> 0.964 and 0.905 -> 0.921). Flagging far fewer right values costs a few
more wrong ones passing on held-out set 2: a trade-off, measured, not tuned to it.

Two conventions of the record, applied to the XML truth as well (round 4; before, the CII truth
took ``ChargeAmount`` as written, which would score a right per-unit price wrong on any line with
a ``BasisQuantity``): ``unit_price`` is per unit (BT-146 divided by its BT-149 base quantity), and
a credit note (UBL ``CreditNote``, type codes of UNTDID 1001 credit notes such as 381) is signed:
totals, line amounts and quantities negative, unit prices positive.

A field counts when the ground truth has a value; it is right when equal after normalisation
(amounts and quantities as Decimals, dates as dates, identifiers without spaces/punctuation and
case, names without punctuation/case). Line items are paired by content (round 6, ``PAIRING``;
by position before); a line description is right when the truth starts with the extracted text
(wrapped descriptions) after normalisation.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import Results, add_common_args  # noqa: E402

from backoffice.errors import InputError  # noqa: E402
from connectors.einvoice import HEADER_FIELDS, LINE_FIELDS, parse_xml  # noqa: E402
from connectors.invoice_templates import load_templates, match_template  # noqa: E402
from connectors.pdf import extract_invoice, is_printed, read_text  # noqa: E402

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
    "seller_trading_name": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
    "ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:TradingBusinessName",
    "buyer_reference": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerReference",
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

UBL_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_SUP = "cac:AccountingSupplierParty/cac:Party/"
_CUS = "cac:AccountingCustomerParty/cac:Party/"
# EN 16931 UBL binding (the CEN/TS 16931-3-2 syntax mapping), one XPath per field
UBL = {
    "invoice_number": "cbc:ID",
    "issue_date": "cbc:IssueDate",
    "due_date": "cbc:DueDate|cac:PaymentMeans/cbc:PaymentDueDate",
    "seller_name": _SUP + "cac:PartyLegalEntity/cbc:RegistrationName",
    "seller_trading_name": _SUP + "cac:PartyName/cbc:Name",
    "seller_vat_id": _SUP + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
    "buyer_name": _CUS + "cac:PartyLegalEntity/cbc:RegistrationName",
    "buyer_reference": "cbc:BuyerReference",
    "po_number": "cac:OrderReference/cbc:ID",
    "currency": "cbc:DocumentCurrencyCode",
    "net_total": "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
    "tax_total": "cac:TaxTotal/cbc:TaxAmount[@currencyID=/*/cbc:DocumentCurrencyCode]",
    "gross_total": "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
    "amount_due": "cac:LegalMonetaryTotal/cbc:PayableAmount",
    "iban": "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
}
UBL_LINE = {
    "items": "cac:InvoiceLine|cac:CreditNoteLine",
    "description": "cac:Item/cbc:Name",
    "quantity": "cbc:InvoicedQuantity|cbc:CreditedQuantity",
    "unit_price": "cac:Price/cbc:PriceAmount",
    "base_quantity": "cac:Price/cbc:BaseQuantity",
    "line_amount": "cbc:LineExtensionAmount",
    "tax_rate": "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
}
CII_LINE_BASIS = "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:BasisQuantity"
# UNTDID 1001 credit note codes (EN 16931's list), written down here apart from the reader's
CREDIT_NOTE_CODES = {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}


def _x(node: Any, path: str) -> str | None:
    found = node.xpath(path, namespaces={**NS, **UBL_NS})
    if not found:
        return None
    text = found[0].text
    return " ".join(text.split()) if text and text.strip() else None


def _truth_from_xml(data: bytes) -> dict[str, Any] | None:
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    tag = etree.QName(root).localname
    ns = etree.QName(root).namespace or ""
    if tag == "CrossIndustryInvoice":
        head, line_paths = CII, {**CII_LINE, "base_quantity": CII_LINE_BASIS}
        type_code = _x(root, "rsm:ExchangedDocument/ram:TypeCode")
    elif tag == "CrossIndustryDocument":
        head, line_paths = ZF1, ZF1_LINE
        type_code = _x(root, "zrsm:HeaderExchangedDocument/zram:TypeCode")
    elif tag in ("Invoice", "CreditNote") and ns.startswith("urn:oasis:names:specification:ubl:"):
        head, line_paths = UBL, UBL_LINE
        type_code = "381" if tag == "CreditNote" else _x(root, "cbc:InvoiceTypeCode")
    else:
        return None
    truth: dict[str, Any] = {name: _x(root, path) for name, path in head.items()}
    lines = []
    for item in root.xpath(line_paths["items"], namespaces={**NS, **UBL_NS}):
        line = {k: _x(item, p) for k, p in line_paths.items() if k != "items"}
        if line["quantity"] is None and line["line_amount"] is None:
            continue
        # EN 16931 BT-146 is the price of BT-149 units; the record's unit_price is per unit
        basis = _dec(line.pop("base_quantity", None))
        if line["unit_price"] is not None and basis not in (None, Decimal(0), Decimal(1)):
            line["unit_price"] = str(Decimal(line["unit_price"]) / basis)
        lines.append(line)
    truth["lines"] = lines
    if type_code in CREDIT_NOTE_CODES:
        _credit_note_signs(truth)
    return truth


def _credit_note_signs(truth: dict[str, Any]) -> None:
    """A credit note is written with positive amounts (EN 16931); the record signs it (its
    totals, line amounts and quantities negative, unit prices positive), so the truth does too."""
    if all((_dec(truth.get(k)) or 0) <= 0 for k in ("gross_total", "net_total", "amount_due")):
        return  # already written negative
    for k in ("net_total", "tax_total", "gross_total", "amount_due"):
        if truth.get(k) is not None:
            truth[k] = str(-Decimal(truth[k]))
    for line in truth["lines"]:
        for k in ("quantity", "line_amount"):
            if line.get(k) is not None:
                line[k] = str(-Decimal(line[k]))


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
        want, have = _norm(truth), _norm(got)
        return bool(have) and want.startswith(have)
    return _norm(truth) == _norm(got)


CONFIDENCE_THRESHOLD = 0.8  # ocr_min_confidence's default: below it a field is flagged for review


@dataclass
class Score:
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[str] = field(default_factory=list)
    # (confidence, right) of every header field the reader gave a value
    confidences: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, name: str, ok: bool, note: str, confidence: float | None = None) -> None:
        self.total[name] += 1
        self.right[name] += ok
        if confidence is not None:
            self.confidences.append((confidence, ok))
        if not ok:
            self.misses.append(f"{note} (confidence {confidence})" if confidence is not None else note)

    def calibration(self, threshold: float = CONFIDENCE_THRESHOLD) -> dict[str, Any] | None:
        """How well confidence separates right from wrong header values: of the right values,
        the share flagged (below ``threshold``: needless reviews); of the wrong ones, the share
        passed (at or above it: errors nobody looks at); and the AUC (the chance a right value
        has a higher confidence than a wrong one, ties half)."""
        right = [c for c, ok in self.confidences if ok]
        wrong = [c for c, ok in self.confidences if not ok]
        if not self.confidences:
            return None
        pairs = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
        return {
            "values": len(self.confidences),
            "wrong": len(wrong),
            "right_flagged_pct": round(100 * sum(c < threshold for c in right) / len(right), 1)
            if right
            else None,
            "wrong_passed_pct": round(100 * sum(c >= threshold for c in wrong) / len(wrong), 1)
            if wrong
            else None,
            "auc": round(pairs / (len(right) * len(wrong)), 3) if right and wrong else None,
        }

    @property
    def pct(self) -> float:
        t = sum(self.total.values())
        return 100.0 * sum(self.right.values()) / t if t else float("nan")


# How extracted lines are paired with the answer key's (round 6): "content" pairs each true line
# with the extracted line sharing most of its fields (one to one, greedy from the best pairs, ties
# to the nearest position), as three-way matching pairs invoice lines with PO lines; "position"
# (rounds 1-5) paired the i-th with the i-th, so one line missed or read twice made every later
# line wrong however well it was read.
PAIRING = "content"


def pair_lines(truth_lines: list[dict[str, Any]], got_lines: list[dict[str, Any]]) -> list[int | None]:
    """For each true line the index of its extracted line, or None (see ``PAIRING``)."""
    pairs = []
    for i, t in enumerate(truth_lines):
        for j, g in enumerate(got_lines):
            hits = sum(
                1 for name in LINE_FIELDS if t.get(name) is not None and same(name, t[name], g.get(name))
            )
            if hits:
                pairs.append((-hits, abs(i - j), i, j))
    pairs.sort()
    out: list[int | None] = [None] * len(truth_lines)
    used: set[int] = set()
    for _, _, i, j in pairs:
        if out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out


def score(truth: dict[str, Any], got: dict[str, Any], s: Score, label: str) -> None:
    conf = got.get("confidence") or {}
    for name in HEADER_FIELDS:
        if truth.get(name) is not None:
            s.add(
                name,
                same(name, truth[name], got.get(name)),
                f"{label}: {name} want {truth[name]!r} got {got.get(name)!r}",
                conf.get(name) if got.get(name) is not None else None,
            )
    got_lines = got.get("lines", [])
    truth_lines = truth.get("lines", [])
    paired = pair_lines(truth_lines, got_lines) if PAIRING == "content" else list(range(len(truth_lines)))
    for i, tline in enumerate(truth_lines):
        j = paired[i]
        gline = got_lines[j] if j is not None and j < len(got_lines) else {}
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
                # a wrapped name is one description (round 6; before, only its first line)
                "description": " ".join(line.get("name", "").split()),
                "quantity": line.get("qty"),
                "unit_price": line.get("price_unit") if "qty" in line else None,
                "line_amount": line.get("price_subtotal"),
                "tax_rate": line.get("line_tax_percent"),
            }
        )
    truth["lines"] = lines
    return truth


def _typed(name: str, raw: Any) -> Any:
    if name in AMOUNTS:
        return _dec(raw)
    if name in ("issue_date", "due_date"):
        return _date(raw)
    return raw


def not_printed(truth: dict[str, Any], text: str) -> list[str]:
    """Header fields whose ground-truth (XML) value is not written anywhere on the page: the
    page and its XML disagree, so no text reader can get them right."""
    out = []
    for name in HEADER_FIELDS:
        value = _typed(name, truth.get(name))
        if (
            value is not None
            and not is_printed(name, value, text)
            and not _printed_otherwise(name, value, text)
        ):
            out.append(name)
    return out


def _printed_otherwise(name: str, value: Any, text: str) -> bool:
    """Forms ``connectors.pdf.is_printed`` does not know (round 5; that module is not this
    bench's): the rupee written ``Rs``, a whole amount printed without cents next to its currency
    (``Rs 1939``), and a value wrapped onto the next line of its column (an IBAN ``DE67 1004 8392
    7221`` / ``8882 72``)."""
    if name == "currency":
        return str(value).upper() == "INR" and re.search(r"\bRs\.?\s*-?\d", text) is not None
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            return False
        whole = str(abs(int(value)))
        mark = r"(?:[$€£₹]|\bRs\.?|\b[A-Z]{3}\b)"
        return re.search(rf"{mark}\s*-?{whole}(?![\d.,]*\d)|(?<![\d.,]){whole}\s*{mark}", text) is not None
    if isinstance(value, date):
        return False
    want = re.sub(r"\s+", "", str(value)).upper()
    rows = [re.sub(r"\s+", "", row).upper() for row in text.split("\n")]
    for a, b in pairwise(rows):
        for k in range(4, len(want) - 1):
            if b.startswith(want[k:]) and want[:k] in a:
                return True
    return False


def _text_paths(pdf: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The text-only path three times: generic reader only (templates disabled), with the vendor
    templates, and with every template but the one written from this file's layout
    (leave-one-template-out: what a new vendor gets from a template set that does not know it)."""
    generic = extract_invoice(pdf, use_xml=False, templates=[]).to_json()
    templates = load_templates()
    templated = extract_invoice(pdf, use_xml=False, templates=templates).to_json()
    own = match_template(read_text(pdf).text, templates)
    others = [t for t in templates if own is None or t.name != own.name]
    loo = templated if own is None else extract_invoice(pdf, use_xml=False, templates=others).to_json()
    return generic, templated, loo


def _run_generated(n: int, seed: int, held_out: int = 0) -> dict[str, Any]:
    """Invoices of layouts drawn by ``bench/invoice_layouts.py`` (languages, label positions,
    parties, totals blocks, pages), written to a temporary directory and read back as PDFs.
    ``held_out`` 1/2/3: label wordings the reader was not developed on; 4: line tables it was
    not developed on, with line answer keys (see that module)."""
    import tempfile

    from invoice_layouts import generate

    gen_s, tpl_s = Score(), Score()
    by_layout: dict[str, Score] = defaultdict(Score)
    with tempfile.TemporaryDirectory() as tmp:
        for gen in generate(n, seed, held_out=held_out):
            pdf = Path(tmp) / gen.name
            pdf.write_bytes(gen.pdf)
            generic = extract_invoice(pdf, use_xml=False, templates=[]).to_json()
            score(gen.truth, generic, gen_s, f"{gen.name} [generic]")
            score(gen.truth, generic, by_layout[gen.layout], gen.name)
            if not held_out:
                templated = extract_invoice(pdf, use_xml=False, templates=load_templates()).to_json()
                score(gen.truth, templated, tpl_s, f"{gen.name} [templates]")
    out: dict[str, Any] = {
        "pdfs": n,
        "seed": seed,
        "layouts": len(by_layout),
        "xml": None,
        "text_generic": gen_s,
        "by_layout": {k: round(v.pct, 1) for k, v in sorted(by_layout.items())},
    }
    if not held_out:
        out["text_templates"] = tpl_s
    return out


# seed offsets of the generated sets (set 6 is seed 89 at the default seed 7); set 7 is round 8's
# development sets (set 6's and set 5's layouts, development wordings; ``bench/invoice_layouts.py``)
SET_SEED_OFFSETS = {0: 0, 1: 14, 2: 26, 3: 40, 4: 54, 5: 68, 6: 82, 7: 96, 8: 110}
GENERATED_SETS = tuple(SET_SEED_OFFSETS)


def run(
    realdata: Path,
    details: bool,
    n_generated: int = 80,
    seed: int = 7,
    sets: tuple[int, ...] = GENERATED_SETS,
    real: bool = True,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    mustang = realdata / "mustangproject"
    if real and mustang.exists():
        xml_s, gen_s, tpl_s, loo_s, printed_s = Score(), Score(), Score(), Score(), Score()
        map_s = Score()
        n = n_text = skipped = 0
        disagreements: list[str] = []
        refused: list[str] = []
        ocr_only: list[str] = []
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
                refused.append(f"{pdf.name}: {exc}")
            score(truth, xml_s_got, xml_s, f"{pdf.name} [xml]")
            try:
                mapped = parse_xml(data, file=pdf.name).to_json()
            except InputError as exc:
                mapped = {"errors": [str(exc)]}
            score(truth, mapped, map_s, f"{pdf.name} [xml mapping]")
            if not read_text(pdf).has_text:
                # image pages only: read by OCR now, which bench/ocr_accuracy.py measures; the
                # text figures stay those of the text layer
                ocr_only.append(pdf.name)
                continue
            try:
                generic, templated, loo = _text_paths(pdf)
            except InputError:
                continue  # no text layer: the text path does not apply
            n_text += 1
            score(truth, generic, gen_s, f"{pdf.name} [text, generic]")
            score(truth, templated, tpl_s, f"{pdf.name} [text, templates]")
            score(truth, loo, loo_s, f"{pdf.name} [text, other templates]")
            hidden = not_printed(truth, read_text(pdf).text)
            score(
                {k: v for k, v in truth.items() if k not in hidden},
                generic,
                printed_s,
                f"{pdf.name} [printed]",
            )
            disagreements += [
                f"{pdf.name}: {name} {truth[name]!r} (XML) is not printed on the page" for name in hidden
            ]
        results["mustangproject"] = {
            "pdfs_with_invoice_xml": n,
            "pdfs_without_ground_truth": skipped,
            "pdfs_with_text_layer": n_text,
            "pdfs_of_page_images": len(ocr_only),
            "xml": xml_s,
            "xml_mapping": map_s,
            "xml_refused": refused,
            "text_generic": gen_s,
            "text_templates": tpl_s,
            "text_other_templates": loo_s,
            "text_generic_printed": printed_s,
            "page_vs_xml_disagreements": disagreements,
        }
    cef = realdata / "en16931-cef"
    if real and cef.exists():
        cef_s = Score()
        n = skipped = 0
        refused = []
        for xml in sorted(cef.glob("*/examples/*.xml")):
            data = xml.read_bytes()
            truth = _truth_from_xml(data)
            if truth is None:
                skipped += 1
                continue
            n += 1
            try:
                got = parse_xml(data, file=xml.name).to_json()
            except InputError as exc:
                got = {"errors": [str(exc)]}
                refused.append(f"{xml.name}: {exc}")
            score(truth, got, cef_s, f"{xml.parent.parent.name}/{xml.name} [xml]")
        results["en16931-cef"] = {
            "xml_files": n,
            "xml_without_ground_truth": skipped,
            "xml": cef_s,
            "xml_refused": refused,
        }
    compare = realdata / "invoice2data" / "tests" / "compare"
    if real and compare.exists():
        gen_s, tpl_s, loo_s, printed_s = Score(), Score(), Score(), Score()
        n = 0
        for pdf in sorted(compare.glob("*.pdf")):
            exp_file = pdf.with_suffix(".json")
            if not exp_file.exists():
                continue
            expected = json.loads(exp_file.read_text())[0]
            try:
                generic, templated, loo = _text_paths(pdf)
            except InputError as exc:
                generic = templated = loo = {"errors": [str(exc)]}
            n += 1
            truth = invoice2data_truth(expected)
            score(truth, generic, gen_s, f"{pdf.name} [generic]")
            score(truth, templated, tpl_s, f"{pdf.name} [templates]")
            score(truth, loo, loo_s, f"{pdf.name} [other templates]")
            hidden = not_printed(truth, read_text(pdf).text)
            score(
                {k: v for k, v in truth.items() if k not in hidden},
                generic,
                printed_s,
                f"{pdf.name} [printed]",
            )
        results["invoice2data"] = {
            "pdfs": n,
            "xml": None,
            "text_generic": gen_s,
            "text_templates": tpl_s,
            "text_other_templates": loo_s,
            "text_generic_printed": printed_s,
        }
    if n_generated:
        # set 0: development wordings; 1-3 held-out wordings; 4: line-table variety (round 6);
        # 5: header layouts and wordings unseen (round 7); 6: more of those (round 8). Sets 4-6
        # are only measured, never fixed against. Each set's seed is ``seed`` + its offset.
        for k in sets:
            name = {0: "generated", 7: "generated_dev_7", 8: "generated_dev_8"}.get(
                k, f"generated_held_out_{k}"
            )
            results[name] = _run_generated(n_generated, seed + SET_SEED_OFFSETS[k], held_out=k)
    return results


PATHS = (
    "xml",
    "xml_mapping",
    "text_generic",
    "text_templates",
    "text_other_templates",
    "text_generic_printed",
)
# fields right / fields counted when the text reader moved from pdfplumber to PDFium (issue 15)
TARGETS = {
    ("mustangproject", "xml"): 520 / 520,  # invalidPDF.pdf is read since round 5
    ("mustangproject", "xml_mapping"): 520 / 520,
    ("en16931-cef", "xml"): 1245 / 1245,
    ("mustangproject", "text_generic"): 383 / 483,
    ("mustangproject", "text_templates"): 441 / 483,
    ("invoice2data", "text_generic"): 129 / 171,
    ("invoice2data", "text_templates"): 160 / 171,
}
# header fields right without templates (the layout reader, issue 12), as of round 5 (head rows,
# wordings, label tails, wrapped IBANs, letterhead trading names); round 4: 204/225, 65/71,
# 1014/1014, 991/1014, 946/1009; when it landed: 200/225, 63/71, 1014/1014, 973/1014, 907/1009
HEADER_TARGETS = {
    "mustangproject": 208 / 225,
    "invoice2data": 67 / 71,
    "generated": 1014 / 1014,
    "generated_held_out_1": 1014 / 1014,
    "generated_held_out_2": 1009 / 1009,
    "generated_held_out_3": 951 / 1010,
    "generated_held_out_4": 1008 / 1012,  # only measured (round 6)
    "generated_held_out_5": 909 / 1063,  # only measured (round 7): before any change of that round
    "generated_held_out_6": 844 / 1010,  # only measured (round 8): before any change of that round
    "generated_dev_7": 1013 / 1021,  # round 8's development sets
    "generated_dev_8": 1047 / 1049,
}
# line-item fields right without templates, lines paired by content (round 6; see ``PAIRING``);
# set 4 is only measured: its target is what round 6 measured, never a figure fixed against
LINE_TARGETS = {
    "mustangproject": 256 / 266,
    "invoice2data": 95 / 100,
    "generated_held_out_4": 1317 / 4865,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    add_common_args(ap)
    ap.add_argument("--summary", action="store_true", help="print the full JSON summary")
    ap.add_argument("--details", action="store_true", help="list every wrong field")
    ap.add_argument("--generated", type=int, default=80, help="invoices of generated layouts (0: none)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the generated layouts")
    ap.add_argument(
        "--sets",
        default=",".join(map(str, GENERATED_SETS)),
        help="generated sets to run, comma-separated (0, 7, 8 development, 1-6 held-out; default all)",
    )
    ap.add_argument("--no-real", action="store_true", help="skip the real-data sources")
    ap.add_argument(
        "--pairing",
        choices=["content", "position"],
        default="content",
        help="pair extracted lines with the answer key's by content (default) or by position (rounds 1-5)",
    )
    args = ap.parse_args()
    global PAIRING
    PAIRING = args.pairing
    if not args.realdata.exists():
        print(f"no real data at {args.realdata}", file=sys.stderr)
        return 1
    sets = tuple(int(k) for k in args.sets.split(",") if k.strip())
    results = run(args.realdata, args.details, args.generated, args.seed, sets, real=not args.no_real)
    summary: dict[str, Any] = {}
    for source, res in results.items():
        summary[source] = {k: v for k, v in res.items() if not isinstance(v, Score | list) and v is not None}
        for key in ("page_vs_xml_disagreements", "xml_refused"):
            if key in res:
                summary[source][key] = res[key]
        for path in PATHS:
            s = res.get(path)
            if s is None:
                if path in res:
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
                "confidence": s.calibration(),
            }
    if args.json:
        report = Results("extract accuracy", json_=True)
        for source, res in summary.items():
            for path in PATHS:
                s = res.get(path)
                if s is None:
                    continue
                if path == "text_generic":
                    for kind, lines, targets in (
                        ("header", False, HEADER_TARGETS),
                        ("line-item", True, LINE_TARGETS),
                    ):
                        counts = [
                            v.split("/") for k, v in s["per_field"].items() if k.startswith("lines.") == lines
                        ]
                        total, right = sum(int(t) for _, t in counts), sum(int(r) for r, _ in counts)
                        if lines and not (total and PAIRING == "content"):
                            continue
                        report.add(
                            f"{source}, {kind} fields without templates",
                            ratio=right / total,
                            target=math.floor(targets[source] * 10_000) / 10_000
                            if source in targets
                            else None,
                            better="higher",
                            fields=total,
                            right=right,
                        )
                target = TARGETS.get((source, path))
                report.add(
                    f"{source}, {path}",
                    ratio=s["right"] / s["fields"],
                    target=math.floor(target * 10_000) / 10_000 if target is not None else None,
                    better="higher",
                    fields=s["fields"],
                    right=s["right"],
                    accuracy_pct=s["accuracy_pct"],
                )
        report.done()
    elif args.summary:
        print(json.dumps(summary, indent=2))
    else:
        for source, res in summary.items():
            print(
                f"== {source}: "
                + ", ".join(f"{k}={v}" for k, v in res.items() if not isinstance(v, dict | list | None))
            )
            for path in PATHS:
                if path not in res:
                    continue
                s = res[path]
                if s is None:
                    print(f"  {path:20} n/a (no embedded XML in this source)")
                    continue
                print(
                    f"  {path:20} {s['right']}/{s['fields']} fields = {s['accuracy_pct']:.1f} %"
                    f"  (header fields {s['header_pct']} %, line-item fields {s['lines_pct']} %)"
                )
                print("     " + "  ".join(f"{k} {v}" for k, v in s["per_field"].items()))
                cal = s.get("confidence")
                if cal and path in ("text_generic", "text_generic_printed"):
                    print(
                        f"     confidence (header values given: {cal['values']}, wrong {cal['wrong']}): "
                        f"right below {CONFIDENCE_THRESHOLD} {cal['right_flagged_pct']} %, "
                        f"wrong at/above it {cal['wrong_passed_pct']} %, AUC {cal['auc']}"
                    )
            for line in res.get("xml_refused") or []:
                print(f"  xml refused: {line}")
            found = res.get("page_vs_xml_disagreements")
            if found is not None:
                print(
                    f"  page vs XML: {len(found)} header field(s) whose XML value is not printed on the "
                    "page (counted as misses above, not excluded):"
                )
                for line in found:
                    print(f"     {line}")
    if args.details:
        for source, res in results.items():
            for path in PATHS:
                s = res.get(path)
                if isinstance(s, Score):
                    for miss in s.misses:
                        print(f"  MISS {source} {path}: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
