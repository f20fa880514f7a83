"""Helpers of the invoice text readers (numbers, dates, IBANs, the label lexicon) and the line
table reader; the header fields come from the layout reader (:mod:`.layout`), which uses them.

It reads the text layer the way a clerk would: labels in English, German, French and Dutch
("Invoice number", "Rechnungsnummer", "Facture n°", "Factuurnummer"...) followed by a value on the
same line; line items from the rows between a table header (quantity + price/amount columns)
and the totals, choosing per row the numbers where ``quantity x unit price = line amount``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import permutations
from re import _constants as _rc  # type: ignore[attr-defined]
from re import _parser as _rp
from typing import Any

from connectors.bankfiles.accounts import is_valid_iban as iban_valid
from connectors.einvoice import InvoiceLine

from .lines import CARRY, UNIT_WORD, is_head_row

__all__ = [
    "decimal_style",
    "find_date",
    "iban_valid",
    "parse_date",
    "parse_lines",
    "parse_number",
]

MONTHS: dict[str, int] = {}
for _i, _month_names in enumerate(
    [
        "january jan januar janvier janv januari jänner",
        "february feb februar février fevrier févr fevr februari",
        "march mar märz maerz mars mrt maart",
        "april apr avril",
        "may mai mei",
        "june jun juni juin",
        "july jul juli juillet juil",
        "august aug août aout augustus",
        "september sep sept septembre",
        "october oct oktober octobre okt",
        "november nov novembre",
        "december dec dezember décembre decembre dez",
    ],
    start=1,
):
    for _n in _month_names.split():
        MONTHS[_n] = _i

_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
NUM = r"-?\(?\d[\d.,' ]*\d\)?-?|-?\d"
_NUM_TOKEN = re.compile(
    r"(?<![\w.,])-?\d{1,3}(?:[.,' ]\d{3})*(?:[.,]\d+)?(?![\w])|(?<![\w.,])-?\d+(?:[.,]\d+)?(?![\w])"
)
# no-break, narrow no-break, thin and figure spaces (French amounts "1 234,56"): read as spaces,
# one character for one, so offsets into the text stay right
SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "₹": "INR", "zł": "PLN", "CHF": "CHF"}
ISO_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "INR", "PLN", "SEK", "DKK", "NOK", "CZK", "JPY", "CAD", "AUD")


# ------------------------------------------------------------------------------------ numbers


class _AnyFirst(Exception):
    """A pattern element whose first character the guard does not bound."""


_CATEGORIES = {
    _rc.CATEGORY_DIGIT: r"\d",
    _rc.CATEGORY_NOT_DIGIT: r"\D",
    _rc.CATEGORY_SPACE: r"\s",
    _rc.CATEGORY_NOT_SPACE: r"\S",
    _rc.CATEGORY_WORD: r"\w",
    _rc.CATEGORY_NOT_WORD: r"\W",
}


def _first_chars(data: Any, items: set[str]) -> bool:
    """Add to ``items`` (character-class parts) every character a match of the parsed sequence
    ``data`` can start with; True if the sequence can match the empty string. Zero-width
    assertions are skipped (the set only grows); anything else unbounded raises ``_AnyFirst``."""
    for op, av in data:
        if op is _rc.LITERAL:
            items.add(f"\\U{av:08x}")
            return False
        if op is _rc.IN:
            for iop, iav in av:
                if iop is _rc.LITERAL:
                    items.add(f"\\U{iav:08x}")
                elif iop is _rc.RANGE:
                    items.add(f"\\U{iav[0]:08x}-\\U{iav[1]:08x}")
                elif iop is _rc.CATEGORY and iav in _CATEGORIES:
                    items.add(_CATEGORIES[iav])
                else:  # a negated class
                    raise _AnyFirst
            return False
        if op is _rc.AT and av is _rc.AT_BEGINNING:
            items.add("^")  # what is left of the sequence matches at a line (or text) start only
            return False
        if op in (_rc.AT, _rc.ASSERT, _rc.ASSERT_NOT):
            continue
        if op is _rc.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise _AnyFirst
            if not _first_chars(sub.data, items):
                return False
            continue
        if op is _rc.BRANCH:
            nullable = False
            for branch in av[1]:
                nullable |= _first_chars(branch.data, items)
            if not nullable:
                return False
            continue
        if op in (_rc.MAX_REPEAT, _rc.MIN_REPEAT):
            low, _high, sub = av
            if not _first_chars(sub.data, items) and low > 0:
                return False
            continue
        raise _AnyFirst
    return True


def _guarded(rx: re.Pattern[str]) -> re.Pattern[str]:
    """``rx`` behind a one-character look-ahead of the characters its matches can start with:
    the same matches (same start, end and groups; a match starts with one of them), found
    faster, since the engine no longer tries every alternative at every position (Python's
    ``re`` does not build this set itself for case-insensitive alternations). ``rx`` itself
    when a match may be empty or start with any character."""
    items: set[str] = set()
    try:
        if _first_chars(_rp.parse(rx.pattern, rx.flags).data, items):
            return rx
    except Exception:  # an element this does not know (``re`` internals change): no guard
        return rx
    start = "|^" if "^" in items else ""
    items.discard("^")
    chars = f"[{''.join(sorted(items))}]" if items else "(?!)"
    return re.compile(f"(?={chars}{start})(?:{rx.pattern})", rx.flags)


def decimal_style(text: str) -> str:
    """Guess the document's decimal separator from how amounts are written: ``,`` or ``.``."""
    comma = len(re.findall(r"\d,\d{2}(?!\d)", text))
    dot = len(re.findall(r"\d\.\d{2}(?!\d)", text))
    return "," if comma > dot else "."


_NUM_NOISE = re.compile(r"[€$£₹%]|\b[A-Z]{3}\b")
_NUM_CHARS = re.compile(r"[\d.,]+")
_GROUPED = re.compile(r"\d{1,3}([.,]\d{3})+")


def parse_number(raw: str, decimal: str = ".") -> Decimal | None:
    """Read ``1.234,56`` / ``1,234.56`` / ``1 234,56`` / ``(12.30)`` / ``12.30-``; None if not a number."""
    s = raw.strip().translate(SPACES).replace("\u2212", "-")
    s = _NUM_NOISE.sub("", s).strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        s, negative = s[1:-1], True
    if s.endswith("-"):
        s, negative = s[:-1], True
    if s.startswith("-"):
        s, negative = s[1:], not negative
    s = s.replace(" ", "").replace("'", "")
    if not s or not _NUM_CHARS.fullmatch(s):
        return None
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
    elif s.count(decimal) > 1:
        return None if _GROUPED.fullmatch(s) is None else Decimal(re.sub(r"[.,]", "", s))
    thousands = "." if decimal == "," else ","
    s = s.replace(thousands, "").replace(decimal, ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        return None
    return -value if negative else value


# -------------------------------------------------------------------------------------- dates


def parse_date(raw: str, formats: list[str] | None = None, *, dayfirst: bool = True) -> date | None:
    s = " ".join(raw.strip().split())
    for fmt in formats or []:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    found = find_date(s, dayfirst=dayfirst)
    return found[0] if found else None


def _mk(y: int, m: int, d: int) -> date | None:
    if y < 100:
        y += 2000
    try:
        return date(y, m, d)
    except ValueError:
        return None


_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), "ymd"),
    (re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})(?![\d])"), "dmy"),
    (re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])"), "slash"),
    (re.compile(r"(?<![\d-])(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})(?![\d-])"), "dmy"),
    (re.compile(rf"(?<!\d)(\d{{1,2}})\.?\s*(?:er\s+)?({_MONTH_RE})\.?\s+(\d{{4}})", re.I), "d_mon_y"),
    (re.compile(rf"(?<![\d-])(\d{{1,2}})-({_MONTH_RE})\.?-(\d{{4}}|\d{{2}})(?![\d-])", re.I), "d_mon_y"),
    (re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})\s*,?\s*(\d{{4}})", re.I), "mon_d_y"),
]


def find_date(text: str, *, dayfirst: bool = True) -> tuple[date, int] | None:
    """The earliest date written in ``text`` (numeric or with month names), and where it starts."""
    best: tuple[date, int] | None = None
    for pattern, kind in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if best is not None and m.start() >= best[1]:
                break
            d: date | None = None
            if kind == "ymd":
                d = _mk(int(m[1]), int(m[2]), int(m[3]))
            elif kind == "dmy":
                d = _mk(int(m[3]), int(m[2]), int(m[1]))
            elif kind == "slash":
                a, b, y = int(m[1]), int(m[2]), int(m[3])
                d = _mk(y, b, a) if dayfirst and a <= 31 and b <= 12 else _mk(y, a, b)
                d = d or _mk(y, b, a)
            elif kind == "d_mon_y":
                d = _mk(int(m[3]), MONTHS[m[2].lower()], int(m[1]))
            else:
                d = _mk(int(m[3]), MONTHS[m[1].lower()], int(m[2]))
            if d is not None and 1990 <= d.year <= 2100:
                best = (d, m.start())
                break
    return best


# -------------------------------------------------------------------------------------- IBANs

_IBAN_RE = re.compile(r"\b([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})\b")


def find_iban(text: str) -> str | None:
    """The first valid IBAN written in ``text`` (validity: the one check, on schwifty)."""
    for m in _IBAN_RE.finditer(text):
        candidate = m[1].replace(" ", "")
        # the regex is greedy across spaces: try shrinking to a valid IBAN
        for end in range(len(candidate), 14, -1):
            if iban_valid(candidate[:end]):
                return candidate[:end]
    return None


# ----------------------------------------------------------------------------- header fields

_SEP = r"\s*(?:[:#.]|n°|no\.?|nr\.?)?\s*"
LABELS: dict[str, list[str]] = {
    "invoice_number": [
        r"invoice\s*(?:number|no\.?|nr\.?|#|num\.?)",
        r"rechnungs?\s*-?\s*(?:nummer|nr\.?|no\.?|#)",
        r"rechnung\s*(?:\(\d+\)\s*)?(?:nr\.?|#)",
        r"handelsrechnung\s*\(\d+\)\s*nr\.?",
        r"facture\s*(?:n°|no\.?|num[ée]ro|#)",
        r"f\s?actuur\s*(?:nummer|nr\.?|#)",
        r"(?:document|beleg)\s*-?\s*(?:number|nummer|nr\.?)",
        r"^\s*(?:invoice|rechnung|facture|factuur|avoir|gutschrift|credit\s*note)(?=\s+[A-Z0-9/-]*\d)",
    ],
    "issue_date": [
        r"invoice\s*date",
        r"date\s*of\s*invoice",
        r"rechnungs\s*-?\s*datum",
        r"f\s?actuur\s*-?\s*datum",
        r"beleg\s*-?\s*datum",
        r"liefer-\s*und\s*rechnungsdatum",
        r"issued\s*(?:at|on)",
        r"date\s*de\s*(?:la\s*)?facture(?!\s*associ)",
        r"(?:rechnung|invoice|facture|factuur)\b[^\n]{0,40}?\b(?:vom|von|du|dated|of|from|van)\b",
        r"^\s*date\b",
        r"^\s*datum\b",
        r",\s*den\b",
    ],
    "due_date": [
        r"due\s*date",
        r"payment\s*due(?:\s*date)?",
        r"f[äa]llig(?:keit|keitsdatum)?(?:\s*am)?",
        r"zahlungsziel",
        r"zahlbar\s*bis(?:\s*zum)?",
        r"bitte\s*(?:überweisen|zahlen)\s*sie\s*bis\s*(?:zum)?",
        r"please\s*(?:remit|pay)\s*(?:until|by)",
        r"date\s*limite\s*de\s*paiement(?:\s*le)?",
        r"[ée]ch[ée]ance",
        r"vervaldatum",
        r"netto\s*bis",
    ],
    "po_number": [
        r"(?:your|customer)\s*(?:purchase\s*)?order\s*(?:no\.?|number|#|ref\.?)?",
        r"purchase\s*order\s*(?:no\.?|number|#)?",
        r"\bP\.?O\.?\s*(?:no\.?|number|#|ref\.?)",
        r"ihre\s*(?:bestell|auftrags)\s*-?\s*(?:nummer|nr\.?)",
        r"ihre\s*bestellung(?:\s*nr\.?)?",
        r"bestell\s*-?\s*(?:nummer|nr\.?)",
        r"bestellung\s*(?:nr\.?|nummer)(?:\s*kunde)?",
        r"order\s*(?:no\.?|number|#|reference|ref\.?)",
        r"bon\s*de\s*commande",
        r"votre\s*r[ée]f[ée]rence",
        r"ordernummer",
    ],
    "net_total": [
        r"net\s*total",
        r"total\s*net",
        r"total\s*(?:excl\.?|excluding|before)\s*(?:vat|tax)",
        r"subtotal(?:\s*excl\.?\s*vat)?",
        r"sub-total",
        r"rechnungssumme\s*(?:netto|ohne\s*ust\.?)",
        r"summe\s*netto",
        r"netto\s*summe",
        r"nettobetrag",
        r"gesamt\s*netto",
        r"zwischensumme",
        r"total\s*ht",
        r"montant\s*ht",
        r"exclusief\s*btw",
        r"totaal\s*excl\.?\s*btw",
    ],
    "tax_total": [
        r"(?:vat|tax)\s*total",
        r"total\s*(?:vat|tax)",
        r"ust\.?\s*gesamt",
        r"steuerbetrag",
        r"mwst\.?\s*gesamt",
        r"summe\s*(?:ust|mwst)\.?",
        r"zuzüglich\s*\d+(?:[.,]\d+)?\s*%\s*(?:mwst|ust)\.?",
        r"\d+(?:[.,]\d+)?\s*%\s*(?:vat|mwst\.?|ust\.?|tva|btw)",
        r"(?:vat|tax|mwst\.?|ust\.?|tva|btw)\s*\d+(?:[.,]\d+)?\s*%",
        r"montant\s*tva",
        r"^\s*(?:vat|tax|tva|btw)\b(?!\s*(?:id|reg|no|nr|number|identifier|clause))",
    ],
    "gross_total": [
        r"grand\s*total",
        r"total\s*(?:\S+\s*)?incl\.?\s*(?:vat|tax)",
        r"total\s*(?:amount|gross)",
        r"invoice\s*total",
        r"total\s*for\s*this\s*invoice",
        r"rechnungssumme\s*brutto",
        r"bruttosumme",
        r"gesamtbetrag(?:\s*brutto)?",
        r"rechnungsbetrag",
        r"endsumme",
        r"summe\s*gesamt",
        r"gesamtsumme",
        r"summe\s*brutto",
        r"total\s*ttc",
        r"montant\s*ttc",
        r"total\s*facture",
        r"factuur\s*totaal",
        r"totaal(?:\s*incl\.?\s*btw)?",
        r"^\s*total\b(?!\s*(?:net|excl|ht|vat|tax))",
    ],
    "amount_due": [
        r"amount\s*due",
        r"total\s*amount\s*due",
        r"balance\s*due",
        r"due\s*payable",
        r"zahlbetrag",
        r"zu\s*zahlender\s*betrag",
        r"somme\s*[àa]\s*payer",
        r"net\s*[àa]\s*payer",
        r"te\s*betalen",
    ],
}
_VAT_LABEL = re.compile(
    r"(?:ust\.?\s*-?\s*id(?:\.?\s*-?\s*nr\.?)?|ustid(?:nr)?|vat\s*(?:id|reg(?:istration)?\.?\s*(?:no|number)?|no|number)"
    r"|tva\s*intra\w*|n°\s*de\s*tva[^:]*|btw(?:\s*-?\s*nummer)?|tax\s*id|vat)\s*[:.]?\s*",
    re.I,
)
_VAT_RE = re.compile(
    r"\b((?:AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|CH)"
    r"\s?(?:U\s?)?[0-9A-Z][0-9A-Z ]{6,14}[0-9A-Z])\b"
)
_LEGAL_FORM = re.compile(
    r"\b(?:GmbH(?:\s*&\s*Co\.?\s*KG)?|AG|KG|OHG|UG|e\.K\.|SE|B\.V\.|N\.V\.|Inc\.?|Ltd\.?|LLC|LLP|PLC|SAS|SARL|S\.A\.|SA|"
    r"S\.r\.l\.|Corp(?:oration)?\.?|Co\.|Limited|Company)(?=$|[\s,.])",
)
_TOTAL_STOP = re.compile(
    r"^\s*(?:net\s*total|subtotal|sub-total|total|summe|zwischensumme|rechnungssumme|nettobetrag|gesamt|positionssumme|"
    r"exclusief|totaal|montant|umsatzsteuer|belegsummen|positionen\s*netto|tax\b|vat\b|\d+%\s*vat|invoice\s*total)",
    re.I,
)


_CURRENCY_LABEL = re.compile(
    r"(?:currency|währung|devise|valuta|beträge\s*in|amounts?\s*in)\s*[:.]?\s*([A-Z]{3})\b", re.I
)
_US_DOLLARS = re.compile(r"\bUS\s*Dollars?\b", re.I)


def _currency(text: str) -> str | None:
    m = _CURRENCY_LABEL.search(text)
    if m and m[1].upper() in ISO_CURRENCIES:
        return m[1].upper()
    counts: Counter[str] = Counter()
    for code in ISO_CURRENCIES:
        counts[code] += len(re.findall(rf"\b{code}\b", text)) if code in text else 0
    for symbol, code in CURRENCY_SYMBOLS.items():
        counts[code] += text.count(symbol)
    if _US_DOLLARS.search(text):
        counts["USD"] += 3
    if re.search(r"\bRs\.?\s*-?\d|\bRupees?\b", text):
        counts["INR"] += 3
    best = counts.most_common(1)
    return best[0][0] if best and best[0][1] > 0 else None


# ------------------------------------------------------------------------------------ lines

_HEADER_RE = re.compile(  # anchored: the look-aheads scan the row once, not from every position
    r"^(?=.*(?:menge|quantity|qty|aantal|anzahl|quantité|qté|hoeveelheid|\bamount\b|nombre))"
    r"(?=.*(?:preis|price|prijs|prix|betrag|amount|total|gesamt|bedrag|montant|p\.u\.))",
    re.I,
)
_PAGE_LINE = re.compile(r"^(?:seite|page|pagina)\s*\d|^visualisierung|\bseite\s*\d+\s*(?:von|/)\s*\d+", re.I)
_META_LINE = re.compile(r"^(?:art-?nr|bruttopreis|gtin|serienummer|contract|dienst|\d+\s*\(GTIN\))", re.I)


_HEAD_WORDS = re.compile(
    r"\b(?:btw|vat|tax|mwst|ust|tva|grondslag|basis|base|bedrag|betrag|amount|montant|totaal|total|summe|netto|brutto|"
    r"rate|satz|taux|tarief)\b",
    re.I,
)
_CODE_PREFIX = re.compile(r"^(?:\[[^\]]*\]|\*\d+\*)\s*")  # "[FURN_7777] Office Chair", "*987123* Olive Oil"
# article numbers and GTINs before the name ("AWE12M Suite", "1908-S LONDON Stuhl", "Stk. K4321
# Pils", "4123456000014 ZS997 Zitronensäure"): upper-case codes with a digit, 3+ characters, then
# a word; a unit printed before them goes too
_ARTICLE_PREFIX = re.compile(
    r"^(?:(?i:stk|st|pce|pcs|pc|ea)\.?\s+)?(?:(?=[A-Z0-9./_-]*\d)[A-Z0-9][A-Z0-9./_-]{2,}\s+)+(?=[^\W\d_]{2})"
)
_UNIT = r"(?:stk|st|pcs|pce|pc|kg|g|m|m²|m2|m³|l|h|std|x|ea|pkt|piece|pieces|units?)\.?"
_ROW_TOKEN = re.compile(
    rf"(?<![\w.,/])(-?\d{{1,3}}(?:[.,']\d{{3}})*(?:[.,]\d+)?|-?\d+(?:[.,]\d+)?)(?:(\s?%)|({_UNIT})(?![\w])|(?![\w/]))",
    re.I,
)


# one document's row tokens read so far: (token, number part, decimal) -> (a date?, the number);
# the same token recurs on many rows and in several readings of a row
RowMemo = dict[tuple[str, str, str], tuple[bool, Decimal | None]]


def _row_numbers(
    line: str, decimal: str, memo: RowMemo | None = None
) -> tuple[list[tuple[Decimal, int, int]], list[Decimal], set[int]]:
    """Numbers of a table row (value, start, end), the percentages (tax rates) apart, and the
    indexes of numbers written with a unit (``20Stk``: a quantity). ``memo``: the document's
    tokens read so far (filled in)."""
    nums: list[tuple[Decimal, int, int]] = []
    rates: list[Decimal] = []
    with_unit: set[int] = set()
    for m in _ROW_TOKEN.finditer(line):
        if memo is None:
            if find_date(m[0]) is not None:
                continue
            value = parse_number(m[1], decimal)
        else:
            key = (m[0], m[1], decimal)
            read = memo.get(key)
            if read is None:
                is_date = find_date(m[0]) is not None
                read = memo[key] = (is_date, None if is_date else parse_number(m[1], decimal))
            if read[0]:
                continue
            value = read[1]
        if value is None:
            continue
        if m[2]:
            rates.append(value)
        else:
            if m[3]:
                with_unit.add(len(nums))
            nums.append((value, m.start(), m.end()))
    return nums, rates, with_unit


_PERCENT = re.compile(r"-?\d+(?:[.,]\d+)?\s*%")
_SHORT_DATE = re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b")
_MONEY_SIGN = re.compile(r"[€$£]|\b(?:EUR|USD|GBP)\b")


def _description(line: str, nums: list[tuple[Decimal, int, int]]) -> str:
    """The longest stretch of text between the row's numbers, cleaned of units and percentages."""
    cuts = [0] + [p for _, s, e in nums for p in (s, e)] + [len(line)]
    gaps = [line[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts) - 1, 2)]
    cleaned = []
    for gap in gaps:
        g = _PERCENT.sub(" ", gap)
        g = _SHORT_DATE.sub(" ", g)
        g = _MONEY_SIGN.sub(" ", g)
        cleaned.append(" ".join(g.split()).strip(" :-|"))
    return max(cleaned, key=len) if cleaned else ""


_FIT = Decimal("0.011")  # qty x price may differ from the amount by its rounding


def _solve_row(
    nums: list[Decimal],
    with_unit: set[int] | None = None,
    lead: set[int] | None = None,
    price_first: bool = False,
) -> tuple[int, int, int] | None:
    """Indexes (qty, price, amount) with qty*price = amount; amount preferably the last number.

    When both orders fit, the quantity is the number written with a unit, then neither it nor the
    price is one of ``lead``: the row's leading position number ("7 Free gift 1 0.00 0.00") or a
    labelled value ("# ligne BC: 3"); then the one in the order of
    the head row (``price_first``: its price head comes before its quantity head), then the
    whole number.
    """
    n = len(nums)
    units = with_unit or set()
    weak = lead or set()
    for a in range(n - 1, -1, -1):
        fits = [
            (q, p)
            for q, p in permutations([i for i in range(n) if i != a], 2)
            if nums[q] != 0
            and not (nums[a] == 0 and nums[p] != 0)
            and abs(nums[q] * nums[p] - nums[a]) <= _FIT
        ]
        if fits:
            fits.sort(
                key=lambda qp: (
                    nums[qp[0]] >= 10_000_000,  # a GTIN or article number, not a quantity
                    qp[0] not in units,
                    (qp[0] in weak) + (qp[1] in weak),
                    (qp[1] < qp[0]) != price_first,
                    nums[qp[0]] != nums[qp[0]].to_integral_value(),
                    qp[0],
                    -qp[1],  # of equal prices the one nearer the amount (a pack size comes first)
                )
            )
            q, p = fits[0]
            return q, p, a
    return None


_LEAD = re.compile(r"\d{1,3}\s+[^\W\d_]")


def _lead(line: str, nums: list[tuple[Decimal, int, int]]) -> int | None:
    """Index 0 when the row starts with a small whole number followed by words (a position)."""
    if nums and nums[0][1] == 0 and _LEAD.match(line):
        return 0
    return None


def _weak(line: str, nums: list[tuple[Decimal, int, int]]) -> set[int]:
    """Numbers a quantity or price is least likely to be: the leading position number and values
    right after a label's colon."""
    weak = {i for i, (_, st, _) in enumerate(nums) if line[:st].rstrip().endswith(":")}
    if _lead(line, nums) == 0:
        weak.add(0)
    return weak


def _attribute_values(line: str, nums: list[tuple[Decimal, int, int]], used: Sequence[int]) -> bool:
    """Most of the row's used numbers come straight after a label's colon ("Bruttopreis:1,50
    Abschlag:0,03 ... Abschlag:0,02"): attributes of the item above, not an item."""
    after_colon = sum(1 for i in used if i >= 0 and line[: nums[i][1]].rstrip().endswith(":"))
    return after_colon >= 2


def _discounted(
    nums: list[Decimal], rates: list[Decimal], with_unit: set[int]
) -> tuple[int, int, int, Decimal, bool] | None:
    """A row whose amount is qty x price less a discount per line printed in the row
    ("1.00 L 1.00 10.00 15.00% 0.90": 1 x 1.00 less 10 % = 0.90): (qty, price, amount, discount,
    discount printed with %). The amount is the last number; the discount a number or
    percentage strictly between 0 and 100; the quantity preferably the one with a unit."""
    n = len(nums)
    if n < 3:
        return None
    a = n - 1
    amount = nums[a]
    discounts = [(i, nums[i], False) for i in range(n - 1)] + [(-1, r, True) for r in rates]
    best = None
    for q, p in permutations(range(n - 1), 2):
        if nums[q] == 0 or nums[p] == 0:
            continue
        for di, d, pct in discounts:
            if di in (q, p) or not (0 < d < 100):
                continue
            if abs(nums[q] * nums[p] * (100 - d) / 100 - amount) <= Decimal("0.011"):
                key = (q not in with_unit, nums[q] != nums[q].to_integral_value(), q)
                if best is None or key < best[0]:
                    best = (key, (q, p, a, d, pct))
    return best[1] if best else None


def _qty_and_amount(
    line: str, nums: list[tuple[Decimal, int, int]], rates: list[Decimal], with_unit: set[int]
) -> tuple[int, int | None, int] | None:
    """A row without qty x price = amount that still has an item's columns: a quantity (written
    with a unit, or a whole number), a tax rate or unit, and an amount with cents last
    ("Stahlcoil 10Stk 19% 850,00", "Thuiskopie 3.50 1 21% 4,24"). The price is the number that
    makes qty x price within 10 % of the amount (a discount or charge folded into the amount),
    else none: (qty, price or None, amount)."""
    if len(nums) < 2 or not (rates or with_unit):
        return None
    a = len(nums) - 1
    value, s, e = nums[a]
    if not re.search(r"[.,]\d{2}$", line[s:e]) or line[e:].strip(" €$£") not in ("", "EUR", "USD", "GBP"):
        return None
    lead = _lead(line, nums)
    units = [i for i in sorted(with_unit) if i != a]
    if units:
        q = units[0]
    else:
        whole = [
            i
            for i in range(a)
            if i != lead and re.fullmatch(r"\d{1,5}", line[nums[i][1] : nums[i][2]]) and nums[i][0] > 0
        ]
        if not whole:
            return None
        q = whole[-1]
    qty = nums[q][0]
    if qty <= 0 or value <= 0:
        return None
    if line[nums[q][2] : s] == " " and re.match(r"\d{3}(?:[.,]|$)", line[s:e]):
        return None  # "TVA 20 % 1 164,37": one amount with a space between its digit groups
    price = next(
        (
            i
            for i in range(a)
            if i not in (q, lead) and nums[i][0] > 0 and abs(qty * nums[i][0] - value) <= abs(value) / 10
        ),
        None,
    )
    first = min(q, price) if price is not None else q
    if not _has_name(_description(line[: nums[first][1]], [])):
        return None
    return q, price, a


# a code printed before a wrapped description's words ("ZS997 100ml", "K4321 Bierbrau Pils"):
# upper-case letters and at least two digits
_CODE_START = re.compile(
    r"^(?=[A-Z0-9./_-]*\d[A-Z0-9./_-]*\d)(?=[0-9./_-]*[A-Z])[A-Z0-9][A-Z0-9./_-]{2,}\s+(?=\S)"
)
_SUBTOTAL = re.compile(
    r"^\s*(?:sub-?\s?total|zwischensumme|sous-total|subtotaal|tussentotaal)\b(?!.*(?:excl|incl|vat|tax|mwst|btw|tva|netto|brutto))",
    re.I,
)
_WORD3 = re.compile(r"[^\W\d_]{3,}")
_UNIT_WORD = re.compile(rf"^{_UNIT}$", re.I)


def _has_name(desc: str) -> bool:
    """A description with a word that is not a unit ("Stk.", "pcs") nor an article code."""
    return any(_WORD3.fullmatch(w.strip(".,:;()")) and not _UNIT_WORD.match(w) for w in desc.split())


# a space between digit groups ("1 234,56"): a thousands separator or two numbers side by side
_GROUP_SPACE = re.compile(r"(?<=\d) (?=\d{3}(?:[.,]\d|\s|$))")


def _read_row(
    line: str, decimal: str, price_first: bool = False, memo: RowMemo | None = None
) -> tuple[str, list[tuple[Decimal, int, int]], list[Decimal], set[int], tuple[int, int, int] | None]:
    """A table row's numbers and the (qty, price, amount) that fit. Where digit groups are
    separated by spaces ("2 617,28 1 234,56"), each space is read as a thousands separator or
    as a gap between numbers, and the reading where the fit leaves the fewest numbers over wins
    (then the one with more thousands separators): "1 234,56" is one amount, "2 617,28" a
    quantity and a price when that is what makes qty x price = amount."""
    junctions = [m.start() for m in _GROUP_SPACE.finditer(line)][:6]
    best: tuple[tuple[int, int, int], str, tuple[Any, ...]] | None = None
    for mask in range(1 << len(junctions)):
        variant = line
        for k in sorted((j for b, j in enumerate(junctions) if mask >> b & 1), reverse=True):
            variant = variant[:k] + "'" + variant[k + 1 :]  # same length: offsets stay
        nums, rates, with_unit = _row_numbers(variant, decimal, memo)
        values = [v for v, _, _ in nums]
        solved = (
            _solve_row(values, with_unit, _weak(variant, nums), price_first) if len(values) >= 3 else None
        )
        if not junctions:
            return line, nums, rates, with_unit, solved
        kind = 0
        if solved is None:
            # no exact fit: a reading where qty x price less a discount makes the last number
            # ("12 122,72 21% 15 1 251,74") ranks after the exact ones
            if len(values) < 3 or _discounted(values, rates, with_unit) is None:
                continue
            kind = 1
        rank = (len(values) - 3, kind, -bin(mask).count("1"))
        if best is None or rank < best[0]:
            best = (rank, variant, (nums, rates, with_unit, solved))
    if best is None:
        nums, rates, with_unit = _row_numbers(line, decimal, memo)
        return line, nums, rates, with_unit, None
    nums, rates, with_unit, solved = best[2]
    return best[1], nums, rates, with_unit, solved


_QTY_HEAD = re.compile(r"menge|quantity|qty|aantal|anzahl|quantité|qté|hoeveelheid|nombre", re.I)
_PRICE_HEAD = re.compile(r"preis|price|prijs|prix|p\.u\.", re.I)
_RATE_HEAD = re.compile(
    r"%|steuersatz|tax\s*rate|vat\s*rate|taux|tarief|mwst|\bust\b|\btva\b|\bbtw\b|\bvat\b", re.I
)


def _column_rate(
    nums: list[tuple[Decimal, int, int]], used: tuple[int, ...], lead: int | None
) -> Decimal | None:
    """Under a tax-rate head, a rate printed without % ("1,0000 19,0 100,00"): the last number
    right of the price that no column took, if it can be a rate (0-30)."""
    q, p, _a = used
    after = nums[p][1] if p >= 0 else nums[q][1]
    left = [
        v
        for i, (v, st, _) in enumerate(nums)
        if i not in used and i != lead and st > after and 0 <= v <= 30 and v == v.quantize(Decimal("0.01"))
    ]
    return left[-1] if left else None


def _without_unit(
    desc: str, kinds: list[str], line: str, nums: list[tuple[Decimal, int, int]], solved: tuple[int, int, int]
) -> str:
    """The description without the unit word of a unit column printed next to it: the head
    order puts the unit between the quantity and the description ("3 set Service hours") or
    between the description and the quantity ("Service hours set 3")."""
    if "unit" not in kinds or "desc" not in kinds or " " not in desc:
        return desc
    k = kinds.index("unit")
    before, after = kinds[k - 1] if k else None, kinds[k + 1] if k + 1 < len(kinds) else None
    words = desc.split()
    if before == "qty" and after == "desc" and len(words[0]) <= 8:
        return " ".join(words[1:])
    if before == "desc" and after == "qty" and len(words[-1]) <= 8:
        return " ".join(words[:-1])
    return desc


def _clean_wrap(line: str) -> str:
    """A wrapped description line without the article code printed before its words."""
    return _CODE_START.sub("", line, count=1)


def _head(line: str) -> tuple[bool, bool, list[str]] | None:
    """A line table's head row: (a tax-rate column, price head before quantity head, the column
    kinds in order), or None. Heads are known by their words' meaning (``lines.is_head_row``)
    or, as before, by a quantity word and a price or amount word."""
    kinds = is_head_row(line)
    if kinds is None and not (_HEADER_RE.search(line) and not re.search(r"\d[.,]\d{2}", line)):
        return None
    kinds = kinds or []
    if kinds:
        numeric = [k for k in kinds if k in ("qty", "price")]
        price_first = numeric[:2] == ["price", "qty"]
        return "rate" in kinds or bool(_RATE_HEAD.search(line)), price_first, kinds
    qty_at, price_at = _QTY_HEAD.search(line), _PRICE_HEAD.search(line)
    price_first = bool(qty_at and price_at and price_at.start() < qty_at.start())
    return bool(_RATE_HEAD.search(line)), price_first, kinds


_MONEY_AMOUNT = re.compile(r"\d[.,]\d{2}(?!\d)")


def _last_amounts(line: str, decimal: str, memo: RowMemo | None) -> set[Decimal]:
    """The row's last number, read as written and with spaces between digit groups read as
    thousands separators ("Total intermédiaire 18 005,33")."""
    out = set()
    for variant in (line, _GROUP_SPACE.sub("'", line)):
        nums = _row_numbers(variant, decimal, memo)[0]
        if nums:
            out.add(nums[-1][0])
    return out


def _wrap_with_numbers(
    line: str, nums: list[tuple[Decimal, int, int]], rates: list[Decimal], kinds: list[str]
) -> bool:
    """A wrapped description line that has numbers but no amounts ("delivery week 14", "size
    M, 2 m"): words first, no percentage, no decimals. When the quantity column follows the
    description's (or the head's columns are not known), a number ending the line may be the
    quantity of an item whose price is printed elsewhere ("Apple Magic Mouse 1"): no wrap."""
    if nums[-1][2] >= len(line.rstrip()):
        k = kinds.index("desc") if "desc" in kinds else -1
        if k < 0 or kinds[k + 1 : k + 2] == ["qty"]:
            return False
    return bool(
        nums
        and not rates
        and not re.search(r"\d[.,]\d", line)
        and len(line) <= 40
        and not _MONEY_AMOUNT.search(line)
        and not re.search(r"[·|•]", line)
        and re.match(r"[^\W\d_]{3}", line)
    )


def parse_lines(text: str, decimal: str = ".", memo: RowMemo | None = None) -> list[InvoiceLine]:
    """The invoice's line items: the rows under a line table's head row (see ``_head``) up to
    the totals. A document where no head row is recognised (no head printed, or in words the
    reader does not know) is read again without one, taking only rows whose numbers make
    qty x price (less a discount) = an amount with cents, after words."""
    return _parse_lines(text, decimal, memo) or _parse_lines(text, decimal, memo, headless=True)


def _strict_row(line: str, nums: list[tuple[Decimal, int, int]], solved: tuple[int, int, int]) -> bool:
    """A row that is an item by its arithmetic alone: the amount is the last number, written
    with cents and ending the row (a currency or a rate aside), and words come before the
    numbers."""
    _, s, e = nums[solved[2]]
    if solved[2] != len(nums) - 1 or solved[0] < 0 or solved[1] < 0:
        return False
    rest = _PERCENT.sub("", line[e:], count=1).strip(" €$£")  # a rate column after the amount
    if not re.search(r"[.,]\d{2}$", line[s:e]) or rest not in ("", "EUR", "USD", "GBP"):
        return False
    return _has_name(_description(line[: nums[min(solved)][1]], []) or _description(line, nums))


def _parse_lines(
    text: str, decimal: str = ".", memo: RowMemo | None = None, headless: bool = False
) -> list[InvoiceLine]:
    lines = text.splitlines()
    out: list[InvoiceLine] = []
    in_table = headless
    continuation = False
    name_below = False  # the last item row printed no name: the next line of text is its name
    rate_head = price_first = False
    kinds: list[str] = []
    group_start = 0  # the first item after the last subtotal row
    resumable = 0  # lines left in which an item row resumes a table a subtotal-like row ended
    for raw in lines:
        line = raw.strip()
        head = _head(line) if not line[:1].isdigit() else None
        if head is not None:
            # a head row, or the head repeated on a later page: the table (re)starts here
            in_table = True
            rate_head, price_first, kinds = head
            continuation = name_below = False
            resumable = 0
            continue
        if not in_table:
            if resumable and out:
                resumable -= 1
                if _TOTAL_STOP.search(line):
                    resumable = 0
                    continue
                _, nums, rates, units, solved = _read_row(line, decimal, price_first, memo)
                values = [v for v, _, _ in nums]
                fits = (solved is not None and solved[2] == len(nums) - 1) or (
                    _discounted(values, rates, units) is not None
                )
                if not fits or not _has_name(_description(line, nums)):
                    continue
                in_table = True  # an item row after a subtotal: the table goes on
            else:
                continue
        if _TOTAL_STOP.search(line):
            if out and _SUBTOTAL.match(line):
                # a subtotal of the rows above, inside the table: not an item, the table goes on
                # (the net total's own wordings, "Subtotal excl. VAT", still end it)
                continuation = name_below = False
                group_start = len(out)
                continue
            in_table = False
            continuation = name_below = False
            group = sum((ln.line_amount or Decimal(0) for ln in out[group_start:]), Decimal(0))
            if len(out) > group_start and group in _last_amounts(line, decimal, memo):
                # a total of the rows since the last subtotal ("Total intermédiaire", "Summe
                # Gruppe"): a subtotal when item rows follow it (else it was the net total)
                resumable = 6
                group_start = len(out)
            elif headless and out:
                resumable = 12  # no head to restart at: a footer line of a page break paused it
            continue
        _, nums, rates, units, solved = _read_row(line, decimal, price_first, memo)  # offsets index ``line``
        values = [v for v, _, _ in nums]
        price: int | None = None
        qty: Decimal | None
        if headless and (solved is None or solved[2] != len(values) - 1):
            discounted = _discounted(values, rates, units) if len(values) >= 3 else None
            solved = discounted[:3] if discounted is not None else None
            if discounted is not None and discounted[4]:
                rates = [r for r in rates if r != discounted[3]]
        if headless:
            if solved is not None and not _strict_row(line, nums, solved):
                solved = None
            qty = values[solved[0]] if solved else Decimal(0)
        elif (
            solved is None and len(values) >= 2 and values[-1] == values[-2] and re.search(r"[.,]\d{2}", line)
        ):
            qty = Decimal(1)
            solved = (-1, len(values) - 2, len(values) - 1)
        elif solved is None or solved[2] != len(values) - 1:
            # no fit, or one whose amount is not the row's last number: the last number may be
            # the amount less a discount per line
            discounted = _discounted(values, rates, units)
            if discounted is not None:
                q, p, a, d, pct = discounted
                solved = (q, p, a)
                if pct:
                    rates = [r for r in rates if r != d]
            elif solved is None:
                weak = _qty_and_amount(line, nums, rates, units)
                if weak is not None:
                    q, price, a = weak
                    solved = (q, -2 if price is None else price, a)
            qty = values[solved[0]] if solved else Decimal(0)
        else:
            qty = values[solved[0]]
        if solved is not None and _attribute_values(line, nums, solved):
            solved = None  # "Bruttopreis:1,50 Abschlag:0,03 ...": attributes, not an item
            continuation = False
            name_below = False
            continue
        if solved is None:
            if (
                len(out) > group_start
                and 0 < len(nums) <= 3
                and not CARRY.search(line)
                and re.match(r"[^\W\d_]{3}", line)
                and sum((ln.line_amount or Decimal(0) for ln in out[group_start:]), Decimal(0))
                in _last_amounts(line, decimal, memo)
            ):
                # a row of words whose amount is the sum of the items since the last such row
                # ("Sous-total 15 522,46", "Group A 1.234,00"): a subtotal inside the table
                group_start = len(out)
                continuation = name_below = False
                continue
            if (
                _META_LINE.match(line)
                or _PAGE_LINE.match(line)
                or re.fullmatch(r"[A-Z0-9-]*\d[A-Z0-9-]*|\([\w\s.-]{1,12}\)", line)
            ):
                # article numbers, GTINs, a tag in brackets ("(GTIN)"), page headers: the
                # description is over
                continuation = False
            elif re.search(r"\w\s?:(?:\s|$)", line) or len(_HEAD_WORDS.findall(line)) >= 2:
                # "Verpackung: Flasche", "Date fin : 31/12/2018" (an attribute of the item, not
                # its name wrapped), or the heads of another table: the description is over
                continuation = False
                name_below = False
            elif name_below and out and len(line) < 80 and _has_name(_clean_wrap(line)):
                # the row above printed codes and numbers only; its name is on this line
                name = _ARTICLE_PREFIX.sub("", _clean_wrap(line), count=1) or _clean_wrap(line)
                out[-1].description = name
                name_below = continuation = False  # the name under its row is one line
            elif (
                continuation
                and out
                and line
                and len(line) < 60
                and (not nums or _wrap_with_numbers(line, nums, rates, kinds))
            ):
                desc = out[-1].description or ""
                out[-1].description = f"{desc} {_clean_wrap(line)}".strip()
            continue
        continuation = True
        # the description is the text before the row's first used number when it has words
        # (numbers inside it, "HP USB 3.0 Port Replicator", stay), else the longest text stretch
        first = min(i for i in solved if i >= 0)
        desc = _description(line[: nums[first][1]], [])
        if not re.search(r"[^\W\d_]{2}", desc):
            desc = _description(line, nums)
        desc = _CODE_PREFIX.sub("", desc)
        desc = re.sub(r"^\d{1,3}\s+(?=\D)", "", desc)
        desc = _ARTICLE_PREFIX.sub("", desc, count=1) or desc
        desc = re.sub(r"^[\w.-]*(?:nr|no|ref|nummer)[\w.-]*\s*:\s*", "", desc, flags=re.I)
        desc = _without_unit(desc, kinds, line, nums, solved)
        if solved[0] >= 0 and " " in desc:
            # a unit written after the quantity that the description follows ("1 set Schrauben")
            word, _, rest = desc.partition(" ")
            if UNIT_WORD.fullmatch(word) and line[nums[solved[0]][2] :].lstrip().startswith(desc):
                desc = rest
        if solved[0] >= 0 and " " in desc and not kinds:
            # no head tells the columns: a short unit printed between the description and its
            # quantity ("Steel bracket pack 10"), not a measure that is part of the name
            # ("Câble réseau 5 m") nor a word of it ("Service hours")
            rest, _, word = desc.rpartition(" ")
            if (
                len(word) <= 4
                and word.islower()
                and UNIT_WORD.fullmatch(word)
                and not re.search(r"(?:^|\s)\d+(?:[.,]\d+)?$", rest)
                and line[: nums[solved[0]][1]].rstrip().endswith(desc)
            ):
                desc = rest
        name_below = not _has_name(desc)
        rate = rates[0] if rates else None
        if rate is None and rate_head and solved[1] >= 0:
            rate = _column_rate(nums, solved, _lead(line, nums))
        out.append(
            InvoiceLine(
                description=desc or None,
                quantity=qty,
                unit_price=values[solved[1]] if solved[1] >= 0 else None,
                line_amount=values[solved[2]],
                tax_rate=rate,
            )
        )
    return out


__all__ += ["LABELS", "NUM", "find_iban"]


# behind a first-character look-ahead (``_guarded``: the same matches, found faster)
_NUM_TOKEN = _guarded(_NUM_TOKEN)
_VAT_LABEL = _guarded(_VAT_LABEL)
_HEAD_WORDS = _guarded(_HEAD_WORDS)
_QTY_HEAD = _guarded(_QTY_HEAD)
_RATE_HEAD = _guarded(_RATE_HEAD)
_CURRENCY_LABEL = _guarded(_CURRENCY_LABEL)
_US_DOLLARS = _guarded(_US_DOLLARS)
