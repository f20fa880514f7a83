"""Column heads of an invoice's line table read by their meaning (EN/DE/FR/NL), for
:func:`.generic.parse_lines`.

A head row is recognised by what its words name, not by one spelling: each word (or pair of
words, "Unit price", "Prix unitaire") is classed as a column kind (position, article code,
description, quantity, unit, unit price, discount, tax rate, line amount) and a row with at least
three kinds, one of them the quantity or the price, and no amounts in it heads a table. The
kinds in the order printed tell the row reader which of two numbers that both fit is the
quantity, and whether a unit column sits between the quantity and the description.
"""

from __future__ import annotations

import re

__all__ = ["CARRY", "UNIT_WORD", "head_kinds", "is_head_row"]

# units of measure written after a quantity (EN/DE/FR/NL; UN/ECE rec. 20 common codes among them)
UNIT_WORD = re.compile(
    r"(?:stk|st|stück|pcs|pc|pce|pces|pièces?|pieces?|u|un|unités?|units?|ea|each|set|sets|satz|pak|pack|"
    r"packs?|pkt|paket|dozen|carton|karton|rol|rolle|rolls?|lot|lots|pauschal|"
    r"h|hr|hours?|std|stunden?|uren|days?|tage?|jours?|dag|dagen|kg|g|t|l|ml|m|m2|m²|m3|m³|lfm|"
    r"km|mm|cm|c62|h87|hur|kgm|mtr|ltr)\.?",
    re.I,
)

# a carried-forward row of a table continuing across pages (not a subtotal of a group)
CARRY = re.compile(
    r"übertrag|carried\s*forward|brought\s*forward|à\s*reporter|\breport\b|\btransport\b", re.I
)

# a word's kind; compounds are read by their parts ("Einzelpreis", "Gesamtbetrag", "Btw-tarief")
_WORD_KINDS: list[tuple[str, re.Pattern[str]]] = [
    # totals of a line before prices: "Gesamtbetrag", "Total ligne", "Prix total"
    (
        "amount",
        re.compile(
            r"^(?:gesamt\w*|total\w*|totaal\w*|summe|\w*betrag|\w*bedrag|\w*wert|amount|value|montant|net|netto)$"
        ),
    ),
    (
        "rate",
        re.compile(
            r"^(?:%|[^\W\d]*[-/]?%|mwst\.?|ust\.?|vat|tax|tva|btw|\w*steuer\w*|taux|btw-?tarief|tax-?rate|vat-?rate)$"
        ),
    ),
    (
        "disc",
        re.compile(r"^(?:rabatt\w*|nachlass|skonto|discount|disc\.?|remise|rabais|korting|kort\.?)$"),
    ),
    (
        "price",
        re.compile(r"^(?:\w*preis\w*|price\w*|\w*prijs\w*|prix|p\.?u\.?(?:\s*ht)?|pu|ep|tarief|each)$"),
    ),
    (
        "qty",
        re.compile(
            r"^(?:menge|mng\.?|anzahl|quantity|qty\.?|quantité|qté\.?|aantal|hoeveelheid|hvh\.?|nombre|hours|stunden|uren)$"
        ),
    ),
    ("unit", re.compile(r"^(?:einheit|mengeneinheit|unit|u/m|unité|un\.?|eenheid|eenh\.?)$")),
    (
        "code",
        re.compile(
            r"^(?:art\.|art\.?-?nr\.?|artikel-?nr\.?|artikelnummer|artnr\.?|art\.?nr\.?|sku|artikelcode|code|référence)$"
        ),
    ),
    ("pos", re.compile(r"^(?:pos\.?|position|regelnr\.?|ligne|nr\.?|no\.?|n°|item)$")),
    (
        "desc",
        re.compile(
            r"^(?:description|bezeichnung|\w*beschreibung|artikel\w*|text|désignation|designation|"
            r"produit|article|\w*omschrijving|goods|services?|materiaal|matériel)$"
        ),
    ),
]
# several words that head one column ("Unit price", "Prix unitaire HT", "Tax rate", "Line amount"):
# read as one token of their kind before the words are classed one by one
_MULTI: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), kind)
    for p, kind in (
        (r"unit\s+price|price\s+per\s+unit|prix\s+unit(?:aire|\.)?(?:\s+ht)?", "price"),
        (
            r"preis\s+(?:je|pro)\s+(?:einheit|stk\.?)|prijs\s+p/\s*\w+\.?|p\.?\s?u\.?\s+ht",
            "price",
        ),
        (
            r"prix\s+total(?:\s+ht)?|line\s+amount|total\s+(?:ligne|ht)",
            "amount",
        ),
        (r"montant\s+ht|netto\s*bedrag", "amount"),
        (
            r"(?:tax|vat|btw|mwst\.?|ust\.?|tva)\s*(?:-?rate|%|-?satz|-?tarief)|taux(?:\s+(?:de\s+)?tva)?",
            "rate",
        ),
        (r"(?:rabatt|remise|korting|disc\.?|discount)\s*%", "disc"),
        (
            r"code\s+article|r[ée]f\.?\s+article|art\.?\s*(?:no|nr)\.?|article\s+no\.?",
            "code",
        ),
        (r"goods\s*/\s*services?", "desc"),
    )
]
_SKIP = re.compile(
    r"^(?:[/|-]|je|per|pro|par|de|du|la|le|the|of|in|excl\.?|incl\.?|ht|ttc|eur|€|\(eur\)|p/st|p/stk)$"
)
_MONEY = re.compile(r"\d[.,]\d{2}\b")
_NUMERIC = ("qty", "price", "disc", "rate", "amount")


def _kind(word: str) -> str | None:
    return next((k for k, rx in _WORD_KINDS if rx.match(word)), None)


def head_kinds(line: str) -> list[str]:
    """The column kinds a row's words name, in the order printed (one per column)."""
    found: list[tuple[int, str]] = []
    rest = list(line)
    for rx, kind in _MULTI:
        for m in rx.finditer(line):
            if all(c != "\0" for c in rest[m.start() : m.end()]):
                found.append((m.start(), kind))
                rest[m.start() : m.end()] = "\0" * (m.end() - m.start())
    for m in re.finditer(r"[^\s\0]+", "".join(rest)):
        word = m[0].lower().strip(",;:()[]")
        if not word or _SKIP.match(word):
            continue
        named = _kind(word)
        if named is None and "/" in word:  # "Price/unit", "Hrs/Qty": the first part
            named = _kind(word.split("/", 1)[0])
        if named is not None:
            found.append((m.start(), named))
    return [k for _, k in sorted(found)]


def is_head_row(line: str) -> list[str] | None:
    """The kinds of a line table's head row, or None when ``line`` is none: at least three kinds
    of which one is the quantity or the unit price, at least two named numeric columns, and no
    amounts printed in it."""
    if _MONEY.search(line):
        return None
    kinds = head_kinds(line)
    distinct = set(kinds)
    if len(distinct) < 3 or not ({"qty", "price"} & distinct):
        return None
    if len(distinct & set(_NUMERIC)) < 2:
        return None
    return kinds
