"""Pure matching helpers (no I/O, no caches): normalising vendors and references, pairing
invoice lines with PO lines and charge codes, cumulative quantities. Used by the rules, the
context builder and ``bench/match_bench.py``; the per-run memos live in ``MatchContext``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher

from connectors.purchasing import POLine

__all__ = [
    "DEFAULT_CHARGE_KEYWORDS",
    "LineMatch",
    "match_lines",
    "norm_ref",
    "norm_vendor",
]

LEGAL_FORMS = (
    "gmbh & co. kg|gmbh & co kg|gmbh|mbh|ag|kg|ohg|ug|e.k.|se|b.v.|bv|n.v.|nv|inc.|inc|incorporated|ltd.|ltd|"
    "limited|llc|llp|plc|sas|sarl|s.a.r.l.|s.a.|sa|s.r.l.|srl|spa|s.p.a.|corp.|corp|corporation|co.|company|oy|ab|as|aps"
)
_LEGAL_RE = re.compile(rf"(?<![\w])(?:{LEGAL_FORMS})(?![\w])", re.I)

DEFAULT_CHARGE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "FREIGHT": (
        "freight",
        "fracht",
        "shipping",
        "versand",
        "transport",
        "delivery charge",
        "port",
        "livraison",
    ),
    "PACKAGING": ("packaging", "verpackung", "emballage", "packing", "verpakking"),
    "SURCHARGE": ("surcharge", "zuschlag", "express", "supplément", "toeslag", "energy"),
}


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def norm_vendor(name: str | None) -> str:
    """``'Bluefield Supplies, Ltd.'`` -> ``'bluefield supplies'``: accents, punctuation and legal forms dropped."""
    if not name:
        return ""
    s = _LEGAL_RE.sub(" ", _fold(name).casefold())
    s = re.sub(r"[^0-9a-z]+", " ", s)
    return " ".join(s.split())


_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def norm_ref(ref: str | None) -> str:
    """Invoice reference for fuzzy duplicate checks: alphanumerics only, OCR look-alikes folded."""
    if not ref:
        return ""
    s = ref.replace("l", "1")
    if not (s.isascii() and s.isalnum()):
        s = _NOT_ALNUM.sub("", s)
    return _fold_ocr(s.upper())


def _fold_ocr(s: str) -> str:
    """OCR look-alikes of an upper-cased reference folded to digits: O/0, I/1, B/8, S/5 (``norm_ref``
    folds the lowercase l before upper-casing). Four replacements, not ``str.translate`` (a third
    of its cost on a short reference); none writes a letter another one reads, so the order does
    not matter."""
    return s.replace("O", "0").replace("I", "1").replace("B", "8").replace("S", "5")


@dataclass(slots=True)
class LineMatch:
    """Invoice line ``index`` matched to a PO goods line, or classified as a charge, or neither."""

    index: int
    kind: str  # "goods" | "charge" | "unmatched"
    po_line: POLine | None = None
    charge_code: str | None = None
    how: str = ""  # "item code", "description", "charge keyword", "order line reference"
    po: str | None = None  # the PO the line was matched against (None: the line names no PO)
    # (PO, PO line) of a goods match, set when the match is memoised (``MatchContext``)
    key: tuple[str, int] | None = None


_TOKEN_SPLIT = re.compile(r"[\s,;:()]+")


def _tokens(text: str) -> set[str]:
    return {t for t in _TOKEN_SPLIT.split(text.upper()) if t}


def charge_code_of(description: str, keywords: Mapping[str, Sequence[str]]) -> str | None:
    low = _fold(description).casefold()
    for code, words in keywords.items():
        for w in words:
            if re.search(rf"(?<![a-z]){re.escape(_fold(w).casefold())}", low):
                return code
    return None


def match_lines(
    descriptions: Sequence[str | None],
    po_lines: Sequence[POLine],
    keywords: Mapping[str, Sequence[str]] = DEFAULT_CHARGE_KEYWORDS,
    *,
    min_similarity: float = 0.75,
) -> list[LineMatch]:
    """Pair each invoice line with a PO line: item code in the description first, then a charge
    keyword, then the most similar PO description (ratio >= ``min_similarity``)."""
    goods = [p for p in po_lines if not p.charge_code]
    charges: dict[str, POLine] = {}
    for p in po_lines:
        if p.charge_code:
            charges.setdefault(p.charge_code, p)
    by_item = {p.item.upper(): p for p in goods if p.item}
    return match_indexed(descriptions, goods, by_item, charges, keywords, min_similarity=min_similarity)


def match_indexed(
    descriptions: Sequence[str | None],
    goods: Sequence[POLine],
    by_item: Mapping[str, POLine],
    charges: Mapping[str, POLine],
    keywords: Mapping[str, Sequence[str]] = DEFAULT_CHARGE_KEYWORDS,
    *,
    min_similarity: float = 0.75,
    po: str | None = None,
    keys: Mapping[int, tuple[str, int]] | None = None,
) -> list[LineMatch]:
    """:func:`match_lines` on a PO already arranged: goods lines, goods by upper-cased item code,
    the first charge line per charge code (``MatchContext.po_index`` builds these once per PO).
    ``po``: the PO these lines are matched against, set on every match (:attr:`LineMatch.po`);
    ``keys``: the (PO, line) key of each of its goods lines by line number, set on the goods
    matches (:attr:`LineMatch.key`; without it they are left to the caller)."""
    key_of = keys.get if keys is not None else _no_key
    out: list[LineMatch] = []
    for i, desc in enumerate(descriptions):
        text = desc or ""
        if by_item:
            words = text.split(None, 1)  # [] for a description of blanks only
            first = words[0].upper() if words else ""
            hit = by_item.get(first) or next((by_item[t] for t in _tokens(text) if t in by_item), None)
            if hit is not None:
                out.append(LineMatch(i, "goods", hit, None, "item code", po, key_of(hit.po_line)))
                continue
        code = charge_code_of(text, keywords)
        if code is not None:
            out.append(LineMatch(i, "charge", charges.get(code), code, "charge keyword", po))
            continue
        best: tuple[float, POLine | None] = (0.0, None)
        folded = _fold(text).casefold()
        for p in goods:
            ratio = SequenceMatcher(None, folded, _fold(p.description or "").casefold()).ratio()
            if ratio > best[0]:
                best = (ratio, p)
        if best[1] is not None and best[0] >= min_similarity:
            p = best[1]
            out.append(LineMatch(i, "goods", p, None, f"description ({best[0]:.2f})", po, key_of(p.po_line)))
        else:
            out.append(LineMatch(i, "unmatched", po=po))
    return out


def _no_key(line: int) -> None:
    return None


def header_po(po_number: str | None, buyer_reference: str | None, known: Container[str]) -> str | None:
    """The invoice's PO: its order reference (BT-13); without one, its buyer reference (BT-10)
    when that names a known PO (BT-10 is often a routing id such as a Leitweg-ID, not a PO)."""
    if po_number:
        return po_number
    if buyer_reference and buyer_reference in known:
        return buyer_reference
    return None


def line_order(
    reference: str | None, header: str | None, known: Container[str]
) -> tuple[str | None, str | None]:
    """``(PO, PO line)`` an invoice line's ``order_reference`` names (``PO/LINE``, ``PO``, or
    ``LINE`` of the header PO); ``(header, None)`` when the line names nothing. A bare reference
    is a PO when it is a known PO or there is no header PO, else a line of the header PO."""
    if not reference:
        return header, None
    if reference in known:
        return reference, None
    po, sep, line = reference.rpartition("/")
    if sep and po:
        return po, line or None
    if header is None:
        return reference, None
    return header, reference


def line_orders(
    references: Sequence[str | None], header: str | None, known: Container[str]
) -> list[tuple[str | None, str | None]]:
    """:func:`line_order` for every line of an invoice."""
    if not any(references):
        return [(header, None)] * len(references)
    return [line_order(ref, header, known) for ref in references]


def billed_per_po_line(
    matches: Iterable[LineMatch], quantities: Sequence[Decimal | None]
) -> dict[tuple[str, int], Decimal]:
    """Quantity billed per (PO, line) by one invoice."""
    out: dict[tuple[str, int], Decimal] = {}
    for m in matches:
        if m.kind == "goods" and m.po_line is not None:
            qty = quantities[m.index] or Decimal(0)
            k = (m.po_line.po_number, m.po_line.po_line)
            out[k] = out.get(k, Decimal(0)) + qty
    return out


__all__ += [
    "billed_per_po_line",
    "charge_code_of",
    "header_po",
    "line_order",
    "line_orders",
    "match_indexed",
]
