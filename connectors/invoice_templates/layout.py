"""Layout-independent invoice reader: header fields from labels and their positions, chosen by
arithmetic, each with a confidence and the character span of its value.

The input is plain text, one string per page (a PDF text layer or OCR output); offsets in
``ExtractedInvoice.spans`` index ``"\\n".join(pages)``, exactly as given. No template, no vendor
knowledge: the reader works as a clerk does.

1. **Candidates.** Every label of a field (English, German, French, Dutch; ``LABELS`` in
   :mod:`.generic` plus the row labels here) proposes values: the value to the *right* of the label
   on its line, or, when the label heads a column (a row of labels, values on the next rows), the
   value *below* it, paired by order (the k-th date label takes the k-th date of the row below,
   amounts aligned from the left or from the right, tokens by column). Parties come from labelled
   address blocks ("Verkäufer", "Bill to", "Adresse du client", "Factuuradres"), the DIN 5008 return
   address, company names with a legal form and the domain of the sender's e-mail/web address.
2. **Scores.** Each candidate carries a score from its label (strong or weak) and how it was found
   (right of the label > below it > heuristics); the same value found again (another label,
   another page) adds to it.
3. **Arithmetic.** Totals are chosen together: among the candidates of net, tax, gross, prepaid and
   amount due, the combination with the best score where ``net + tax = gross``,
   ``due = gross - prepaid`` and the line amounts sum to the net wins; a total printed nowhere is
   derived from the others (lower confidence, no span).
4. **Confidence.** The winner's score mapped to 0..1, lowered when a rival with another value
   scores close, raised when the arithmetic confirms it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise, product

from connectors.bankfiles.accounts import iban_length
from connectors.einvoice import ExtractedInvoice, InvoiceLine

from . import generic as g

__all__ = ["Candidate", "read_invoice"]

CENT = Decimal("0.01")
AMOUNT_FIELDS = ("net_total", "tax_total", "gross_total", "amount_due", "prepaid")


@dataclass(frozen=True)
class Line:
    text: str
    start: int  # offset of the line's first character in the joined text
    page: int  # 0-based
    index: int  # index in the document's line list


@dataclass
class Candidate:
    field: str
    value: object
    start: int
    end: int
    score: float
    how: str
    page: int = 0


@dataclass
class _Doc:
    text: str
    lines: list[Line]
    pages: int
    decimal: str
    dayfirst: bool
    cands: dict[str, list[Candidate]] = field(default_factory=dict)
    lines_partial: bool = False  # the line table was read in part: its sum is no check
    row_memo: g.RowMemo = field(default_factory=dict)  # table-row tokens read (generic._row_numbers)
    cell_memo: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # _name_cells by text

    def add(self, c: Candidate) -> None:
        self.cands.setdefault(c.field, []).append(c)


# dot leaders between a label and its value ("Invoice no. ........ 12345"): read as a colon, the
# line keeping its length so that every offset still points into the page's own text
_LEADER = re.compile(r"(?<=[^\W\d_]|[.)])\s*(?:\.\s?){3,}\.?(?=\s*\S)|\s*…+\s*(?=\S)")


def _unleader(page: str) -> str:
    if "..." not in page and ". . ." not in page and "…" not in page:
        return page
    return _LEADER.sub(lambda m: ":" + " " * (len(m[0]) - 1), page)


def _split(pages: Sequence[str]) -> tuple[str, list[Line]]:
    pages = [_unleader(p) for p in pages]
    text = "\n".join(pages)
    lines: list[Line] = []
    pos = 0
    for p, page in enumerate(pages):
        for raw in page.split("\n"):
            lines.append(Line(raw, pos, p, len(lines)))
            pos += len(raw) + 1
    return text, lines


# ------------------------------------------------------------------------------------ labels

# "Your reference", "Ihr Zeichen", "Votre référence", "Uw kenmerk": the buyer's own reference
# quoted back (EN 16931 BT-10), where buyers put their order number as often as not: a buyer
# reference and a weak order number
_YOUR_REF = (
    r"(?:your|ihre?|votre|vos|uw)\s*(?:reference|referenz|referentie|(?:kenn)?zeichen|r[ée]f[ée]rences?|kenmerk|"
    r"r[ée]f\.?|ref\.?)(?![\w])(?:\s*(?:no\.?|nr\.?|number|nummer|n°|#)(?![\w]))?"
)

# Labels as they head a column (no value on their own line): searched anywhere in a row. Longer
# labels first so "Factuur datum" is a date label, not "Factuur" and a stray word.
_ROW: dict[str, list[str]] = {
    "issue_date": [
        r"invoice\s*date",
        r"date\s*of\s*(?:the\s*)?invoice",
        r"rechnungs\s*-?\s*datum",
        r"beleg\s*-?\s*datum",
        r"f\s?actuur\s*-?\s*datum",
        r"date\s*de\s*(?:la\s*)?facture",
        r"date\s*d['’]\s*[ée]mission",
        r"factuurdatum",
        r"datum",
        r"date",
    ],
    "due_date": [
        r"due\s*date",
        r"payment\s*due",
        r"f[äa]lligkeits?\s*-?\s*datum",
        r"f[äa]llig(?:\s*am)?",
        r"zahlungsziel",
        r"vervaldatum",
        r"verval\s*datum",
        r"date\s*d['’]\s*[ée]ch[ée]ance",
        r"[ée]ch[ée]ance",
    ],
    "invoice_number": [
        r"invoice\s*(?:number|no\.?|nr\.?|#|num\.?)",
        r"rechnungs?\s*-?\s*(?:nummer|nr\.?|no\.?)",
        r"beleg\s*-?\s*(?:nummer|nr\.?)",
        r"facture\s*(?:n°|no\.?|num[ée]ro)",
        r"n°\s*(?:de\s*)?facture",
        r"factuur\s*(?:nummer|nr\.?)",
        r"factuurnummer",
        r"invoice",
        r"rechnung",
        r"facture",
        r"factuur",
        # a receipt's own number where it has no invoice number (weak: any invoice number wins)
        r"(?:booking|reservation|buchungs|r[ée]servation|boeking|reservering)\s*-?\s*(?:id|no\.?|number|nr\.?|nummer|n°|#)",
    ],
    "po_number": [
        r"(?:your|customer)\s*order\s*(?:no\.?|number|#|ref\.?)?",
        r"(?:uw|ihre?|votre)\s*(?:order|bestel|bestell|commande)\s*-?\s*(?:nummer|nr\.?|no\.?|n°)",
        r"purchase\s*order\s*(?:no\.?|number|#)?",
        r"\bP\.?O\.?\s*(?:no\.?|number|#)",
        r"bestell\s*-?\s*(?:nummer|nr\.?)",
        r"ihre\s*bestellung",
        r"order\s*(?:no\.?|number|#)",
        r"bon\s*de\s*commande",
        r"ordernummer",
        r"order",
        r"bestellung",
        r"commande",
    ],
    # "Your reference" heads the buyer's reference; its value is the PO too where no order head
    # is printed (see ``_below_labels``)
    "buyer_reference": [
        r"buyer['’]?s?\s*reference",
        r"k[äa]ufer\s*-?\s*referenz",
        r"leitweg\s*-?\s*id",
        r"r[ée]f[ée]rence\s*(?:de\s*l['’]\s*)?acheteur",
        _YOUR_REF,
    ],
    "net_total": [
        r"(?:sub)?tota(?:a)?l\s*excl\.?\s*(?:btw|vat|tax|mwst|ust)",
        r"zwischensumme",
        r"subtotaal",
        r"net\s*total",
        r"total\s*net",
        r"subtotal",
        r"total\s*ht",
        r"montant\s*ht",
        r"nettobetrag",
        r"netto\s*-?\s*summe",
        r"summe\s*netto",
        r"gesamt\s*netto",
        r"grondslag",
        r"excl\.?\s*btw",
        r"netto",
        r"net",
    ],
    "tax_total": [
        r"(?:vat|tax|mwst|ust|btw|tva)\.?\s*-?\s*(?:amount|betrag|bedrag|total|montant)",
        r"total\s*(?:vat|tax|tva|btw)",
        r"montant\s*tva",
        r"steuerbetrag",
        r"btw\s*bedrag",
        r"steuer",
    ],
    "gross_total": [
        r"tota(?:a)?l\s*incl\.?\s*(?:btw|vat|tax|mwst|ust)",
        r"grand\s*total",
        r"total\s*ttc",
        r"montant\s*ttc",
        r"total\s*(?:incl\.?|including)\s*(?:vat|tax)",
        r"gross\s*total",
        r"total\s*gross",
        r"bruttosumme",
        r"brutto\s*-?\s*betrag",
        r"endbetrag",
        r"gesamtbetrag",
        r"rechnungsbetrag",
        r"incl\.?\s*btw",
        r"totaal",
        r"brutto",
        r"gross",
        r"total",
    ],
    "amount_due": [
        r"amount\s*due",
        r"balance\s*due",
        r"zahlbetrag",
        r"zu\s*zahlen(?:der\s*betrag)?",
        r"net\s*[àa]\s*payer",
        r"reste\s*[àa]\s*payer",
        r"te\s*betalen",
    ],
    "prepaid": [
        r"(?:erhaltene\s*)?anzahlung(?:en)?",
        r"bereits\s*(?:gezahlt|bezahlt)",
        r"acomptes?",
        r"d[ée]j[àa]\s*pay[ée]",
        r"(?:amount\s*)?paid",
        r"prepaid",
        r"aanbetaling",
        r"vooruitbetaald",
    ],
}
# column heads that are no field of ours but hold a column (so values pair with the right head)
_OTHER_HEADS = (
    r"customer\s*(?:no\.?|number|id)|kunden\s*-?\s*(?:nummer|nr\.?)|klant(?:nummer)?|client|n°\s*client|"
    r"reference|referenz|r[ée]f[ée]rence|salesperson|bearbeiter|payment\s*terms|zahlungsbedingungen|"
    r"page|seite|pagina|warenwert|skonto|rabatt|discount|remise|korting|shipping|versand|fracht|"
    r"(?:mwst|ust|vat|btw|tva)\s*-?\s*%|%|rate|satz|taux|tarief|account\s*(?:no\.?|number)|"
    r"payment\s*mode|payment\s*method|code|qty|quantity|menge|quantit[ée]|aantal"
)
# Labels composed from their parts (a document word and a number word, in either order, and so
# on), so a vendor's own wording of a label is read too: "RG-Nr.", "Nr. der Rechnung",
# "N° de la facture", "Datum der Rechnung", "Summe ohne MwSt.", "Total gross".
_DOC = (
    r"(?:invoice|inv|bill|rechnungs?|rg|re(?=[.-])|beleg|facture|fact|factuur|nota|document|doc|avoir|gutschrift|"
    r"credit\s*note|credit\s*nota|creditnota|receipt|quittung|re[çc]u|kwitantie)"
)
_NUMW = r"(?:number|no|nr|nro|nbr|nummer|num(?:[ée]ro)?|n°|nº|#|ref(?:erence|erenz)?|r[ée]f(?:[ée]rence)?|id)"
_OF = r"(?:\s*(?:de\s*(?:la\s*)?|der\s*|des\s*|of\s*(?:the\s*)?|van\s*(?:de\s*)?|du\s*))?"
_DATEW = r"(?:date|datum|dated|issued|tag)"
_ORDER = (
    r"(?:purchase\s*order|order|bestell(?:ung|zeichen)?|auftrag|commande|bestel(?:ling)?|inkoop\s*order|inkoop|"
    r"p\.?\s*o\.?(?!s\b))"  # "Pos." heads a position column, not an order
)
_MINE = r"(?:your|ihre?|votre|uw)"
_TOTALW = r"(?:total|totaal|summe|gesamt|montant|bedrag|betrag|amount|sum)"
_NETW = r"(?:net(?:to)?|ht|h\.t\.|hors\s*taxes?|excl\.?|exclusief|excluding|ohne\s*(?:mwst|ust|steuer)\.?|before\s*tax(?:es)?)"
_GROSSW = r"(?:brutto|gross|ttc|t\.t\.c\.|incl\.?|inkl\.?|inclusief|including|toutes\s*taxes\s*comprises|mit\s*(?:mwst|ust)\.?)"
_TAXW = r"(?:vat|tax|mwst|mehrwertsteuer|ust|umsatzsteuer|tva|t\.v\.a\.|btw|gst|sales\s*tax)\.?"
_PCT = r"\s*(?:@|at|à|a|von|van|zu)?\s*\(?\d{1,2}(?:[.,]\d{1,2})?\s*%\)?"
_GRAMMAR: dict[str, list[str]] = {
    "invoice_number": [rf"{_DOC}s?[\s.-]*{_NUMW}\b\.?", rf"{_NUMW}\.?{_OF}\s*{_DOC}\b"],
    "issue_date": [
        rf"{_DOC}[\s.-]*{_DATEW}\b",
        rf"{_DATEW}{_OF}\s*{_DOC}\b",
        r"(?:issue|billing)\s*date|date\s*(?:of\s*)?issue|date\s*d['’]\s*[ée]mission|ausstellungs\s*-?\s*datum",
        r"tax\s*point(?:\s*date)?|date\s*de\s*facturation|uitgifte\s*datum|datum\s*(?:van\s*)?uitgifte",
        # "Fait le", "Émise le", "Établie le", "Ausgestellt am", "Opgemaakt op": a verb of issuing
        r"(?:[ée]mise?|fait|[ée]tablie?|factur[ée]e?)\s*le|ausgestellt\s*am|opgemaakt\s*op|issued\s*(?:on|at)",
        r"dated",
    ],
    "due_date": [
        r"(?:payment\s*)?due(?:\s*(?:date|by|on))?|pay(?:able)?\s*(?:by|before|until)|f[äa]llig(?:keit)?(?:\s*(?:am|bis|zum))*"
        r"|zahlbar\s*(?:bis|am)(?:\s*zum)?|[àa]\s*r[ée]gler\s*(?:avant|le)(?:\s*le)?|[ée]ch[ée]ance(?:\s*le)?"
        r"|(?:te\s*)?betalen\s*(?:voor|v[óo][óo]r|uiterlijk)|verval\s*(?:datum|dag)",
        r"date\s*due|payment\s*deadline|date\s*limite(?:\s*de\s*(?:paiement|r[èe]glement))?"
        r"|(?:uiterste\s*)?betaal\s*datum|zahlungs\s*-?\s*termin",
        # "Payable avant le", "Payable by", "Zahlbar bis", "Betaalbaar voor": payable and a
        # word of time
        r"(?:payable|zahlbar|betaalbaar|[àa]\s*payer|[àa]\s*r[ée]gler|paiement|payment|zahlung|betaling)\s*"
        r"(?:by|before|until|on|bis(?:\s*(?:zum|spätestens))?|sp[äa]testens(?:\s*am)?|avant(?:\s*le)?|jusqu['’]\s*au"
        r"|au\s*plus\s*tard(?:\s*le)?|voor|v[óo][óo]r|uiterlijk(?:\s*op)?)",
    ],
    "po_number": [
        # "Commande client", "Customer order", "Kundenbestellung", "Order klant": whose order
        rf"{_ORDER}\s*-?\s*(?:client|klant|kunde|customer|du\s*client)(?:\s*{_NUMW}\b\.?)?",
        rf"(?:customer|client|kunden|klant)\s*-?\s*{_ORDER}(?:\s*{_NUMW}\b\.?)?",
        rf"{_MINE}\s*{_ORDER}s?[\s.-]*{_NUMW}?\b\.?",
        rf"{_ORDER}s?[\s.-]*{_NUMW}\b\.?",
        rf"{_NUMW}\.?{_OF}\s*{_ORDER}\b",
    ],
    "net_total": [
        rf"{_TOTALW}\s*{_NETW}",
        rf"{_NETW}\s*{_TOTALW}",
        r"netto\s*-?\s*(?:summe|betrag|gesamt|totaal|bedrag)",
        r"sous\s*-?\s*total|base\s*h\.?t\.?|warenwert",
    ],
    "tax_total": [rf"{_TAXW}{_PCT}", rf"{_TOTALW}\s*{_TAXW}", rf"{_TAXW}\s*-?\s*{_TOTALW}"],
    "gross_total": [
        rf"{_TOTALW}\s*{_GROSSW}",
        rf"{_GROSSW}\s*{_TOTALW}",
        r"brutto\s*-?\s*(?:summe|betrag|gesamt)|gesamtsumme",
        r"factuur\s*-?\s*(?:bedrag|totaal)|totaal\s*-?\s*bedrag|invoice\s*amount|total\s*g[ée]n[ée]ral",
    ],
    "prepaid": [
        r"(?:deposit|advance|anzahlung|abschlagszahlung|vorauszahlung|acompte|avance|voorschot|aanbetaling)\w*|(?:already\s*)?paid(?:\s*to\s*date)?|(?:bereits\s*)?(?:be)?zahlt|d[ée]j[àa]\s*r[ée]gl[ée]|al\s*betaald"
    ],
    "amount_due": [
        rf"(?:{_TOTALW}\s*|balance\s*)?(?:due|payable|outstanding|restant|remaining)",
        r"(?:noch\s*)?zu\s*zahlen|offener?\s*betrag|rest\s*-?\s*betrag|(?:reste|solde|montant)\s*(?:[àa]\s*payer|d[ûu])|net\s*[àa]\s*payer"
        r"|(?:nog\s*)?te\s*betalen|openstaand(?:\s*bedrag)?",
        r"total\s*due|(?:montant|somme|solde|reste)\s*d[ûu]|noch\s*offen",
    ],
}
_ROW_RES: list[tuple[str, re.Pattern[str], int]] = (
    [
        (name, re.compile(rf"(?<![\w-]){p}(?![\w])", re.I), prio)
        for name, pats in _ROW.items()
        for prio, p in enumerate(pats)
    ]
    + [
        (name, re.compile(rf"(?<![\w-]){p}(?![\w])", re.I), -1)
        for name, pats in _GRAMMAR.items()
        for p in pats
    ]
    + [("_other", re.compile(rf"(?<![\w-])(?:{_OTHER_HEADS})(?![\w])", re.I), 0)]
)

_STRONG_ROW = {
    # bare words are weak: they head a column only among other heads
    # a compound ("Rechnungsdatum", "Belegdatum", "date de facture") alone over its value is
    # read; only a bare "Datum" / "Date" needs other heads beside it
    "issue_date": 8,
    "due_date": 99,
    "invoice_number": 7,
    "po_number": 8,
    "net_total": 11,
    "tax_total": 5,
    "gross_total": 13,
    "amount_due": 99,
    "prepaid": 99,
}

_CARRY = re.compile(r"übertrag|carried\s*forward|brought\s*forward|à\s*reporter|report\b|transport\b", re.I)


# one pass over a row tells whether any head can be in it (most rows hold none)
# (every head pattern is "(?<![\w-])" + words + "(?![\w])": the look-behind is tried once per position)
_HEAD_BODY = re.compile(r"^\(\?<!\[\\w-\]\)(.*)\(\?!\[\\w\]\)$", re.S)
_ANY_HEAD = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(f"(?:{_HEAD_BODY.match(rx.pattern)[1]})" for _, rx, _ in _ROW_RES)  # type: ignore[index]
    + r")(?![\w])",
    re.I,
)


@lru_cache(maxsize=4096)
def _row_heads(line: str) -> tuple[tuple[str, int, int, bool], ...]:
    """Non-overlapping column heads of a row: (field or "_other", start, end, strong)."""
    if _ANY_HEAD.search(line) is None:
        return ()
    found: list[tuple[int, int, str, int]] = []
    for name, rx, prio in _ROW_RES:
        # overlapping matches: "date Issue" must not hide "Issue date" in "due date Issue date"
        m = rx.search(line)
        while m is not None:
            found.append((m.start(), m.end(), name, prio))
            m = rx.search(line, m.start() + 1)
    # the heads that cover most of the row (weighted interval scheduling): "Payment due | Date of
    # invoice | Invoice No." rather than "Payment due Date | invoice | Invoice No."
    found = sorted(set(found), key=lambda t: (t[1], t[0], t[2], t[3]))  # no hash order
    best: list[tuple[float, list[tuple[int, int, str, int]]]] = [(0.0, [])]
    ends = [0]
    for s_, e_, name, prio in found:
        k = bisect_right(ends, s_) - 1  # ends are sorted: the last head that ends before this one
        # a wording from the lexicon weighs a little more than a composed one; of two readings
        # that cover the row alike, the one of fewer, longer heads wins ("Datum factuur | Nummer
        # factuur", not "Datum | factuur Nummer | factuur")
        take = (
            best[k][0] + (e_ - s_) + (0.5 if prio >= 0 else 0.0) - 0.7,
            [*best[k][1], (s_, e_, name, max(prio, 0))],
        )
        skip = best[-1]
        best.append(take if take[0] > skip[0] else skip)
        ends.append(e_)
    return tuple(
        (name, s_, e_, name == "_other" or prio < _STRONG_ROW.get(name, 99))
        for s_, e_, name, prio in best[-1][1]
    )


# ------------------------------------------------------------------------------------ tokens

_DATE_TOKEN = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}\.\s?\d{1,2}\.\s?(?:\d{4}|\d{2})(?![\d])|\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})(?![\d/])"
    r"|\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})(?![\d-])"
    rf"|\d{{1,2}}-(?:{g._MONTH_RE})\.?-(?:\d{{4}}|\d{{2}})(?![\d-])"
    rf"|\d{{1,2}}\.?\s*(?:er\s+)?(?:{g._MONTH_RE})\.?\s+\d{{4}}|(?:{g._MONTH_RE})\.?\s+\d{{1,2}}\s*,?\s*\d{{4}}",
    re.I,
)
_AMOUNT_TOKEN = re.compile(
    r"(?<![\w.,/-])[-−]?\(?(?:\d{1,3}(?:[.,' ]\d{3})+|\d+)[.,]\d{2}\)?-?(?![\w%]|[.,]\d|\s?%)"
)
_INT_AMOUNT = re.compile(r"(?:(?<=Rs )|(?<=Rs)|(?<=[$€£] )|(?<=[$€£]))\d+(?![\w.,])")
_WORD = re.compile(r"\S+")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Tok:
    kind: str  # "date", "amount", "word"
    text: str
    start: int  # offset in the line
    end: int


@lru_cache(maxsize=8192)
def _tokens(line: str) -> tuple[Tok, ...]:
    """Dates, amounts and words of a line, in order (cached: a line is tokenised by several
    steps)."""
    out: list[Tok] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for m in _DATE_TOKEN.finditer(line):
        out.append(Tok("date", m[0], m.start(), m.end()))
        taken.append((m.start(), m.end()))
    for rx in (_AMOUNT_TOKEN, _INT_AMOUNT):
        for m in rx.finditer(line):
            if free(m.start(), m.end()):
                out.append(Tok("amount", m[0], m.start(), m.end()))
                taken.append((m.start(), m.end()))
    for m in _WORD.finditer(line):
        if free(m.start(), m.end()):
            out.append(Tok("word", m[0], m.start(), m.end()))
    out.sort(key=lambda t: t.start)
    return tuple(out)


# a word of text (a units line under the heads, "EUR EUR %", is no text)
_TEXT_WORD = re.compile(r"[^\W\d_]{4,}")


def _is_cell_row(line: str, n_heads: int) -> bool:
    """Right under a row of two or more heads, a row of as many short cells, the first with a
    digit ("IBZY2087 Cash at Hotel" under "Booking ID  Payment Mode"), is their values even with
    words in it."""
    toks = _tokens(line)
    return n_heads >= 2 and 2 <= len(toks) <= 2 * n_heads and bool(_DIGIT.search(toks[0].text))


def _is_value_row(line: str) -> bool:
    toks = _tokens(line)
    if not toks:
        return False
    words = [t for t in toks if t.kind == "word" and re.search(r"[^\W\d_]{3}", t.text)]
    return len(words) <= max(1, len(toks) // 2) and bool(re.search(r"\d", line))


# ------------------------------------------------------------------------------------ values


def _money(doc: _Doc, raw: str) -> Decimal | None:
    return g.parse_number(raw.replace("−", "-"), doc.decimal)


def _ident(raw: str) -> str | None:
    m = re.match(r"[:#\s]*([A-Za-z0-9][\w\-/.]*\w|\d)", raw)
    if not m:
        return None
    value = m[1]
    if not re.search(r"\d", value) or g.find_date(value) is not None or len(value) > 35:
        return None
    if re.fullmatch(r"\d{1,2}[.,]\d{2}", value) or re.fullmatch(r"\d{1,3}(?:[.,]\d{3})*[.,]\d{2}", value):
        return None  # an amount
    return value


def _typed(doc: _Doc, fieldname: str, tok_text: str) -> object | None:
    if fieldname in ("issue_date", "due_date"):
        found = g.find_date(tok_text, dayfirst=doc.dayfirst)
        return found[0] if found else None
    if fieldname in AMOUNT_FIELDS:
        return _money(doc, tok_text)
    return _ident(tok_text)


def _kind(fieldname: str) -> str:
    if fieldname in ("issue_date", "due_date"):
        return "date"
    if fieldname in AMOUNT_FIELDS:
        return "amount"
    return "word"


# ------------------------------------------------------------------------- right of a label

_RIGHT_EXTRA: dict[str, list[str]] = {
    "due_date": [
        r"zahlbar\b[^\n]{0,40}?\bbis(?:\s*(?:zum|spätestens))?",
        r"payable\s*(?:by|before|until|on)",
        r"pay(?:ment)?\s*(?:by|before)",
        r"[àa]\s*payer\s*avant\s*le",
        r"te\s*betalen\s*(?:voor|v[óo][óo]r)",
        r"uiterlijk\s*op",
    ],
    "buyer_reference": [
        r"buyer['’]?s?\s*reference",
        r"service\s*ex[ée]cutant",
        r"code\s*(?:du\s*)?service",
        r"routing\s*(?:id|code)",
        r"referentie\s*(?:van\s*de\s*)?koper|koper\s*-?\s*referentie",
        r"k[äa]ufer\s*-?\s*referenz",
        r"leitweg\s*-?\s*id",
        r"r[ée]f[ée]rence\s*(?:de\s*l['’]\s*)?acheteur",
        r"kopersreferentie",
        _YOUR_REF,
    ],
    # BT-84 is the payment account, an IBAN or another account identifier: a bank account
    # number labelled as the bank's, where no IBAN is printed (weak; an IBAN wins)
    "iban": [
        r"bank\s*(?:account|a/c)(?:\s*(?:no\.?|number|nr\.?|#))?",
        r"bank\s*-?\s*konto(?:\s*-?\s*(?:nummer|nr\.?))?|bankrekening(?:nummer)?|compte\s*bancaire",
    ],
    "seller_trading_name": [r"trading\s*name", r"handelsname", r"nom\s*commercial", r"handelsnaam"],
    "prepaid": [
        r"acompte(?:s)?(?:\s*vers[ée]s?)?",
        r"(?:erhaltene\s*)?anzahlung(?:en)?",
        r"bereits\s*(?:gezahlt|bezahlt)",
        r"(?:amount\s*)?(?:already\s*)?paid(?:\s*amount)?",
        r"prepaid(?:\s*amount)?",
        r"payments?\s*received",
        r"vooruitbetaald",
        r"aanbetaling",
        r"d[ée]j[àa]\s*pay[ée]",
        r"d[ée]j[àa]\s*(?:r[ée]gl[ée]|vers[ée])",
        r"reeds\s*betaald|al\s*betaald|vooruitbetaling",
        r"(?:geleistete|erhaltene)\s*(?:an|ab)zahlung(?:en)?|abschlags?zahlung(?:en)?",
        r"(?:abz[üu]glich|abzgl\.?)\s*(?:an|ab)zahlung(?:en)?",
        r"less\s*(?:deposit|payments?|amount\s*paid)|payments?\s*(?:made|/\s*credits)",
    ],
    "po_number": [
        r"^\s*bestellung\s*(?=:)",
        r"votre\s*commande",
        r"uw\s*(?:order|bestel)\s*(?:nummer|nr\.?)?",
        r"(?<![\w])(?:n°|num[ée]ro)\s*(?:de\s*)?commande",
        r"r[ée]f(?:[ée]rence)?\.?\s*(?:de\s*)?(?:la\s*)?commande",
        r"customer\s*p\.?\s*o\.?",
        _YOUR_REF,
    ],
    "invoice_number": [
        r"n°\s*(?:de\s*)?facture",
        r"num[ée]ro\s*de\s*facture",
        r"factuurnummer",
        r"invoice\s*id",
        r"rechnung\s*nr\.?",
        r"belegnummer",
        r"^\s*#(?=\s*\w*\d)",  # "# 2024-117" on its own line, under the title
    ],
    "issue_date": [
        r"(?<!due )(?<!delivery )(?<!order )(?<!payment )\bdate\s*:",
        r"(?<!liefer)(?<!leistungs)(?<!bestell)(?<!fälligkeits)\bdatum\s*:",
        r"\bdate\s*de\s*facture",
        r"(?<![\w])(?:invoiced|issued|dated)\s*(?:on|at)?(?=\s*:?\s*\d|\s*:?\s*[A-Za-z]{3,9}\.?\s+\d)",
        r"(?<![\w])(?:[ée]mise?|factur[ée]e?|fait|[ée]tablie?)\s*le\b",
        r"ausgestellt\s*am|opgemaakt\s*op",
        r",\s*le\b(?=\s*\d)",
    ],
    "tax_total": [r"(?:mwst|ust|vat|btw|tva)\.?\s*-?\s*(?:betrag|bedrag|amount)", r"taxes"],
    "net_total": [
        r"rechnungssumme\s*ohne\s*ust\.?",
        r"summe\s*ohne\s*(?:ust|mwst)\.?",
        r"total\s*excl\.?",
        # "Positionen netto 804,35", "Versandkosten netto 4,99": a bare "netto" right before
        # an amount ("Net 30 days" is no amount)
        r"(?<![\w])net(?:to)?(?=\s*:?\s*(?:[€$£]\s*)?[-−]?\d[\d.,' ]*[.,]\d{2}(?!\d))",
    ],
    "gross_total": [
        r"gesamtbetrag",
        r"amount\s*payable",
        r"total\s*[àa]\s*payer",
        r"montant\s*total(?!\s*(?:ht|hors|h\.t|de\s*la\s*tva|tva))",
        r"gesamt\s*brutto",
    ],
}
_RIGHT_RES: dict[str, list[re.Pattern[str]]] = {
    name: [re.compile(p + r"\s*[:.]?\s*", re.I | re.M) for p in pats]
    for name, pats in {
        k: list(g.LABELS.get(k, [])) + _RIGHT_EXTRA.get(k, []) + _GRAMMAR.get(k, [])
        for k in sorted(set(g.LABELS) | set(_RIGHT_EXTRA) | set(_GRAMMAR))
    }.items()
}
_NOT_WITH: dict[str, tuple[str, ...]] = {
    "tax_total": ("net_total", "gross_total"),
    "gross_total": ("net_total",),
    "prepaid": (),
}


# every label of a field in one alternation: a line none of them matches is skipped at once
# (the same matches as trying each label; an alternation matches where any of its parts does)
_RIGHT_ANY: dict[str, re.Pattern[str]] = {
    name: g._guarded(re.compile("|".join(f"(?:{rx.pattern})" for rx in rxs), re.I | re.M))
    for name, rxs in _RIGHT_RES.items()
}
_RIGHT_RES = {name: [g._guarded(rx) for rx in rxs] for name, rxs in _RIGHT_RES.items()}


# fields whose value may be written without a digit: a trading name; a buyer reference
# ("SERVEXEC", a routing code) when its label says so
_LETTERS_OK = ("seller_trading_name", "buyer_reference")


def _right_of_labels(doc: _Doc) -> None:
    carried = {ln.index for ln in doc.lines if _CARRY.search(ln.text)}
    # a value right of a label is an amount, a date or an identifier with a digit (a trading
    # name aside): lines without one are not searched for those labels
    kinds: dict[str, list[Line]] = {"amount": [], "date": [], "word": [], "name": list(doc.lines)}
    for ln in doc.lines:
        if not _DIGIT.search(ln.text):
            continue
        kinds["word"].append(ln)
        toks = _tokens(ln.text)
        if any(t.kind == "amount" for t in toks) and ln.index not in carried:
            kinds["amount"].append(ln)
        if any(t.kind == "date" for t in toks):
            kinds["date"].append(ln)
    for fieldname, rxs in _RIGHT_RES.items():
        others = [_RIGHT_ANY[other] for other in _NOT_WITH.get(fieldname, ())]
        any_rx = _RIGHT_ANY[fieldname]
        kind = "name" if fieldname in _LETTERS_OK else _kind(fieldname)
        hit = [ln for ln in kinds[kind] if any_rx.search(ln.text) is not None]
        for prio, rx in enumerate(rxs):
            weight = 1.0 - min(prio, 12) * 0.03
            for ln in hit:
                m = rx.search(ln.text)
                if m is None:
                    continue
                weight_here = weight * 0.5 if others and any(o.search(ln.text) for o in others) else weight
                if fieldname == "issue_date" and _OTHER_DATE.match(ln.text, m.end()):
                    continue  # "Date d'échéance", "Date of delivery": the head of another date's label
                if fieldname == "po_number" and _REF_LABEL.fullmatch(m[0].strip(" :.")):
                    # "Your reference" names the buyer's reference (BT-10) first and an order only
                    # where no order label is printed: any order label's value wins the PO
                    weight_here = min(weight_here, 0.55)
                _values_right(doc, fieldname, ln, m.end(), weight_here)
                if fieldname == "po_number" and _YOUR_ORDER.fullmatch(m[0].strip(" :.")):
                    # the buyer's own order ("Your order AB321", "Ihre Bestellung") is the
                    # reference the buyer gave (BT-10) where no reference label is printed: a
                    # weak reading, flagged for review (any labelled reference wins)
                    known = len(doc.cands.get("buyer_reference", []))
                    _values_right(doc, "buyer_reference", ln, m.end(), 0.35)
                    for c in doc.cands.get("buyer_reference", [])[known:]:
                        c.how = "order-as-reference"


def _values_right(doc: _Doc, fieldname: str, ln: Line, end: int, weight: float) -> None:
    rest = ln.text[end:]
    if fieldname in AMOUNT_FIELDS:
        if g._VAT_RE.match(rest.lstrip(" :")):
            return
        toks = [t for t in _tokens(rest) if t.kind == "amount"]
        vals: list[tuple[Tok, Decimal]] = []
        for t in toks:
            money = _money(doc, t.text)
            if money is not None:
                vals.append((t, money))
        if not vals:
            return
        if len(vals) >= 3 and vals[-3][1] + vals[-2][1] == vals[-1][1] and vals[-1][1] != 0:
            pick = {"net_total": vals[-3], "tax_total": vals[-2]}.get(fieldname, vals[-1])
            _add(doc, fieldname, ln, end, pick[0], pick[1], 2.6 * weight, "row-right")
            return
        last_first = bool(re.match(r"^\s*(?:auf|on|of|sur|over)\b", rest, re.I)) or fieldname in (
            "tax_total",
            "amount_due",
        )
        first, last = vals[0], vals[-1]
        near = first[0].start <= 40
        if near or len(vals) == 1:
            _add(doc, fieldname, ln, end, first[0], first[1], (1.6 if last_first else 2.4) * weight, "right")
        if last is not first:
            _add(
                doc, fieldname, ln, end, last[0], last[1], (2.3 if last_first else 1.3) * weight, "right-last"
            )
        return
    if fieldname in ("issue_date", "due_date"):
        for t in _tokens(rest[:45]):
            if t.kind == "date":
                value = _typed(doc, fieldname, t.text)
                if value is not None:
                    _add(doc, fieldname, ln, end, t, value, 2.4 * weight, "right")
                return
        return
    if fieldname == "seller_trading_name":
        lead = len(rest) - len(rest.lstrip(" :"))
        cells = _doc_cells(doc, rest[lead:])
        if cells:
            _add_name(
                doc, fieldname, ln, end + lead + cells[0][0], end + lead + cells[0][1], 2.4 * weight, "right"
            )
        return
    m = re.match(r"[:#\s]*([A-Za-z0-9][\w\-/.]*\w|\d)", rest)
    if (m is None or _ident(m[1]) is None) and not rest.lstrip().startswith(":"):
        # the label goes on in words the lexicon does not hold, up to its colon ("Bestellnummer
        # Kunde: PO-1", "Votre commande n°: PO-1", "Invoice number (original): 17")
        more = _LABEL_TAIL.match(rest)
        if more is not None and not _OTHER_DOC.search(more[0]):
            end += more.end()
            weight *= 0.6  # the label read in part
            rest = rest[more.end() :]
            m = re.match(r"[:#\s]*([A-Za-z0-9][\w\-/.]*\w|\d)", rest)
    if m:
        value = _ident(m[1])
        if value is None and fieldname in _LETTERS_OK and re.fullmatch(r"[A-Z][A-Z0-9_-]{2,34}", m[1]):
            value = m[1]  # an upper-case code right of its own label
        score = 2.4 * weight
        if fieldname == "iban":
            if (
                value is None
                or len(re.findall(r"\d", value)) < 6
                or not re.fullmatch(r"[A-Z0-9]{6,34}", value)
            ):
                return
            score, how = 0.8 * weight, "account"
        else:
            how = "right"
        if value is not None:
            s = end + m.start(1)
            doc.add(Candidate(fieldname, value, ln.start + s, ln.start + s + len(value), score, how, ln.page))


# words making a bare "Date" the label of another date than the invoice's
_OTHER_DATE = re.compile(
    r"(?:d['’]\s*)?(?:[ée]ch[ée]ance|exigibilit[ée]|de\s*(?:paiement|r[èe]glement|livraison|prestation)|limite|"
    r"due|of\s*(?:delivery|supply|payment|service)|van\s*(?:levering|betaling))(?![\w])",
    re.I,
)
# a label of the buyer's reference, not of an order ("Your reference", "Ihr Zeichen", "V/Réf.")
_REF_LABEL = re.compile(_YOUR_REF + r"|votre\s*r[ée]f[ée]rence", re.I)
# a label of the buyer's own order ("Your order", "Ihre Bestellung", "Votre commande", "Uw order")
_YOUR_ORDER = re.compile(
    r"(?:your|ihre?|votre|uw)\s*(?:purchase\s*)?(?:order|bestellung|commande|bestelling)"
    r"(?:\s*(?:no\.?|number|nr\.?|n°|#|ref\.?|reference))?",
    re.I,
)
_LABEL_TAIL = re.compile(r"\s*[^\W\d_][^\d:]{0,24}:\s*")
# words that make a label name another document ("N° de facture associée", "Original invoice")
_OTHER_DOC = re.compile(
    r"associ|related|original|previous|preceding|corrected|cancel|vorherig|urspr[üu]ngl|bezug|storn|"
    r"pr[ée]c[ée]dent|annul|rectifi|oorspronkelijk|vorige|gerelateerd|gecorrigeerd",
    re.I,
)


def _add(
    doc: _Doc, fieldname: str, ln: Line, base: int, tok: Tok, value: object, score: float, how: str
) -> None:
    if value is None:
        return
    s, e = base + tok.start, base + tok.end
    raw = ln.text[s:e]
    # the span covers the number itself, not a currency sign or parentheses around it
    lead = len(raw) - len(raw.lstrip("(−-$€£ "))
    if raw.lstrip("(−-$€£ ") != raw and raw.lstrip("(")[:1] in "−-":
        lead = 0
    doc.add(Candidate(fieldname, value, ln.start + s + lead, ln.start + e, score, how, ln.page))


# ---------------------------------------------------------------------------- below a label


def _below_labels(doc: _Doc) -> None:
    """Labels heading columns: the values are on the row(s) below, paired by order."""
    for i, ln in enumerate(doc.lines):
        heads = _row_heads(ln.text)
        ours = [h for h in heads if h[0] != "_other"]
        if not ours:
            continue
        # a head with its value on its own line is handled by _right_of_labels
        rest_after = [
            ln.text[h[2] : (heads[k + 1][1] if k + 1 < len(heads) else len(ln.text))]
            for k, h in enumerate(heads)
        ]
        if sum(1 for r in rest_after if re.search(r"\d", r)) > 0 and len(heads) < 2:
            continue
        if len(heads) < 2 and not re.fullmatch(r"\s*[:.]?\s*", ln.text[heads[0][2] :]):
            continue
        if not all(h[3] for h in ours) and len(heads) < 2:
            continue
        with_digits = sum(1 for r in rest_after if re.search(r"\d", r))
        if with_digits and not re.search(r"\d\s*%", ln.text) and with_digits >= len(heads) - 1:
            continue  # values are on this row already (right of their labels)
        rows: list[Line] = []
        for nxt in doc.lines[i + 1 : i + 5]:
            if nxt.page != ln.page:
                break
            if _is_value_row(nxt.text) or (not rows and _is_cell_row(nxt.text, len(heads))):
                rows.append(nxt)
            elif rows or (_row_heads(nxt.text) and len(_row_heads(nxt.text)) >= 2):
                break
            elif _TEXT_WORD.search(nxt.text):
                break  # a line of text between the heads and a value row: that row is not theirs
        table = bool(_TABLE_HEAD.search(ln.text))
        found = [_pair(doc, ln, heads, row, table) for row in rows]
        for assigned in found:
            # a value under "Your reference" is the PO where no order head names one: weaker
            # than any order head's value
            assigned += [
                ("po_number", value, tok, score * 0.6, how)
                for f, value, tok, score, how in list(assigned)
                if f == "buyer_reference"
            ]
        _rows_to_candidates(doc, rows, found)


def _tail_labels(doc: _Doc) -> None:
    """A label ending its line with its value at the end of the next line: a column of labels
    over their values at the right of the page, whose lines the text layer joined with the
    address block left of them ("Tannenhof GmbH  Due date" over "Hauptstraße 42  9 Jan 2025")."""
    for ln, nxt in pairwise(doc.lines):
        if nxt.page != ln.page:
            continue
        heads = _row_heads(ln.text)
        if not heads:
            continue
        name, _, end, strong = heads[-1]
        kind = _kind(name)
        if name == "_other" or name in AMOUNT_FIELDS or not (strong or kind == "date"):
            continue
        if not re.fullmatch(r"[\s:.]*", ln.text[end:]) or (len(heads) > 1 and heads[-2][0] != "_other"):
            continue
        toks = _tokens(nxt.text)
        if len(toks) < 2:
            continue  # a value alone on its line: _below_labels reads it
        last = toks[-1]
        if (kind == "date" and last.kind == "date") or (kind == "word" and last.kind in ("word", "amount")):
            value = _typed(doc, name, last.text)
            if value is not None:
                _add(doc, name, nxt, 0, last, value, 1.4 if strong else 1.0, "below-tail")


_Assign = list[tuple[str, object, Tok, float, str]]
# column heads of a line table (two of them in a row: a table's head, not a name)
_TABLE_HEAD = re.compile(
    r"\b(?:qty|quantity|menge|aantal|qt[ée]|quantit[ée]|prix\s*unitaire|unit\s*price|einzelpreis|stückpreis)\b",
    re.I,
)
_BARE_DUE = re.compile(r"(?:payment\s*)?due|payable|f[äa]llig|[ée]ch[ée]ance|verval(?:len)?", re.I)


def _rows_to_candidates(doc: _Doc, rows: list[Line], found: list[_Assign]) -> None:
    """One value row: its values. Several rows (one per tax rate, or positions and a totals
    row): the last row where it is the sum of the rows above, else each column's sum; the single
    rows count for less."""
    if not rows:
        return
    if len(rows) == 1:
        for f, value, tok, score, how in found[0]:
            _add(doc, f, rows[0], 0, tok, value, score, how)
        return
    for k, (row, assigned) in enumerate(zip(rows, found, strict=True)):
        for f, value, tok, score, how in assigned:
            if f in AMOUNT_FIELDS:
                score *= 0.55
            elif k:
                score *= 0.7
            _add(doc, f, row, 0, tok, value, score, how)
    fields = {a[0] for a in found[-1] if a[0] in AMOUNT_FIELDS}
    for f in fields:
        per_row = []
        for assigned in found:
            vals = {(how, v) for ff, v, _, _, how in assigned if ff == f}
            best = max((a for a in assigned if a[0] == f), key=lambda a: a[3], default=None)
            per_row.append(best)
            del vals
        picked = [r for r in per_row if r is not None]
        if len(picked) < len(per_row):
            continue
        values = [r[1] for r in picked if isinstance(r[1], Decimal)]
        if len(values) < len(picked):
            continue
        last = picked[-1]
        if values[-1] == sum(values[:-1], Decimal(0)):
            _add(doc, f, rows[-1], 0, last[2], last[1], last[3] + 0.4, "below-totals-row")
        else:
            total = sum(values, Decimal(0))
            doc.add(Candidate(f, total, -1, -1, last[3], "below-column-sum", rows[-1].page))


def _pair(
    doc: _Doc, head_line: Line, heads: Sequence[tuple[str, int, int, bool]], row: Line, table: bool
) -> _Assign:
    out: _Assign = []
    toks = _tokens(row.text)
    later = 0.0
    base = 2.0 if len(heads) >= 2 else 1.8
    # a bare "Due" / "Payable" heads an amount or a date: the row below tells which (more dates
    # than date heads, no amount for it)
    n_dates = sum(1 for t in toks if t.kind == "date")
    date_heads = sum(1 for h in heads if h[0] != "_other" and _kind(h[0]) == "date")
    if n_dates > date_heads:
        fixed = []
        for h in heads:
            if (
                h[0] == "amount_due"
                and n_dates > date_heads
                and _BARE_DUE.fullmatch(head_line.text[h[1] : h[2]].strip())
            ):
                h = ("due_date", h[1], h[2], h[3])
                date_heads += 1
            fixed.append(h)
        heads = fixed
    by_kind: dict[str, list[str]] = {}
    for h in heads:
        by_kind.setdefault(_kind(h[0]) if h[0] != "_other" else "_", []).append(h[0])
    # 1. one token per head: pair by column
    cells = _cells(toks)
    if len(cells) == len(heads):
        for h, c in zip(heads, cells, strict=True):
            if h[0] == "_other":
                continue
            value = _typed(doc, h[0], c.text) if _kind_fits(h[0], c) else None
            if value is not None and not (table and h[0] in AMOUNT_FIELDS):
                out.append((h[0], value, c, (base + 0.3 + later) * (1 if h[3] else 0.8), "below-col"))
    elif len(cells) > len(heads) and len(heads) >= 2:
        # heads we do not know hold columns too: align heads and cells in order by where they
        # start along their rows (the same columns), each value of its head's kind
        for h, c in _align(doc, head_line.text, heads, row.text, cells):
            value = _typed(doc, h[0], c.text) if _kind_fits(h[0], c) else None
            if value is not None and not (table and h[0] in AMOUNT_FIELDS):
                out.append((h[0], value, c, (base - 0.1) * (1 if h[3] else 0.8), "below-aligned"))
    # 2. dates and amounts paired by order among heads of their kind
    for kind in ("date", "amount"):
        if kind == "amount" and table:
            continue
        kheads = [h for h in heads if h[0] != "_other" and _kind(h[0]) == kind]
        ktoks = [t for t in toks if t.kind == kind]
        if not kheads or not ktoks:
            continue
        if kind == "amount":
            # heads of other columns that hold amounts count as columns too
            kheads_all = [
                h
                for h in heads
                if (h[0] == "_other" and _amount_head(head_line.text[h[1] : h[2]])) or h in kheads
            ]
        else:
            kheads_all = kheads
        aligns: list[tuple[list[tuple[str, int, int, bool]], list[Tok], float]] = []
        if len(kheads_all) == len(ktoks):
            aligns.append((kheads_all, ktoks, 0.25))
        else:
            n = min(len(kheads_all), len(ktoks))
            aligns.append((kheads_all[-n:], ktoks[-n:], 0.0))
            aligns.append((kheads_all[:n], ktoks[:n], -0.2))
        for hs, ts, bonus in aligns:
            for h, t in zip(hs, ts, strict=True):
                if h[0] == "_other":
                    continue
                value = _typed(doc, h[0], t.text)
                if value is not None:
                    score = (base + bonus + later) * (1 if h[3] else 0.8)
                    out.append((h[0], value, t, score, f"below-{kind}"))
    return out


def _kind_fits(fieldname: str, tok: Tok) -> bool:
    """A total takes an amount token (a bare "4589629762" under "Payable" is an order number),
    a date field a date token."""
    kind = _kind(fieldname)
    return tok.kind == kind if kind != "word" else tok.kind != "amount" or "," not in tok.text


def _align(
    doc: _Doc, head_text: str, heads: Sequence[tuple[str, int, int, bool]], row_text: str, cells: list[Tok]
) -> list[tuple[tuple[str, int, int, bool], Tok]]:
    """Order-keeping alignment of heads to cells (fewer heads than cells) that minimises the
    distance of their relative start positions; a head of ours only takes a value of its kind."""
    hw, cw = max(len(head_text), 1), max(len(row_text), 1)
    m, n = len(heads), len(cells)
    inf = float("inf")

    def cost(i: int, j: int) -> float:
        h, c = heads[i], cells[j]
        if h[0] != "_other" and (not _kind_fits(h[0], c) or _typed(doc, h[0], c.text) is None):
            return inf
        return abs(h[1] / hw - c.start / cw)

    # d[i][j]: best cost of placing heads[:i] among cells[:j]
    d = [[inf] * (n + 1) for _ in range(m + 1)]
    for j in range(n + 1):
        d[0][j] = 0.0
    for i in range(1, m + 1):
        for j in range(i, n + 1):
            d[i][j] = min(d[i][j - 1], d[i - 1][j - 1] + cost(i - 1, j - 1))
    if d[m][n] == inf or d[m][n] > 0.25 * m:
        return []
    pairs = []
    i, j = m, n
    while i > 0:
        if j > i and d[i][j] == d[i][j - 1]:
            j -= 1
            continue
        pairs.append((heads[i - 1], cells[j - 1]))
        i, j = i - 1, j - 1
    return [p for p in reversed(pairs) if p[0][0] != "_other"]


def _amount_head(text: str) -> bool:
    return bool(
        re.search(
            r"warenwert|skonto|rabatt|discount|remise|korting|shipping|versand|fracht|betrag|amount|montant|bedrag|total|summe|base|basis",
            text,
            re.I,
        )
    )


def _cells(toks: Sequence[Tok]) -> list[Tok]:
    """Tokens of a row grouped into cells: a run of words is one cell only when it is a single
    word; dates and amounts are cells of their own."""
    return [t for t in toks if t.kind != "word" or not re.fullmatch(r"[€$£%]|EUR|USD|GBP|CHF|Rs\.?", t.text)]


# ----------------------------------------------------------------------------------- parties

_SELLER_BLOCK = (
    r"verk[äa]ufer|lieferant|seller|supplier|vendor|fournisseur|vendeur|leverancier|verkoper|from|"
    r"rechnungssteller|absender|[ée]metteur|issued\s*by|sold\s*by|service\s*provider|provided\s*by|dienstleister|"
    r"prestataire"
)
_BUYER_BLOCK = (
    r"k[äa]ufer|rechnungsempf[äa]nger|leistungsempf[äa]nger|buyer|customer|bill(?:ed)?\s*to|invoice\s*to|"
    r"sold\s*to|client|acheteur|adresse\s*(?:du\s*client|de\s*facturation)|factur[ée]\s*[àa]|klant|"
    r"factuuradres|afnemer|koper|kunde|empf[äa]nger|destinataire"
)
# a delivery address: the buyer's or another party's, never the name of an invoice field
_SHIP_BLOCK = (
    r"ship(?:ped)?\s*to|deliver(?:ed)?\s*to|delivery\s*address|lieferanschrift|lieferadresse|lieferung\s*an|"
    r"warenempf[äa]nger|adresse\s*de\s*livraison|livraison|livr[ée]e?\s*[àa]|afleveradres|leveradres|"
    r"afleveren\s*aan|leveren\s*aan|afleveringsadres"
)
_BLOCK_RE = re.compile(
    rf"(?<![\w-])(?:(?P<o>{_SHIP_BLOCK})|(?P<s>{_SELLER_BLOCK})|(?P<b>{_BUYER_BLOCK}))(?:/[\wäöüé-]+)?\s*:?(?![\w-])",
    re.I,
)
_META = re.compile(
    r"^(?:(?:globale\s*)?nummer|nr\.?|gln|lief-?nr|kunden-?nr|id|ust|vat|tva|btw|steuer|tel|fon|fax|phone|e-?mail|"
    r"anschrift|address|adresse|attn|z\.\s*hd|t\.a\.v|c/o|contact|siret|siren|kvk)\b|^\s*$|^\W+$",
    re.I,
)
# the account holder at the bank details, as a "NAME:" prefix (_NAME_PREFIX) and as a label (_PAYEE)
_HOLDER = (
    r"kontoinhaber(?:in)?|account\s*(?:holder|name)|b[ée]n[ée]ficiaire|titulaire(?:\s*du\s*compte)?|"
    r"rekeninghouder|payee"
)
_NAME_PREFIX = re.compile(rf"^(?:name|nom|naam|firma|company|raison\s*sociale|{_HOLDER})\s*:\s*", re.I)
_FREE_MAIL = re.compile(r"gmail|yahoo|hotmail|outlook|gmx|web\.de|t-online|icloud|example|fake|test", re.I)
_STREET = re.compile(
    r"\b[\wäöüßéè.'-]*(?:stra(?:ss|ß)e|str\.|weg|allee|gasse|platz|ring|damm|road|street|st\.?|avenue|ave\.?|rue|"
    r"chemin|boulevard|straat|laan|plein|gracht|lane|drive)\b\s*\d|^\d+[a-z]?\s+\w+\s+(?:st|street|road|ave)\b|"
    r"\b\d{4,5}\s+[A-ZÄÖÜ][a-zäöü]",
    re.I,
)


_LEGAL = re.compile(
    g._LEGAL_FORM.pattern
    + r"|\b(?:GMBH|LTD|INC|LLC|SARL|S\.A\.R\.L\.|BV|NV|AB|OY|A/S|APS|SRL|SPA|S\.P\.A\.)(?=$|[\s,.])"
)


def _name_cells(text: str) -> list[tuple[int, int]]:
    """Cells of a row that may hold one or two names side by side: split after a legal form,
    at a street address, or where a repeated name starts again."""
    cells: list[tuple[int, int]] = []
    pos = 0
    for m in _LEGAL.finditer(text):
        if text[m.end() : m.end() + 1] in ("", " ") and text[m.end() :].strip():
            nxt = text[m.end() :].lstrip()
            if re.match(r"(?:&|und|and|et|en)\b|\(|co\b|kg\b", nxt, re.I):
                continue
            # "Kunden AG Mitte" is one name; "Adatum Corporation CRONUS DE" two; "Orion B.V.
            # 4599922635" a name and a number
            if len(nxt.split()) < 2 and not _LEGAL.search(nxt) and not _DIGIT.search(nxt):
                continue
            cells.append((pos, m.end()))
            pos = m.end() + 1
    cells.append((pos, len(text)))
    out = []
    for s, e in cells:
        while s < e and text[s] == " ":
            s += 1
        when = _DATE_TOKEN.search(text, s, e)
        if when and when.start() > s + 2:
            e = when.start()  # "Meridian Handel Ltd 02/02/26": a date column joined to the name
        street = _STREET.search(text, s, e)
        if street and street.start() > s + 2:
            e = street.start()
            # "High Street 30", "Baker Road 5": the word before an English street word is the
            # street's own name
            if re.match(r"(?:street|road|lane|drive|avenue|ave|st)\b", text[e : street.end()], re.I):
                e = text.rfind(" ", s, e - 1) + 1 if text[e - 1 : e] == " " else e
                e = s if e <= s else e
        while e > s and text[e - 1] in " ,;|-–":
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _doc_cells(doc: _Doc, text: str) -> list[tuple[int, int]]:
    """``_name_cells(text)``, read once per document (several steps split the same rows)."""
    cells = doc.cell_memo.get(text)
    if cells is None:
        cells = doc.cell_memo[text] = _name_cells(text)
    return cells


def _name_ok(s: str) -> bool:
    if re.match(r"\d", s):
        return False  # "58 rue de la mer": an address
    if s.endswith(":") or (_STREET.search(s) and not _LEGAL.search(s)):
        return False  # a label ("Ship to:"), a street ("Hauptstraße 12")
    heads = _row_heads(s)
    if (heads and sum(e - b for _, b, e, _ in heads) >= 0.6 * len(s.strip())) or len(
        _TABLE_HEAD.findall(s)
    ) >= 2:
        return False  # field labels or a table's column heads, not a name
    if _BLOCK_RE.search(s) and not g._LEGAL_FORM.search(s):
        return False
    if not re.search(r"[^\W\d_]{2}", s) or len(s) > 70 or len(s) < 2:
        return False
    if re.search(
        r"@|www\.|https?:|\d{4,}|\b(?:page|seite|pagina|invoice|rechnung|facture|factuur|datum|date)\b",
        s,
        re.I,
    ):
        return False
    return not _META.search(s)


def _add_name(doc: _Doc, fieldname: str, ln: Line, s: int, e: int, score: float, how: str) -> None:
    raw = ln.text[s:e]
    m = _NAME_PREFIX.match(raw)
    if m:
        s += m.end()
        raw = ln.text[s:e]
    raw = raw.rstrip(" ,;:")
    if _name_ok(raw):
        doc.add(Candidate(fieldname, raw, ln.start + s, ln.start + s + len(raw), score, how, ln.page))


def _party_blocks(doc: _Doc) -> None:
    for i, ln in enumerate(doc.lines):
        hits = list(_BLOCK_RE.finditer(ln.text))
        if not hits:
            continue
        stripped = ln.text.strip()
        # "Seller: ACME GmbH" (value on the line)
        if len(hits) == 1:
            h = hits[0]
            after = ln.text[h.end() :]
            if re.match(r"\s*:", ln.text[h.end() - 1 : h.end() + 1]) or after.startswith(":"):
                pass
            value = after.strip(" :")
            if value and h.start() <= 2 and ":" in ln.text[h.start() : h.end() + 2] and not h["o"]:
                fieldname = "seller_name" if h["s"] else "buyer_name"
                s = h.end() + (len(after) - len(after.lstrip(" :")))
                for cs, ce in _doc_cells(doc, ln.text[s:])[:1]:
                    _add_name(doc, fieldname, ln, s + cs, s + ce, 2.2, "block-right")
                continue
        # heads only: every word of the line is a block label (or a title)
        heads = [h for h in hits]
        rest = re.sub(
            r"\b(?:seite|page|pagina)\s*\d+(?:\s*(?:/|von|of|de)\s*\d+)?",
            "",
            _BLOCK_RE.sub("", stripped),
            flags=re.I,
        )
        if (
            len(re.findall(r"[^\W\d_]{2,}", rest)) > 1
            or re.search(r"\d", rest)
            or g._LEGAL_FORM.search(rest)
            or len(stripped) > 90
        ):
            continue
        # the block's name: the first line below that is not meta data (numbers, GLN, phone)
        taken = 0
        for nxt in doc.lines[i + 1 : i + 6]:
            if nxt.page != ln.page:
                break
            t = nxt.text.strip()
            if not t or _META.search(t) or re.fullmatch(r"[\d\s./:-]+", t):
                if _NAME_PREFIX.match(t):
                    pass
                else:
                    continue
            cells = _doc_cells(doc, nxt.text)
            cells = [c for c in cells if _name_ok(_NAME_PREFIX.sub("", nxt.text[c[0] : c[1]]))]
            if not cells:
                if _NAME_PREFIX.match(t):
                    s = nxt.text.index(t)
                    if heads[0]["o"]:
                        break
                    _add_name(
                        doc,
                        "seller_name" if heads[0]["s"] else "buyer_name",
                        nxt,
                        s,
                        s + len(t),
                        2.1,
                        "block-below",
                    )
                    break
                continue
            if len(heads) >= 2 and len(cells) >= 2:
                for h, (cs, ce) in zip(heads, cells, strict=False):
                    if not h["o"]:
                        _add_name(
                            doc,
                            "seller_name" if h["s"] else "buyer_name",
                            nxt,
                            cs,
                            ce,
                            2.0,
                            "block-below-col",
                        )
            elif heads[0]["o"]:
                break
            else:
                h = heads[0]
                cs, ce = cells[0]
                score = 2.1 if len(heads) == 1 else 1.2
                _add_name(doc, "seller_name" if h["s"] else "buyer_name", nxt, cs, ce, score, "block-below")
            taken += 1
            break


_CONTACT = re.compile(r"iban|bic|swift|tel|fon|phone|:", re.I)
_POSTCODE = re.compile(r"\d{4,5}\s+\w|\b[A-Z]{1,2}\d{1,2}[A-Z]?\s?\d[A-Z]{2}\b")
_IBAN_WORD = re.compile(r"\biban\b", re.I)
_NOT_LOWER_ALNUM = re.compile(r"[^a-z0-9]")
_WEB = re.compile(r"@|www\.|https?:")


def _sender_and_letterhead(doc: _Doc) -> None:
    first_page = [ln for ln in doc.lines if ln.page == 0]
    top = first_page[:18]
    seps = re.compile(r"\s[●·•|–-]\s")
    sender = None
    for ln in doc.lines:
        if _CONTACT.search(ln.text):
            continue
        cut = seps.search(ln.text)
        if cut and _POSTCODE.search(ln.text) and len(ln.text) < 120:
            s = len(ln.text) - len(ln.text.lstrip())
            legal = bool(_LEGAL.search(ln.text[: cut.start()]))
            at_top = ln in top
            score = (1.9 if legal else 1.6) if at_top else (1.7 if legal else 1.2)
            _add_name(doc, "seller_name", ln, s, cut.start(), score, "sender-line")
            if at_top and (sender is None or legal):
                sender = ln
    if sender is not None:
        for nxt in doc.lines[sender.index + 1 : sender.index + 4]:
            cells = _doc_cells(doc, nxt.text)
            if not cells:
                continue
            cs, ce = cells[0]
            cand = nxt.text[cs:ce]
            cut2 = re.search(r"\s(?=fon\b|fax\b|tel\b|phone\b|\+?\(?\d{3})", cand, re.I)
            if cut2:
                ce = cs + cut2.start()
            if _name_ok(nxt.text[cs:ce]):
                _add_name(doc, "buyer_name", nxt, cs, ce, 1.7, "below-sender")
                break
    footer_lines = {
        ln.index for ln in doc.lines if g._VAT_LABEL.search(ln.text) or _IBAN_WORD.search(ln.text)
    }
    footer_lines |= {i - 1 for i in footer_lines}
    # company names with a legal form near the top: the first is the seller's letterhead,
    # a later one followed by an address is the recipient's window
    seen = 0
    for ln in top:
        for cs, ce in _doc_cells(doc, ln.text):
            cell = ln.text[cs:ce]
            cell_clean = re.sub(r"^(?:FACTUUR|INVOICE|RECHNUNG|FACTURE)\.?\s+", "", cell, flags=re.I)
            cs += len(cell) - len(cell_clean)
            if not g._LEGAL_FORM.search(cell_clean) or not _name_ok(cell_clean):
                continue
            if re.search(
                r"\b(?:sitz|registered|amtsgericht|handelsregister|capital|kapital)\b", ln.text, re.I
            ):
                continue
            _add_name(doc, "seller_name", ln, cs, ce, 1.4 if seen == 0 else 0.6, "legal-form")
            below = doc.lines[ln.index + 1 : ln.index + 4]
            if any(_STREET.search(n.text) for n in below):
                _add_name(doc, "buyer_name", ln, cs, ce, 1.0 if seen else 0.8, "legal-form-window")
            seen += 1
    # a company name starting a footer line at the VAT id or IBAN (or the line above): the
    # seller's legal name, also where no letterhead prints it (the first lines may be the
    # recipient's window alone)
    last_of_page: dict[int, int] = {}
    for ln in doc.lines:
        last_of_page[ln.page] = ln.index
    for i in sorted(footer_lines):
        if i < 0 or i < last_of_page[doc.lines[i].page] - 8:
            continue
        ln = doc.lines[i]
        cells = _doc_cells(doc, ln.text)
        if cells and cells[0][0] <= len(ln.text) - len(ln.text.lstrip()) + 1:
            cs, ce = cells[0]
            cut = re.search(r"\s(?=(?:tel|fon|fax|phone|e-?mail|www|iban|bic)\b)", ln.text[cs:ce], re.I)
            if cut:
                ce = cs + cut.start()
            if _LEGAL.search(ln.text[cs:ce]):
                _add_name(doc, "seller_name", ln, cs, ce, 1.3, "footer-name")
    # the name printed again in the footer, next to the VAT id or IBAN, is the seller's
    footer_text = [
        re.sub(r"[^a-z0-9]", "", doc.lines[i].text.lower()) for i in sorted(footer_lines) if i >= 0
    ]
    for c in doc.cands.get("seller_name", []):
        key = re.sub(r"[^a-z0-9]", "", str(c.value).lower())
        if len(key) >= 4 and any(key in t for t in footer_text):
            c.score += 0.6


_POST_CITY = re.compile(
    r"^\s*(?:[A-Z]{1,2}-)?\d{4,5}\s+[^\W\d_]{2}|^\s*\d{4}\s?[A-Z]{2}\s+[^\W\d_]{2}|"
    r"\b[A-Z]{1,2}\d{1,2}[A-Z]?\s?\d[A-Z]{2}\b|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"
)


# a street line, also the French/Belgian way round ("35 rue de la République", "12, avenue Foch")
_STREET_LINE = re.compile(
    r"^\s*\d+\s?[a-z]?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|place|impasse|all[ée]e|route|quai|cours)\b",
    re.I,
)


def _is_street(text: str) -> bool:
    return bool(_STREET_LINE.search(text) or (_STREET.search(text) and not _POST_CITY.search(text)))


def _address_windows(doc: _Doc) -> None:
    """A name over a street line and a postcode + town line near the top of the first page
    (the recipient's window, unlabelled, no legal form needed) is a weak buyer candidate; the
    seller's own address block is told apart by the choice (buyer != seller)."""
    first = [ln for ln in doc.lines if ln.page == 0][:25]
    streets: dict[int, bool] = {}  # a line is looked at from each of the six names above it

    def street_at(n: Line) -> bool:
        if n.index not in streets:
            streets[n.index] = _is_street(n.text)
        return streets[n.index]

    for k, ln in enumerate(first):
        t = ln.text.strip()
        if not t or _DIGIT.search(t) or _STREET.search(t) or len(t) > 50:
            continue
        below = first[k + 1 : k + 7]
        street = next((j for j, n in enumerate(below) if street_at(n)), None)
        if street is None or street > 2:
            continue
        if not any(_POST_CITY.search(n.text) for n in below[street : street + 3]):
            continue
        cells = _doc_cells(doc, ln.text)
        if cells:
            cs, ce = cells[0]
            _add_name(doc, "buyer_name", ln, cs, ce, 0.9, "window")


_BY_PHRASE = re.compile(
    r"\b(?:sold|provided|issued|supplied|operated|invoiced|rendered)\s+by\s+|\b(?:vendu|fourni|factur[ée])e?s?\s+par\s+"
    r"|\b(?:verkauft|geliefert|erbracht|ausgestellt)\s+(?:durch|von)\s+|\b(?:verkocht|geleverd)\s+door\s+",
    re.I,
)


# the account holder of the bank details, to whom the invoice is paid: the seller (a factor aside)
_PAYEE = re.compile(
    rf"(?<![\w-])(?:{_HOLDER}|beg[üu]nstigter|zahlungsempf[äa]nger|ten\s*name\s*van|t\.\s?n\.\s?v\.)(?![\w-])\s*:?\s*",
    re.I,
)
# where a value cell ends: the next "LABEL :" on the line ("NOM : LE FOURNISSEUR COMPTE :")
_NEXT_LABEL = re.compile(r"\s{2,}|\s+[^\W\d_]+\s?:")


def _payees(doc: _Doc) -> None:
    """The account holder named at the bank details ("Kontoinhaber: ACME GmbH", "Bénéficiaire"
    over "NOM : LE FOURNISSEUR"): a seller candidate, below a letterhead that agrees."""
    for ln in doc.lines:
        m = _PAYEE.search(ln.text)
        if m is None:
            continue
        # on the label's line: its value, unless another label follows it there ("Bénéficiaire
        # MOYEN DE PAIEMENT : VIREMENT")
        spots = [(ln, m.end())] if ":" in m[0] or ":" not in ln.text[m.end() :] else []
        for nxt in doc.lines[ln.index + 1 : ln.index + 3]:
            p = _NAME_PREFIX.match(nxt.text.lstrip())
            if p is not None and nxt.page == ln.page:
                spots.append((nxt, len(nxt.text) - len(nxt.text.lstrip()) + p.end()))
        for at, s in spots:
            rest = at.text[s:]
            cut = _NEXT_LABEL.search(rest)
            e = s + (cut.start() if cut else len(rest.rstrip()))
            cells = _doc_cells(doc, rest)
            if cells:
                e = min(e, s + cells[0][1])  # "Kestrel Ltd Sort code: ...": it ends at its legal form
            if e > s and _name_ok(at.text[s:e].strip(" ,;:")):
                _add_name(doc, "seller_name", at, s, e, 1.5, "payee")
                break


def _by_phrases(doc: _Doc) -> None:
    """ "All services are sold by ACME Inc.", "fourni par X SARL": the company named after it
    (with a legal form) is the seller."""
    for ln in doc.lines:
        for m in _BY_PHRASE.finditer(ln.text):
            cells = _doc_cells(doc, ln.text[m.end() :])
            if not cells:
                continue
            cs, ce = cells[0]
            name = ln.text[m.end() + cs : m.end() + ce]
            if _LEGAL.search(name):
                _add_name(doc, "seller_name", ln, m.end() + cs, m.end() + ce, 1.6, "by-phrase")


def _domain_names(doc: _Doc) -> None:
    """The sender's e-mail or web domain names the seller: the cell of a top line whose words
    spell it (``info@cronus.com`` -> ``CRONUS DE``)."""
    stems: list[str] = []
    for m in re.finditer(
        r"[\w.+-]+@([\w-]+)\.[\w.]+|www\.([\w-]+)\.\w+|https?://(?:www\.)?([\w-]+)\.", doc.text
    ):
        stem = (m[1] or m[2] or m[3] or "").lower().replace("-", "")
        if len(stem) >= 4 and not _FREE_MAIL.search(stem) and stem not in stems:
            stems.append(stem)
    if not stems:
        return
    for ln in doc.lines[:25]:
        if ln.page != 0 or _WEB.search(ln.text):
            continue
        for cs, ce in _doc_cells(doc, ln.text):
            cell = ln.text[cs:ce]
            squashed = _NOT_LOWER_ALNUM.sub("", cell.lower())
            first = _NOT_LOWER_ALNUM.sub("", cell.split()[0].lower()) if cell.split() else ""
            for k, stem in enumerate(stems):
                if first and (squashed.startswith(stem) or (len(first) >= 4 and stem.startswith(first))):
                    _add_name(doc, "seller_name", ln, cs, ce, 1.2 - 0.2 * k, "domain")
                    break
    for c in doc.cands.get("seller_name", []):
        squashed = _NOT_LOWER_ALNUM.sub("", str(c.value).lower())
        if any(squashed.startswith(stem) for stem in stems):
            c.score += 0.8


# ------------------------------------------------------------------------- other header fields

_VAT_FORMATS = {
    "AT": r"U\d{8}",
    "BE": r"[01]?\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "GR": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "GB": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "XI": r"\d{9}|\d{12}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "CHE": r"\d{9}(?:MWST|TVA|IVA)?",
    "NO": r"\d{9}(?:MVA)?",
}
_VAT_FULL = {cc: re.compile(rf"{cc}(?:{p})") for cc, p in _VAT_FORMATS.items()}
_VAT_START = re.compile(
    r"(?<![A-Z0-9])(" + "|".join(sorted(_VAT_FORMATS, key=len, reverse=True)) + r")[\s-]?(?=[0-9A-Z])"
)
_PARTY_OTHER = re.compile(
    r"\b(?:uw|your|ihre|votre|customer|kunde|client|käufer|buyer|acheteur|klant|afnemer)\b", re.I
)


def _vat_at(line: str, start: int) -> tuple[str, int] | None:
    """The longest VAT id of its country's format starting at ``start`` (spaces, dots and dashes
    inside allowed), and where it ends."""
    best = None
    squashed = ""
    for k in range(start, min(len(line), start + 24)):
        ch = line[k]
        if ch.isalnum():
            squashed += ch.upper()
        elif ch not in " .-/":
            break
        if ch.isalnum() and (k + 1 == len(line) or not line[k + 1].isalnum()):
            cc = _VAT_START.match(squashed)
            if cc and _VAT_FULL[cc[1]].fullmatch(squashed) and not g.iban_valid(squashed):
                best = (squashed, k + 1)
    return best


def _vat_ids(doc: _Doc) -> None:
    for ln in doc.lines:
        starts = list(_VAT_START.finditer(ln.text))
        if not starts:
            continue  # most lines: no country prefix, nothing more to read
        other = bool(_PARTY_OTHER.search(ln.text))
        labels = [lm.end() for lm in g._VAT_LABEL.finditer(ln.text)]
        for m in starts:
            found = _vat_at(ln.text, m.start())
            if found is None or not re.search(r"\d{6,}", found[0]):
                continue
            value, end = found
            labelled = any(0 <= m.start() - e < 40 for e in labels)
            prev = doc.lines[ln.index - 1].text if ln.index else ""
            above = bool(g._VAT_LABEL.search(prev)) and not _PARTY_OTHER.search(prev)
            score = 2.4 if labelled else (1.6 if above else 1.0)
            if other:
                score *= 0.3
            doc.add(
                Candidate("seller_vat_id", value, ln.start + m.start(), ln.start + end, score, "vat", ln.page)
            )


_IBAN_START = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?=[ A-Z0-9])")
_IBAN_LABEL = re.compile(r"iban", re.I)


def _iban_shape(s: str) -> bool:
    """Written as an IBAN: the country's registry length and ISO 13616 mod-97 check digits
    (the national account checks are left to the bot's IBAN rule)."""
    if iban_length(s[:2]) != len(s):
        return False
    digits = "".join(str(int(ch, 36)) for ch in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _ibans(doc: _Doc) -> None:
    for ln in doc.lines:
        for m in _IBAN_START.finditer(ln.text):
            squashed = ""
            best = None
            labelled = bool(_IBAN_LABEL.search(ln.text[max(0, m.start() - 12) : m.start()]))
            checked = False
            for k in range(m.start(), min(len(ln.text), m.start() + 46)):
                ch = ln.text[k]
                if ch.isalnum():
                    squashed += ch
                elif ch != " ":
                    break
                if (
                    ch.isalnum()
                    and (k + 1 == len(ln.text) or not ln.text[k + 1].isalnum())
                    and len(squashed) >= 15
                ):
                    if g.iban_valid(squashed) or _iban_shape(squashed):
                        best, checked = (squashed, k + 1), True
                    elif labelled and not checked and iban_length(squashed[:2]) == len(squashed):
                        # labelled "IBAN" and of its country's length, but the check digits
                        # fail: what is printed (a misprint or a specimen); weak, the IBAN
                        # rule judges it
                        best = (squashed, k + 1)
            if best is None:
                _iban_wrapped(doc, ln, m.start(), labelled)
                continue
            if best:
                other = bool(_PARTY_OTHER.search(ln.text))
                score = (2.4 if labelled else 1.8) * (0.4 if other else 1.0)
                if not checked:
                    score *= 0.5
                elif not g.iban_valid(best[0]):
                    score *= 0.8  # printed as an IBAN; whether the account is valid is a rule's call
                doc.add(
                    Candidate(
                        "iban", best[0], ln.start + m.start(), ln.start + best[1], score, "iban", ln.page
                    )
                )


_GROUPS = re.compile(r"[A-Z0-9]+")


def _iban_wrapped(doc: _Doc, ln: Line, start: int, labelled: bool) -> None:
    """An IBAN wrapped in a narrow column ("DE67 1004 8392 7221" / "8882 72" on the next line):
    its groups on this line, then the groups that start the next one, taken when together they
    are of the country's length and pass the mod-97 check (which a chance join does not)."""
    if ln.index + 1 >= len(doc.lines) or doc.lines[ln.index + 1].page != ln.page:
        return
    head = re.match(r"(?:[A-Z0-9]{1,6} ?)+", ln.text[start:])
    nxt = re.match(r"\s*((?:[A-Z0-9]{1,6} ?)+)", doc.lines[ln.index + 1].text)
    if head is None or nxt is None:
        return
    want = iban_length(ln.text[start : start + 2])
    if not want:
        return
    firsts, squashed = [], ""
    for gm in _GROUPS.finditer(head[0]):
        squashed += gm[0]
        firsts.append((squashed, start + gm.end()))
    rest, squashed = [], ""
    for gm in _GROUPS.finditer(nxt[1]):
        squashed += gm[0]
        rest.append(squashed)
    for first, _end in firsts:
        for more in rest:
            joined = first + more
            if len(first) >= 8 and len(more) >= 2 and len(joined) == want and _iban_shape(joined):
                score = (1.9 if labelled else 1.5) * (1.0 if g.iban_valid(joined) else 0.8)
                above = doc.lines[ln.index - 1].text if ln.index else ""
                if not labelled and _IBAN_LABEL.search(above):
                    score += 0.3  # "IBAN" heads its column
                # printed in two pieces: no one span shows it
                doc.add(Candidate("iban", joined, -1, -1, score, "iban-wrapped", ln.page))
                return


def _currency(doc: _Doc) -> None:
    code = g._currency(doc.text)
    if code is None:
        return
    _currency_found(doc, code)
    # the amounts marked with this currency again and again, and no other currency on the page:
    # the same reading confirmed
    signs = [code, *(sym for sym, c in g.CURRENCY_SYMBOLS.items() if c == code)]
    others = [c for c in g.ISO_CURRENCIES if c != code]
    other_signs = [sym for sym, c in g.CURRENCY_SYMBOLS.items() if c != code and len(sym) == 1]
    marks = sum(doc.text.count(sig) for sig in signs)
    if (
        marks >= 3
        and not re.search(rf"\b(?:{'|'.join(others)})\b", doc.text)
        and not any(sym in doc.text for sym in other_signs)
    ):
        for c in doc.cands.get("currency", []):
            c.score += 0.6


def _currency_found(doc: _Doc, code: str) -> None:
    m = re.search(rf"\b{code}\b", doc.text)
    if m is None:
        sym = next((s for s, c in g.CURRENCY_SYMBOLS.items() if c == code and s in doc.text), None)
        if sym is not None:
            k = doc.text.index(sym)
            doc.add(Candidate("currency", code, k, k + len(sym), 1.5, "symbol"))
            return
        doc.add(Candidate("currency", code, -1, -1, 1.0, "words"))
        return
    labelled = re.search(
        rf"(?:currency|währung|devise|valuta|beträge\s*in|amounts?\s*in)\s*[:.]?\s*({code})\b", doc.text, re.I
    )
    if labelled:
        doc.add(Candidate("currency", code, labelled.start(1), labelled.end(1), 2.4, "label"))
    else:
        doc.add(Candidate("currency", code, m.start(), m.end(), 1.8, "code"))


def _tax_rows(doc: _Doc) -> None:
    """Several tax rows (one per rate) and no tax total: their sum is a tax-total candidate."""
    rows = [c for c in doc.cands.get("tax_total", []) if c.how in ("right", "right-last", "row-right")]
    rated: dict[int, Candidate] = {}
    for c in rows:
        ln = next(x for x in doc.lines if x.start <= c.start <= x.start + len(x.text))
        if re.search(r"\d\s*%", ln.text):
            best = rated.get(ln.index)
            if best is None or c.score > best.score:
                rated[ln.index] = c
    if len(rated) >= 2:
        total = sum((c.value for c in rated.values() if isinstance(c.value, Decimal)), Decimal(0))
        doc.add(Candidate("tax_total", total, -1, -1, 1.6, "sum-of-rates"))


def _net_rows(doc: _Doc) -> None:
    """Several net rows (goods, shipping, fees: "Positionen netto", "Versandkosten netto") and
    their sum printed nowhere: the sum is a net-total candidate (the arithmetic decides)."""
    rows: dict[int, Candidate] = {}
    for c in doc.cands.get("net_total", []):
        if c.how not in ("right", "right-last") or not isinstance(c.value, Decimal):
            continue
        ln = next(x for x in doc.lines if x.start <= c.start <= x.start + len(x.text))
        best = rows.get(ln.index)
        if best is None or c.score > best.score:
            rows[ln.index] = c
    if len(rows) >= 2:
        values = [c.value for c in rows.values() if isinstance(c.value, Decimal)]
        if len(set(values)) == len(values):
            doc.add(Candidate("net_total", sum(values, Decimal(0)), -1, -1, 1.6, "sum-of-net-rows"))


_RATE = re.compile(r"(?<![\d.,])(\d{1,2}(?:[.,]\d{1,2})?)\s?%")


def _line_rates(doc: _Doc, inv: ExtractedInvoice) -> None:
    """Lines printed without their tax rate on an invoice of one rate: the rate whose share of
    the net is the tax total (``round(net x rate / 100) = tax``) is every line's."""
    if not inv.lines or any(ln.tax_rate is not None for ln in inv.lines):
        return
    if inv.net_total is None or inv.tax_total is None or inv.net_total <= 0:
        return
    rates = {g.parse_number(m[1], ",") if "," in m[1] else Decimal(m[1]) for m in _RATE.finditer(doc.text)}
    fits = [
        r
        for r in rates
        # per-row rounding of the tax may leave a cent or two
        if r is not None and 0 < r <= 30 and abs((inv.net_total * r / 100) - inv.tax_total) <= Decimal("0.02")
    ]
    if len(fits) == 1:
        for ln in inv.lines:
            ln.tax_rate = fits[0]


# ------------------------------------------------------------------------------- choosing


def _merge(cands: list[Candidate]) -> list[tuple[object, float, Candidate]]:
    """Candidates with the same value pooled: (value, pooled score, best single candidate); the
    best score counts whole, two more sightings a quarter each."""
    pooled: dict[object, list[Candidate]] = {}
    for c in cands:
        pooled.setdefault(_key(c.value), []).append(c)
    ranked = []
    for group in pooled.values():
        group.sort(key=lambda c: -c.score)
        score = group[0].score + 0.25 * sum(c.score for c in group[1:3])
        ranked.append((group[0].value, score, group[0]))
    ranked.sort(key=lambda t: -t[1])
    return ranked


def _ways(cands: list[Candidate], value: object) -> int:
    """In how many independent ways (label right of, below, block, letterhead, footer, format)
    the value was found."""
    key = _key(value)
    return len({c.how.split("-")[0] for c in cands if _key(c.value) == key})


def _key(value: object) -> object:
    if isinstance(value, str):
        return _NOT_LOWER_ALNUM.sub("", value.casefold())
    return value


# how a value was found when a label of its field names it (not a heuristic: first date on the
# page, a legal form, a mail domain)
_LABELLED = (
    "right",
    "right-last",
    "row-right",
    "below-col",
    "below-aligned",
    "below-date",
    "below-amount",
    "below-totals-row",
    "block-right",
    "block-below",
    "block-below-col",
    "vat",
    "iban",
    "label",
)


def _confidence(score: float, runner_up: float | None, ways: int = 1, how: str = "") -> float:
    """The winner's score mapped to 0..1: raised when its label is the only reading of the field
    on the page or when independent ways agree on it; lowered when a rival value scores
    close."""
    base = min(0.97, 0.35 + 0.22 * score)
    if runner_up is None:
        if how in _LABELLED:
            base += 0.1  # labelled, and the only value the page offers for this field
    else:
        margin = score - runner_up
        if margin < 0.5:
            base -= 0.25 * (0.5 - margin) / 0.5 + 0.05
    if ways >= 2:
        base += 0.1 * min(ways - 1, 2)
    return max(0.05, min(0.97, base))


def _choose_simple(doc: _Doc, inv: ExtractedInvoice, fieldname: str) -> None:
    cands = doc.cands.get(fieldname, [])
    ranked = _merge(cands)
    if not ranked:
        return
    value, score, best = ranked[0]
    setattr(inv, fieldname, value)
    inv.confidence[fieldname] = round(
        _confidence(score, ranked[1][1] if len(ranked) > 1 else None, _ways(cands, value), best.how), 3
    )
    if best.start >= 0:
        inv.spans[fieldname] = (best.start, best.end)


def _choose_amounts(doc: _Doc, inv: ExtractedInvoice, lines: list[InvoiceLine]) -> None:
    options: dict[str, list[tuple[object, float, Candidate] | None]] = {}
    for f in AMOUNT_FIELDS:
        ranked = _merge(doc.cands.get(f, []))[:5]
        options[f] = [*ranked, None]
    line_sum = (
        sum((ln.line_amount for ln in lines if ln.line_amount is not None), Decimal(0)) if lines else None
    )
    best: tuple[float, dict[str, tuple[object, float, Candidate] | None], list[str]] | None = None
    for combo in product(*(options[f] for f in AMOUNT_FIELDS)):
        pick = dict(zip(AMOUNT_FIELDS, combo, strict=True))
        vals = {f: (p[0] if p else None) for f, p in pick.items()}
        score = sum(p[1] for p in pick.values() if p)
        checks: list[str] = []
        net, tax, gross, due, pre = (vals[f] for f in AMOUNT_FIELDS)
        if net is not None and tax is not None and gross is not None:
            if net + tax == gross:  # type: ignore[operator]
                score += 3.0
                checks.append("net+tax=gross")
            else:
                score -= 2.5
        if gross is not None and due is not None:
            if pre is not None and gross - pre == due:  # type: ignore[operator]
                score += 2.0
                checks.append("due=gross-prepaid")
            elif due == gross and pre is None:
                score += 1.0
                checks.append("due=gross")
            elif pre is not None and due == gross:
                score += 0.2
            else:
                score -= 1.5
        if pre is not None and due is None:
            score -= 1.0
        if line_sum is not None and net is not None and line_sum == net:
            score += 2.0
            checks.append("lines=net")
        if tax is not None and gross is not None and tax == gross:
            score -= 3.0
        if net is not None and gross is not None and abs(net) > abs(gross):  # type: ignore[arg-type]
            score -= 1.0
        if best is None or score > best[0] + 1e-9:
            best = (score, pick, checks)
    if best is None:
        return
    _, pick, checks = best
    chosen = {f: (p[0] if p else None) for f, p in pick.items()}
    conflicts: set[str] = set()
    n_, t_, g_, d_, p_ = (chosen[f] for f in AMOUNT_FIELDS)
    if n_ is not None and t_ is not None and g_ is not None and n_ + t_ != g_:  # type: ignore[operator]
        conflicts |= {"net_total", "tax_total", "gross_total"}
    if g_ is not None and d_ is not None and d_ != g_ - (p_ if p_ is not None else 0):  # type: ignore[operator]
        conflicts |= {"amount_due"}
    for f in ("net_total", "tax_total", "gross_total", "amount_due"):
        p = pick[f]
        if p is None:
            continue
        setattr(inv, f, p[0])
        ranked = [o for o in options[f] if o is not None]
        rival = next((o[1] for o in ranked if _key(o[0]) != _key(p[0])), None)
        conf = _confidence(p[1], rival)
        related = {
            "net_total": ("net+tax=gross", "lines=net"),
            "tax_total": ("net+tax=gross",),
            "gross_total": ("net+tax=gross", "due=gross-prepaid", "due=gross"),
            "amount_due": ("due=gross-prepaid", "due=gross"),
        }[f]
        if any(c in checks for c in related):
            conf = max(conf, 0.9) + 0.05
        elif f in conflicts:
            conf = min(conf, 0.45)  # the printed totals contradict each other
        inv.confidence[f] = round(min(conf, 0.99), 3)
        if p[2].start >= 0:
            inv.spans[f] = (p[2].start, p[2].end)
    prepaid = pick["prepaid"][0] if pick["prepaid"] else None
    _derive(inv, prepaid, line_sum)
    # a total printed with its own label that the arithmetic over-ruled: the totals contradict
    # each other on the page, so none of them is sure
    overruled = [
        f
        for f in ("net_total", "tax_total", "gross_total")
        if pick[f] is None
        and getattr(inv, f) is not None
        and any(c.score >= 1.4 and c.value != getattr(inv, f) for c in doc.cands.get(f, []))
    ]
    if overruled:
        for f in ("net_total", "tax_total", "gross_total"):
            if f in inv.confidence:
                inv.confidence[f] = min(inv.confidence[f], 0.45)
    if (
        "amount_due" not in inv.spans
        and inv.amount_due is not None
        and inv.amount_due == inv.gross_total
        and not doc.cands.get("prepaid")
        and "gross_total" in inv.spans
    ):
        # no amount due printed and nothing prepaid anywhere on the page: due = gross - 0, as
        # sure as the gross itself
        inv.confidence["amount_due"] = min(inv.confidence.get("gross_total", 0.6), 0.9)


def _derive(inv: ExtractedInvoice, prepaid: object, line_sum: Decimal | None) -> None:
    """Totals printed nowhere, from the ones that are (lower confidence, no span)."""
    derived: list[str] = []
    if inv.tax_total is None and inv.net_total is not None and inv.gross_total is not None:
        inv.tax_total = inv.gross_total - inv.net_total
        derived.append("tax_total")
    if inv.net_total is None and inv.tax_total is not None and inv.gross_total is not None:
        inv.net_total = inv.gross_total - inv.tax_total
        derived.append("net_total")
    if inv.gross_total is None and inv.net_total is not None and inv.tax_total is not None:
        inv.gross_total = inv.net_total + inv.tax_total
        derived.append("gross_total")
    if inv.gross_total is None and inv.amount_due is not None and prepaid is None:
        inv.gross_total = inv.amount_due
        derived.append("gross_total")
    if inv.amount_due is None and inv.gross_total is not None:
        pre = prepaid if isinstance(prepaid, Decimal) else Decimal(0)
        inv.amount_due = inv.gross_total - pre
        derived.append("amount_due")
    if (
        inv.net_total is None
        and inv.tax_total is None
        and inv.gross_total is not None
        and line_sum is not None
        and line_sum == inv.gross_total
    ):
        inv.net_total = line_sum
        derived.append("net_total")
    for f in derived:
        inv.confidence[f] = 0.6


# ---------------------------------------------------------------------------------- entry


# the candidate steps, in order (``read_invoice`` and ``candidates``)
_STEPS = (
    _right_of_labels,
    _below_labels,
    _tail_labels,
    _party_blocks,
    _sender_and_letterhead,
    _by_phrases,
    _payees,
    _address_windows,
    _domain_names,
    _vat_ids,
    _ibans,
    _currency,
    _tax_rows,
    _net_rows,
)


def read_invoice(pages: str | Sequence[str], *, dayfirst: bool = True) -> ExtractedInvoice:
    """Read an invoice's header fields and lines from its text, one string per page (or the
    whole text as one string). ``spans`` index ``"\\n".join(pages)``."""
    page_list = [p.translate(g.SPACES) for p in ([pages] if isinstance(pages, str) else pages)]
    text, lines = _split(page_list)
    doc = _Doc(text, lines, len(page_list), g.decimal_style(text), dayfirst)
    for step in _STEPS:
        step(doc)
    _prefer_last_page_totals(doc)
    inv = ExtractedInvoice(source="text", syntax="generic")
    for f in (
        "invoice_number",
        "issue_date",
        "due_date",
        "po_number",
        "buyer_reference",
        "seller_trading_name",
        "seller_vat_id",
        "iban",
        "currency",
    ):
        _choose_simple(doc, inv, f)
    _choose_parties(doc, inv)
    guessed_issue = False
    if inv.issue_date is None:
        first = _first_date(doc)
        if first is not None:
            inv.issue_date = first.value  # type: ignore[assignment]
            inv.spans["issue_date"] = (first.start, first.end)
            inv.confidence["issue_date"] = 0.4
            guessed_issue = True
    _dates_by_order(doc, inv, guessed_issue)
    if not doc.cands.get("invoice_number"):
        _unlabelled_number(doc, inv)
    inv.lines = g.parse_lines(text, doc.decimal, doc.row_memo)
    _totals_by_arithmetic(doc, inv.lines)
    _choose_amounts(doc, inv, [] if doc.lines_partial else inv.lines)
    _line_rates(doc, inv)
    if inv.due_date is not None and inv.issue_date is not None and inv.due_date < inv.issue_date:
        inv.confidence["due_date"] = min(inv.confidence.get("due_date", 0.5), 0.3)
    return inv


def _totals_by_arithmetic(doc: _Doc, lines: list[InvoiceLine]) -> None:
    """Totals found without their labels: after the line table, the printed sum of the line
    amounts is the net; a later amount that is the net plus another printed amount (at a rate
    of at most 30 %) is the gross and that amount the tax; a later pair with gross - prepaid =
    due is the prepayment and the amount due. Weak candidates: labels, where read, agree or win."""
    toks: list[tuple[Line, Tok, Decimal]] = []
    for ln in doc.lines:
        if _CARRY.search(ln.text):
            continue  # a carried-forward subtotal
        nums, _, units = g._row_numbers(ln.text, doc.decimal, doc.row_memo)
        if len(nums) >= 3 and g._solve_row([v for v, _, _ in nums], units) is not None:
            continue  # a position row: quantity x price = amount
        for t in _tokens(ln.text):
            value = _money(doc, t.text) if t.kind == "amount" else None
            if value is not None:
                toks.append((ln, t, value))
    amounts = [ln.line_amount for ln in lines if ln.line_amount is not None]
    net = sum(amounts, Decimal(0))
    net_at = [k for k, (_, _, v) in enumerate(toks) if v == net] if amounts and net > 0 else []
    if not net_at:
        _triples(doc, toks[-15:])
        return
    # a labelled gross larger than anything the line sum explains: the table was read in part
    labelled = [
        c.value for c in doc.cands.get("gross_total", []) if c.score >= 1.4 and isinstance(c.value, Decimal)
    ]
    if labelled and max(labelled) > net * Decimal("1.3"):
        doc.lines_partial = True
        return
    k0 = net_at[-1]
    ln, t, _ = toks[k0]
    _add(doc, "net_total", ln, 0, t, net, 1.3, "lines-sum")
    later = toks[k0 + 1 :]
    for i, (gl, gt, gross) in enumerate(later):
        tax = gross - net
        if not (0 <= tax <= net * Decimal("0.3")):
            continue
        taxes = [(tl, tt) for tl, tt, v in later[:i] if v == tax]
        between = [v for _, _, v in later[:i]]
        if not taxes and tax > 0 and len(between) >= 2 and sum(between, Decimal(0)) == tax:
            # one tax row per rate and no tax total: gross = net + the rows' taxes
            _add(doc, "gross_total", gl, 0, gt, gross, 1.3, "net+taxes")
            doc.add(Candidate("tax_total", tax, -1, -1, 1.0, "net+taxes", gl.page))
            break
        if tax == 0 or taxes:
            _add(doc, "gross_total", gl, 0, gt, gross, 1.3, "net+tax")
            if taxes:
                _add(doc, "tax_total", taxes[-1][0], 0, taxes[-1][1], tax, 1.3, "net+tax")
            rest = later[i + 1 :]
            for j, (dl, dt, due) in enumerate(rest):
                pre = gross - due
                paid = [(pl, pt) for pl, pt, v in rest[:j] if v == pre and pre > 0]
                if paid:
                    _add(doc, "prepaid", paid[-1][0], 0, paid[-1][1], pre, 0.9, "gross-due")
                    _add(doc, "amount_due", dl, 0, dt, due, 0.9, "gross-due")
            break


def _triples(doc: _Doc, toks: list[tuple[Line, Tok, Decimal]]) -> None:
    """No line table to sum: the last printed amounts where a + b = c in that order, b at most
    30 % of a, are net, tax and gross."""
    found = None
    for i in range(len(toks)):
        for j in range(i + 1, len(toks)):
            for k in range(j + 1, min(len(toks), j + 4)):
                a, b, c = toks[i][2], toks[j][2], toks[k][2]
                if a > 0 and 0 < b <= a * Decimal("0.3") and a + b == c:
                    found = (i, j, k)
    if found is None:
        return
    for f, k in zip(("net_total", "tax_total", "gross_total"), found, strict=True):
        ln, t, v = toks[k]
        _add(doc, f, ln, 0, t, v, 0.9, "a+b=c")


def _prefer_last_page_totals(doc: _Doc) -> None:
    if doc.pages < 2:
        return
    for f in AMOUNT_FIELDS:
        for c in doc.cands.get(f, []):
            if c.page == doc.pages - 1:
                c.score += 0.3


def _header_dates(doc: _Doc) -> list[tuple[date, int, int]]:
    """The dates of page one's header (the lines above the line table: rows without two
    amounts), with their spans."""
    out: list[tuple[date, int, int]] = []
    for ln in doc.lines[:40]:
        if ln.page != 0:
            break
        toks = _tokens(ln.text)
        if sum(1 for t in toks if t.kind == "amount") >= 2:
            continue
        for t in toks:
            if t.kind == "date":
                found = g.find_date(t.text, dayfirst=doc.dayfirst)
                if found is not None:
                    out.append((found[0], ln.start + t.start, ln.start + t.end))
    return out


# how far a due date lies after the issue date (payment terms of up to four months)
_MAX_TERM_DAYS = 120


def _dates_by_order(doc: _Doc, inv: ExtractedInvoice, guessed_issue: bool) -> None:
    """Dates whose labels the lexicon does not hold: payment is due after the invoice is issued.
    With the issue date read from a label and no due date, the one later header date within
    four months is the due date; with neither labelled (the first date was taken) and two header
    dates, the earlier is the issue date and the later the due date. Readings of order, not of a
    label: their confidences stay below the review threshold."""
    dates = _header_dates(doc)
    if not dates:
        return
    if guessed_issue and inv.due_date is None:
        distinct = sorted({d for d, _, _ in dates})
        if len(distinct) == 2 and 0 < (distinct[1] - distinct[0]).days <= _MAX_TERM_DAYS:
            for fieldname, d in (("issue_date", distinct[0]), ("due_date", distinct[1])):
                _, s, e = next(x for x in dates if x[0] == d)
                setattr(inv, fieldname, d)
                inv.spans[fieldname] = (s, e)
                inv.confidence[fieldname] = 0.4
        return
    if inv.due_date is not None or inv.issue_date is None or guessed_issue:
        return
    issued = inv.issue_date
    later = [x for x in dates if 0 < (x[0] - issued).days <= _MAX_TERM_DAYS]
    if len({d for d, _, _ in later}) == 1:
        d, s, e = later[0]
        inv.due_date = d
        inv.spans["due_date"] = (s, e)
        inv.confidence["due_date"] = 0.45


# an identifier right of a label the lexicon does not hold, "Notanummer: 2025-17": a label ending
# in a number word, or starting with one ("N° pièce")
_ANY_LABELLED_ID = re.compile(
    r"(?:^|(?<=\s))(?P<label>[^\W\d_][^\W\d_.'’°#/ -]*(?:[ .'’°#/-]{1,2}[^\W\d_]+){0,3}[.°#]?)\s*[:#]?\s*:\s*"
    r"|(?:^|(?<=\s))(?P<label2>[^\W\d_][^\W\d_.'’°#/ -]*(?:[ .'’°#/-]{1,2}[^\W\d_]+){0,3}[.°#]?)\s+(?=[A-Z]{0,4}[-/]?\d)"
)
_NUMBER_WORD = re.compile(
    r"(?:nummer|nr\.?|no\.?|number|n°|nº|num\.?|#|code|id|num[ée]ro)$|^(?:n°|nº|no\.?|nr\.?|num[ée]ro|number)\b",
    re.I,
)
# words of a label that names another number than the invoice's
_OTHER_NUMBER = re.compile(
    r"custom|client|kunde|klant|order|bestel|commande|auftrag|vat|tva|btw|ust|tax|steuer|iban|bic|swift|tel|phone|fax|"
    r"page|seite|pagina|account|konto|compte|rekening|siret|siren|kvk|gln|ean|artic|artikel|item|ref|zeichen|kenmerk|"
    r"deliver|liefer|livraison|lever|contra|vertrag|proje|dossier|case|ticket|track|batch|lot|serial|serie|mandat|"
    r"sepa|gl[äa]ubiger|creditor|registr|handels|chamber|kammer|routing|leitweg|sort|blz|postcode|zip|plz|hrb|hra|ust",
    re.I,
)


def _unlabelled_number(doc: _Doc, inv: ExtractedInvoice) -> None:
    """No label of the lexicon names an invoice number: the first identifier of page one's header
    right of a label that ends in a number word ("Notanummer", "Fakturanummer") or starts with
    one ("N° pièce"), and names no other number (customer, order, VAT, account, reference...).
    A reading of the label's shape: its confidence stays below the review threshold."""
    for ln in doc.lines[:30]:
        if ln.page != 0:
            return
        for m in _ANY_LABELLED_ID.finditer(ln.text):
            label = (m["label"] or m["label2"] or "").strip()
            if not _NUMBER_WORD.search(label) or _OTHER_NUMBER.search(label):
                continue
            rest = ln.text[m.end() :]
            v = re.match(r"[:#\s]*([A-Za-z0-9][\w\-/.]*\w|\d)", rest)
            value = _ident(v[1]) if v else None
            if v is None or value is None:
                continue
            start = ln.start + m.end() + v.start(1)
            inv.invoice_number = value
            inv.spans["invoice_number"] = (start, start + len(value))
            inv.confidence["invoice_number"] = 0.45
            return


def _first_date(doc: _Doc) -> Candidate | None:
    found = g.find_date(doc.text, dayfirst=doc.dayfirst)
    if found is None:
        return None
    d, start = found
    m = _DATE_TOKEN.match(doc.text, start)
    end = m.end() if m else start + 10
    return Candidate("issue_date", d, start, end, 0.5, "first-date")


def _choose_parties(doc: _Doc, inv: ExtractedInvoice) -> None:
    # a name the page puts under a buyer's label ("Factuuradres", "Bill to") is not the seller's,
    # whatever legal form or letterhead position it has (unless a seller's label names it too)
    billed = {_key(c.value) for c in doc.cands.get("buyer_name", []) if c.how.startswith("block")}
    doc.cands["seller_name"] = [
        c
        for c in doc.cands.get("seller_name", [])
        if c.how.startswith("block") or _key(c.value) not in billed
    ]
    _choose_simple(doc, inv, "seller_name")
    if inv.seller_trading_name is None and inv.seller_name is not None:
        _letterhead_name(doc, inv)
    buyers = [c for c in doc.cands.get("buyer_name", []) if _key(c.value) != _key(inv.seller_name or "")]
    doc.cands["buyer_name"] = buyers
    _choose_simple(doc, inv, "buyer_name")


def _letterhead_name(doc: _Doc, inv: ExtractedInvoice) -> None:
    """No "Trading name" label: the name the seller heads its letter with (the first company name
    at the top of page one, the sender line, the name its web domain spells) is the name it trades
    under (BT-28), often its legal name again. A reading of the layout, not of a label: its
    confidence stays below the review threshold unless the chosen seller name agrees."""
    heads = [
        c
        for c in doc.cands.get("seller_name", [])
        if c.how in ("legal-form", "sender-line", "domain")
        and c.page == 0
        and c.score >= 1.2
        and c.start >= 0
    ]
    if not heads:
        return
    first = min(heads, key=lambda c: c.start)
    inv.seller_trading_name = str(first.value)
    inv.spans["seller_trading_name"] = (first.start, first.end)
    same = _key(first.value) == _key(inv.seller_name)
    inv.confidence["seller_trading_name"] = round(
        min(inv.confidence.get("seller_name", 0.5), 0.85 if same else 0.6), 3
    )


def candidates(pages: str | Sequence[str], *, dayfirst: bool = True) -> dict[str, list[Candidate]]:
    """Every candidate per field (for tests and for reviewing a reader's choice)."""
    page_list = [p.translate(g.SPACES) for p in ([pages] if isinstance(pages, str) else pages)]
    text, lines = _split(page_list)
    doc = _Doc(text, lines, len(page_list), g.decimal_style(text), dayfirst)
    for step in _STEPS:
        step(doc)
    return doc.cands


# behind a first-character look-ahead (``generic._guarded``: the same matches, found faster)
_ANY_HEAD = g._guarded(_ANY_HEAD)
_DATE_TOKEN = g._guarded(_DATE_TOKEN)
_WORD = g._guarded(_WORD)
_OTHER_DOC = g._guarded(_OTHER_DOC)
_BARE_DUE = g._guarded(_BARE_DUE)
_BLOCK_RE = g._guarded(_BLOCK_RE)
_FREE_MAIL = g._guarded(_FREE_MAIL)
_BY_PHRASE = g._guarded(_BY_PHRASE)
_VAT_START = g._guarded(_VAT_START)
_PARTY_OTHER = g._guarded(_PARTY_OTHER)
_CONTACT = g._guarded(_CONTACT)
_IBAN_WORD = g._guarded(_IBAN_WORD)
