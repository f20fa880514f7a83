"""PDF invoices: the text layer (PDFium) and embedded e-invoice XML (Factur-X, ZUGFeRD, XRechnung).

``extract_invoice(path)`` is the one entry point the bot and ``backoffice extract invoice`` use:

- a PDF that embeds a CII/UBL invoice is read from the XML (authoritative, ``source="xml"``) and its
  text layer is cross-checked: every key XML value (number, date, totals, IBAN) must be printed on
  the page (in PDFium's own reading of the pages, one call a page, and, for a value not found
  there, in the laid-out text); each one that is not becomes an error record
  ``{code: "INV-XML-TEXT", field, ...}``;
- otherwise the text layer is parsed with the matching vendor template or the generic reader
  (``source="text"``);
- empty, truncated/corrupt, encrypted and image-only (no text layer, no XML) PDFs raise
  ``InputError`` naming the file (and page where it applies). Nothing here ever lets a
  pdfminer/PDFium/pdfplumber exception escape.

Text and character boxes are read with pypdfium2 (about 12x faster than pdfplumber) and laid out
as pdfplumber's ``extract_text()`` lays them out (see ``_page_text``), in one PDFium pass per
document that also reads the embedded files (PDFium's attachment API) and finds the image-only
pages; pdfminer reads embedded files only when PDFium finds none and the file shows an /AF or
/EmbeddedFile marker (a file listed only in the catalog's /AF array), and pdfplumber still renders
evidence pages. ``extract_invoices(paths)`` reads a batch in one bounded worker. Reading text
and embedded files never decodes a page image; rendering (evidence pages, field regions, OCR)
does, at the image's native size, and refuses a page whose images would decode past
``pdf_max_inflated_mb`` (InputError naming file and page).
"""

from __future__ import annotations

import array
import ctypes
import io
import itertools
import logging
import operator
import re
import struct
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import PDFObjRef, resolve1

from backoffice.errors import InputError
from backoffice.money import q2
from backoffice.settings import get_settings
from connectors.einvoice import HEADER_FIELDS as _HEADER_FIELDS
from connectors.einvoice import ExtractedInvoice, parse_xml, pick_invoice_attachment
from connectors.invoice_templates import Template, load_templates, parse_text
from connectors.invoice_templates.generic import CURRENCY_SYMBOLS, MONTHS
from connectors.ocr import OcrPage, crop_png, ocr_pages, render_page, union_box, words_in
from connectors.pdf_sandbox import Limits, bounded, bounded_map, current_limits, limits_from_settings

__all__ = [
    "LOW_CONFIDENCE_CODE",
    "MAX_PDF_BYTES",
    "OcrOptions",
    "PdfText",
    "attachments",
    "cross_check",
    "extract_invoice",
    "extract_invoices",
    "field_region",
    "is_printed",
    "read_text",
    "region_name",
    "render_pages",
]

MAX_PDF_BYTES = 50 * 1024 * 1024
MAX_PAGES = 200
XML_TEXT_CODE = "INV-XML-TEXT"
LOW_CONFIDENCE_CODE = "INV-LOW-CONFIDENCE"
NEEDS_OCR = "PDF-NEEDS-OCR"  # the worker's signal that the document must be read again with OCR
CROSS_CHECKED = ("invoice_number", "issue_date", "gross_total", "amount_due", "tax_total", "iban")

EVIDENCE_DPI = 100
EVIDENCE_MAX_PAGES = 5
_PDFIUM_LOCK = threading.Lock()  # PDFium (our text reader, pdfplumber's renderer) is not thread-safe

for _noisy in ("pdfminer", "pdfplumber"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


@dataclass
class PdfText:
    """A PDF's text, page by page (1-based page i is ``pages[i-1]``), its attachments and
    which of its pages without text show an image (1-based; the pages OCR would read)."""

    file: str
    pages: list[str]
    attachments: list[tuple[str, bytes]]
    image_pages: list[int] = field(default_factory=list)  # text-less pages that show an image
    laid_out: bool = True  # False: ``pages`` are PDFium's own reading (``_read_text(plain_for_xml=)``)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    @property
    def has_text(self) -> bool:
        return any(p.strip() for p in self.pages)


def _check_file(path: Path) -> bytes:
    name = str(path)
    if not path.exists():
        raise InputError("file not found", file=name)
    if not path.is_file():
        raise InputError("not a file", file=name)
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file (0 bytes), not a PDF", file=name)
    if size > MAX_PDF_BYTES:
        raise InputError(f"file too large ({size} bytes; limit {MAX_PDF_BYTES})", file=name)
    data = path.read_bytes()
    if b"%PDF-" not in data[:1024]:
        raise InputError("not a PDF (no %PDF- header)", file=name)
    return data


def _name_of(filespec: dict[str, Any]) -> str:
    for key in ("UF", "F"):
        raw = resolve1(filespec.get(key))
        if isinstance(raw, bytes):
            if raw.startswith(b"\xfe\xff"):
                return raw[2:].decode("utf-16-be", "replace")
            return raw.decode("latin-1")
        if isinstance(raw, str):
            return raw
    return ""


def _filespec_data(filespec: Any) -> tuple[str, bytes] | None:
    spec = resolve1(filespec)
    if not isinstance(spec, dict):
        return None
    ef = resolve1(spec.get("EF"))
    if not isinstance(ef, dict):
        return None
    stream = resolve1(ef.get("F") or ef.get("UF"))
    if stream is None or not hasattr(stream, "get_data"):
        return None
    return _name_of(spec), stream.get_data()


def attachments(doc: PDFDocument) -> list[tuple[str, bytes]]:
    """Embedded files (name, bytes) from the EmbeddedFiles name tree and the catalog's /AF array."""
    found: dict[str, bytes] = {}
    catalog = resolve1(doc.catalog)
    seen: set[int] = set()

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 32:
            return
        if isinstance(node, PDFObjRef):
            if node.objid in seen:
                return
            seen.add(node.objid)
        node = resolve1(node)
        if not isinstance(node, dict):
            return
        names = resolve1(node.get("Names"))
        if isinstance(names, list):
            for i in range(1, len(names), 2):
                got = _filespec_data(names[i])
                if got:
                    found.setdefault(got[0], got[1])
        for kid in resolve1(node.get("Kids")) or []:
            walk(kid, depth + 1)

    names_dict = resolve1(catalog.get("Names")) if isinstance(catalog, dict) else None
    if isinstance(names_dict, dict):
        walk(names_dict.get("EmbeddedFiles"))
    for spec in (resolve1(catalog.get("AF")) or []) if isinstance(catalog, dict) else []:
        got = _filespec_data(spec)
        if got:
            found.setdefault(got[0], got[1])
    return list(found.items())


# ------------------------------------------------------------------ text layer (PDFium chars)
#
# The text of a page is built from PDFium's characters exactly as pdfplumber's
# ``page.extract_text()`` (its defaults: x/y tolerance 3, no layout) builds it from pdfminer's,
# so that templates written against that text keep matching. pdfminer's character box runs from
# ``baseline + descent * size`` to ``baseline + (descent + 1) * size``; PDFium's loose box from
# ``baseline + descent * size`` to ``baseline + ascent * size`` (font units / 1000), so the bottom
# is the same and the top is ``bottom + height / (ascent - descent)``. PDFium drops text objects
# without ink (a space drawn on its own) that pdfminer keeps as a space character: those are put
# back as word breaks. Its own generated spaces and line breaks are ignored.

_TOLERANCE = 3.0
_LIGATURES = {"ﬀ": "ff", "ﬃ": "ffi", "ﬄ": "ffl", "ﬁ": "fi", "ﬂ": "fl", "ﬆ": "st", "ﬅ": "st"}
_GENERATED_BREAKS = (32, 10, 13)
_VP = ctypes.c_void_p


def _typed(fn: Any, restype: Any, *argtypes: Any) -> Any:
    """The same PDFium function, called with plain pointers (no per-call pointer-type checks)."""
    return ctypes.CFUNCTYPE(restype, *argtypes)(ctypes.cast(fn, _VP).value or 0)


def _untyped(fn: Any, restype: Any) -> Any:
    """The same PDFium function without declared argument types, for the calls made once a
    character: ctypes then converts nothing through ``from_param`` (about 40 % less a call). Every
    pointer argument must be passed as a ctypes object (``c_void_p``, an array), every int fits
    a C int."""
    return ctypes.CFUNCTYPE(restype)(ctypes.cast(fn, _VP).value or 0)


_I, _U = ctypes.c_int, ctypes.c_uint
_count_chars = _typed(pdfium_c.FPDFText_CountChars, _I, _VP)
_get_text = _typed(pdfium_c.FPDFText_GetText, _I, _VP, _I, _I, _VP)
_get_unicode = _typed(pdfium_c.FPDFText_GetUnicode, _U, _VP, _I)
_is_generated = _untyped(pdfium_c.FPDFText_IsGenerated, _I)  # (text page, index)
# (text page, index): the handle as an int, 0 for none (c_size_t: no None to map)
_text_object = _untyped(pdfium_c.FPDFText_GetTextObject, ctypes.c_size_t)
_loose_box = _untyped(pdfium_c.FPDFText_GetLooseCharBox, _I)  # (text page, index, FS_RECTF*)
_char_matrix = _typed(pdfium_c.FPDFText_GetMatrix, _I, _VP, _I, _VP)
_obj_font = _typed(pdfium_c.FPDFTextObj_GetFont, _VP, _VP)
_font_ascent = _typed(pdfium_c.FPDFFont_GetAscent, _I, _VP, ctypes.c_float, _VP)
_font_descent = _typed(pdfium_c.FPDFFont_GetDescent, _I, _VP, ctypes.c_float, _VP)
_font_size = _typed(pdfium_c.FPDFTextObj_GetFontSize, _I, _VP, _VP)
_count_objects = _typed(pdfium_c.FPDFPage_CountObjects, _I, _VP)


class _Ptr(ctypes.c_void_p):
    """A returned pointer kept as a ctypes object (a ``c_void_p`` subclass is not converted to
    int), so that it can be passed to the untyped calls as it is."""


# once a page object: untyped, the object handle passed back as returned
_get_object = _untyped(pdfium_c.FPDFPage_GetObject, _Ptr)  # (page, index)
_object_type = _untyped(pdfium_c.FPDFPageObj_GetType, _I)  # (object)
_object_bounds = _untyped(pdfium_c.FPDFPageObj_GetBounds, _I)  # (object, 4 float pointers)
_object_matrix = _typed(pdfium_c.FPDFPageObj_GetMatrix, _I, _VP, _VP)
# FS_RECTF is (left, top, right, bottom), FS_MATRIX (a, b, c, d, e, f): read in one unpack each
_RECT = struct.Struct("4f").unpack_from
_MATRIX = struct.Struct("6f").unpack_from
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"  # FPDF_WCHAR, native order
_NOT_TEXT = 0xFFFE  # what FPDFText_GetText writes for a control character: asked one by one

# a character: (text, x0, top, x1, bottom, upright), top/bottom measured down from the page top
_Char = tuple[str, float, float, float, float, bool]


def _font_span(obj: int, cache: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """(ascent, descent) of a text object's font, in units of the font size (cached per font)."""
    font = _obj_font(obj) or 0
    got = cache.get(font)
    if got is None:
        got = (0.0, 0.0)
        if font:
            asc, desc = (ctypes.c_float * 1)(), (ctypes.c_float * 1)()
            if _font_ascent(font, 1000.0, ctypes.addressof(asc)) and _font_descent(
                font, 1000.0, ctypes.addressof(desc)
            ):
                got = (asc[0] / 1000, desc[0] / 1000)
        cache[font] = got
    return got


def _inkless_spaces(page: int, height: float, cache: dict[int, tuple[float, float]]) -> list[_Char]:
    """Text objects PDFium leaves out of its text page because they draw nothing (spaces)."""
    out: list[_Char] = []
    bounds = (ctypes.c_float * 4)()
    left = ctypes.addressof(bounds)
    matrix = (ctypes.c_float * 6)()
    size = (ctypes.c_float * 1)()
    text = pdfium_c.FPDF_PAGEOBJ_TEXT
    page_arg = _VP(page)
    corners = (_VP(left), _VP(left + 4), _VP(left + 8), _VP(left + 12))
    get_object, object_type, object_bounds = _get_object, _object_type, _object_bounds
    for i in range(_count_objects(page)):
        handle = get_object(page_arg, i)
        if object_type(handle) != text:
            continue
        # FPDFPageObj_GetBounds(obj, &left, &bottom, &right, &top)
        if not object_bounds(handle, *corners):
            continue
        if abs(bounds[2] - bounds[0]) >= 1e-4:
            continue
        obj = handle.value or 0
        _object_matrix(obj, ctypes.addressof(matrix))
        _font_size(obj, ctypes.addressof(size))
        _, _, _, d, e, f = _MATRIX(matrix)
        em = size[0] * d
        _, desc = _font_span(obj, cache)
        base = f + em * desc
        out.append((" ", e, height - (base + em), e, height - base, True))
    return out


def _char_codes(tp: int, count: int) -> Sequence[int]:
    """The UTF-16 code of each character index, in one call (FPDFText_GetText writes one unit
    per character, a control character as U+FFFE: those are asked one by one)."""
    buf = (ctypes.c_ushort * (count + 1))()
    if _get_text(tp, 0, count, ctypes.addressof(buf)) != count + 1:
        return [_get_unicode(tp, i) for i in range(count)]
    codes = buf[:count]
    if _NOT_TEXT in codes:
        codes = [c if c != _NOT_TEXT else _get_unicode(tp, i) for i, c in enumerate(codes)]
    return codes


def _page_chars(page: Any, textpage: Any, height: float) -> list[_Char]:
    """The page's characters in PDFium's order, with pdfminer-equivalent boxes. Each character
    costs two PDFium calls (its text object, its box); its code comes with the page's text, the
    font span and orientation once per text object."""
    tp = ctypes.cast(textpage, _VP).value or 0
    tp_arg = _VP(tp)  # for the untyped calls
    rect = (ctypes.c_float * 4)()
    matrix = (ctypes.c_float * 6)()
    fonts: dict[int, tuple[float, float]] = {}
    objects: dict[int, tuple[float, bool]] = {}
    chars: list[_Char] = []
    append = chars.append
    text_object, loose_box, unpack, breaks, to_char = _text_object, _loose_box, _RECT, _GENERATED_BREAKS, chr
    last_obj = -1
    span, upright = 0.0, True
    for i, code in enumerate(_char_codes(tp, _count_chars(tp))):
        if code in breaks and _is_generated(tp_arg, i):
            continue
        if 0xDC00 <= code < 0xE000 and chars and 0xD800 <= ord(chars[-1][0][-1]) < 0xDC00:
            high = ord(chars[-1][0][-1])
            chars[-1] = (chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)), *chars[-1][1:])
            continue
        obj = text_object(tp_arg, i)
        if obj != last_obj:
            last_obj = obj
            per_obj = objects.get(obj)
            if per_obj is None:
                _char_matrix(tp, i, ctypes.addressof(matrix))
                a, b, c, d, _, _ = _MATRIX(matrix)
                asc, desc = _font_span(obj, fonts) if obj else (0.0, 0.0)
                per_obj = (asc - desc, a * d > 0 and b * c <= 0)
                objects[obj] = per_obj
            span, upright = per_obj
        loose_box(tp_arg, i, rect)
        left, top, right, bottom = unpack(rect)
        t = bottom + (top - bottom) / span if span > 0 else top
        append((to_char(code), left, height - t, right, height - bottom, upright))
    return chars + _inkless_spaces(ctypes.cast(page, _VP).value or 0, height, fonts)


def _clusters(values: Iterable[float]) -> dict[float, int]:
    """pdfplumber's cluster_list: sorted distinct values, a new cluster after a gap > tolerance."""
    out: dict[float, int] = {}
    group = -1
    last = float("-inf")
    for v in sorted(set(values)):
        if v > last + _TOLERANCE:
            group += 1
        out[v] = group
        last = v
    return out


def _words(line: list[_Char], upright: bool, out: list[tuple[float, str]]) -> None:
    """Append (top, text) of each word of one line (chars sorted along the line) to ``out``, as
    pdfplumber splits them: at a space, a step back, a gap over the tolerance, or a jump across
    the line. A word's top is its characters' smallest; ligatures are expanded by the caller."""
    word: list[str] = []
    word_top = prev_start = prev_end = prev_across = 0.0
    tolerance = _TOLERANCE
    emit = out.append
    # (start, end, across) are (x0, x1, top) upright, (top, bottom, x0) rotated
    s_at: Literal[1, 2]
    e_at: Literal[3, 4]
    a_at: Literal[1, 2]
    s_at, e_at, a_at = (1, 3, 2) if upright else (2, 4, 1)
    for c in line:
        text = c[0]
        if text.isspace():
            if word:
                emit((word_top, "".join(word)))
                word = []
            continue
        start, across = c[s_at], c[a_at]
        if word:
            if start < prev_start or start > prev_end + tolerance or abs(across - prev_across) > tolerance:
                emit((word_top, "".join(word)))
                word = [text]
                word_top = c[2]
            else:
                word.append(text)
                if c[2] < word_top:
                    word_top = c[2]
        else:
            word = [text]
            word_top = c[2]
        prev_start, prev_end, prev_across = start, c[e_at], across
    if word:
        emit((word_top, "".join(word)))


_LIGATURE_TABLE = str.maketrans(_LIGATURES)
_UPRIGHT = operator.itemgetter(5)
_ALONG_UPRIGHT = operator.itemgetter(1)
_ALONG_ROTATED = operator.itemgetter(2, 4)


def _page_text(chars: list[_Char]) -> str:
    """pdfplumber ``extract_text()`` of these characters (no layout, tolerances 3)."""
    words: list[tuple[float, str]] = []
    for upright, run in itertools.groupby(chars, key=_UPRIGHT):
        group = list(run)
        # lines by top (upright) or by x0 (rotated text), then along the line by x0 / (top,
        # bottom): the characters dealt into their line's bucket in order, each bucket sorted
        # along the line (the same order as one stable sort by (line, position))
        at: Literal[1, 2] = 2 if upright else 1
        along = _ALONG_UPRIGHT if upright else _ALONG_ROTATED
        cluster = _clusters([c[at] for c in group])
        lines: list[list[_Char]] = [[] for _ in range(max(cluster.values()) + 1)]
        for c in group:
            lines[cluster[c[at]]].append(c)
        for line in lines:
            if line:
                line.sort(key=along)
                _words(line, upright, words)
    cluster = _clusters([w[0] for w in words])
    out: list[str] = []
    current = -1
    for top, text in words:
        group_of = cluster[top]
        if group_of != current:
            if current >= 0:
                out.append("\n")
            current = group_of
        elif out:
            out.append(" ")
        out.append(text)
    return "".join(out).translate(_LIGATURE_TABLE)


def _open_pdfium(data: bytes, name: str) -> Any:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text or "security" in text:
            raise InputError(f"PDF is encrypted (password protected): {exc}", file=name) from None
        raise InputError(f"corrupt PDF: {exc}", file=name) from None


def _check_page_images(pdf: Any, number: int, name: str) -> None:
    """Refuse to render 1-based page ``number`` of an open PDFium document when its images
    (form XObjects' included) would decode to more than ``pdf_max_inflated_mb``: rendering
    decodes every image at its native size, counted here at 4 bytes a pixel (reading text never
    decodes one; the inflation pre-scan holds each to its declared size). InputError naming the
    file and page."""
    limit = current_limits().inflated_mb * 1024 * 1024
    page = pdf[number - 1]
    try:
        total = 0
        for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
            try:
                width, height = image.get_px_size()
            except pdfium.PdfiumError:
                continue
            total += width * height * 4
    finally:
        page.close()
    if total > limit:
        raise InputError(
            f"page not rendered: its images decode to {total / (1024 * 1024):.0f} MiB "
            f"(limit {limit // (1024 * 1024)} MiB, setting pdf_max_inflated_mb)",
            file=name,
            page=number,
        )


def _embedded_files(pdf: Any, name: str, limit: int) -> list[tuple[str, bytes]]:
    """Embedded files (name, bytes) of the EmbeddedFiles name tree, as PDFium reads them (the
    first of a name wins). An embedded file that inflates to more than ``limit`` bytes refuses
    the document (InputError naming the file and the attachment)."""
    found: dict[str, bytes] = {}
    size = ctypes.c_ulong()
    for i in range(pdfium_c.FPDFDoc_GetAttachmentCount(pdf.raw)):
        att = pdfium_c.FPDFDoc_GetAttachment(pdf.raw, i)
        if not att:
            continue
        length = pdfium_c.FPDFAttachment_GetName(att, None, 0)  # bytes, UTF-16LE with its NUL
        raw_name = ctypes.create_string_buffer(length)
        pdfium_c.FPDFAttachment_GetName(
            att, ctypes.cast(raw_name, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), length
        )
        file_name = raw_name.raw[: max(length - 2, 0)].decode("utf-16-le", "replace")
        if not pdfium_c.FPDFAttachment_GetFile(att, None, 0, ctypes.byref(size)):
            continue  # a file specification without an embedded stream
        if size.value > limit:
            raise InputError(
                f"PDF refused: its embedded file {file_name!r} inflates beyond {limit // (1024 * 1024)} MiB",
                file=name,
            )
        buf = ctypes.create_string_buffer(size.value)
        if not pdfium_c.FPDFAttachment_GetFile(att, buf, size.value, ctypes.byref(size)):
            continue
        found.setdefault(file_name, buf.raw[: size.value])
    return list(found.items())


# An embedded file only the catalog's /AF array names (not the EmbeddedFiles name tree, which is
# all PDFium reads): its stream dictionary says /Type /EmbeddedFile (streams are never inside
# object streams, so the marker is in the raw bytes), or the /AF key is.
_AF_ONLY = re.compile(rb"/EmbeddedFile|/AF\b")


def _pdfminer_attachments(data: bytes, name: str) -> list[tuple[str, bytes]]:
    """:func:`attachments` (pdfminer, also reading the catalog's /AF array), its failures as
    InputError naming the file."""
    try:
        return attachments(PDFDocument(PDFParser(io.BytesIO(data))))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise InputError(
            f"PDF is encrypted (password protected): {exc or 'no password'}", file=name
        ) from None
    except PDFSyntaxError as exc:
        raise InputError(f"corrupt PDF: {exc}", file=name) from None
    except Exception as exc:  # pdfminer raises many ad-hoc types on damaged files
        raise InputError(f"corrupt PDF: {type(exc).__name__}: {exc}", file=name) from None


def _plain_text(tp: int) -> str:
    """PDFium's own reading of a text page (``FPDFText_GetText``: its generated spaces and line
    breaks included, no layout), ligatures expanded: one call a page."""
    codes = _char_codes(tp, _count_chars(tp))
    return array.array("H", codes).tobytes().decode(_UTF16, "replace").translate(_LIGATURE_TABLE)


def _read_document(data: bytes, name: str, *, plain_for_xml: bool = False) -> PdfText:
    """One PDFium pass over the document: every page's text (each page loaded and its
    characters read once), which text-less pages show an image, and the embedded files.
    InputError for unreadable documents and pages.

    ``plain_for_xml``: when the embedded files hold an e-invoice XML, the pages' text is
    PDFium's own reading (:func:`_plain_text`; ``PdfText.laid_out`` False), which is all the
    cross-check of the XML needs first: no character boxes, no layout, no image scan."""
    pdf = _open_pdfium(data, name)
    try:
        count = len(pdf)
        if count == 0:
            raise InputError("PDF has no pages", file=name)
        if count > MAX_PAGES:
            raise InputError(f"PDF has {count} pages (limit {MAX_PAGES})", file=name)
        files = _embedded_files(pdf, name, current_limits().inflated_mb * 1024 * 1024)
        plain = plain_for_xml and pick_invoice_attachment(files) is not None
        pages: list[str] = []
        images: list[int] = []
        for number in range(1, count + 1):
            try:
                page = pdf[number - 1]
                try:
                    textpage = page.get_textpage()
                    try:
                        if plain:
                            text = _plain_text(ctypes.cast(textpage.raw, _VP).value or 0)
                        else:
                            text = _page_text(_page_chars(page.raw, textpage.raw, page.get_height()))
                    finally:
                        textpage.close()
                    if (
                        not plain
                        and not text.strip()
                        and next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4), None)
                    ):
                        images.append(number)
                finally:
                    page.close()
                pages.append(text)
            except Exception as exc:
                raise InputError(
                    f"cannot read page text: {type(exc).__name__}: {exc}", file=name, page=number
                ) from None
    finally:
        pdf.close()
    return PdfText(file=name, pages=pages, attachments=files, image_pages=images, laid_out=not plain)


def read_text(path: Path | str) -> PdfText:
    """Text of every page plus embedded files, read by PDFium in one pass (pdfminer only when
    PDFium finds no embedded file and the raw file shows one the catalog's /AF array may name).
    InputError for empty/corrupt/encrypted files."""
    return _read_text(path)


def _read_text(path: Path | str, *, plain_for_xml: bool = False) -> PdfText:
    path = Path(path)
    name = str(path)
    data = _check_file(path)
    with _PDFIUM_LOCK:
        pdf = _read_document(data, name, plain_for_xml=plain_for_xml)
    if not pdf.attachments and _AF_ONLY.search(data):
        pdf.attachments = _pdfminer_attachments(data, name)
    return pdf


def render_pages(
    path: Path | str, *, resolution: int = EVIDENCE_DPI, max_pages: int = EVIDENCE_MAX_PAGES
) -> list[bytes]:
    """:func:`_render_pages` in a worker bounded in time, memory and inflation
    (:mod:`connectors.pdf_sandbox`)."""
    return bounded(_render_pages, path, resolution=resolution, max_pages=max_pages)


def _render_pages(
    path: Path | str, *, resolution: int = EVIDENCE_DPI, max_pages: int = EVIDENCE_MAX_PAGES
) -> list[bytes]:
    """PNG images of the first ``max_pages`` pages (pdfplumber ``page.to_image``, i.e. PDFium),
    for the exception queue's evidence. InputError naming the file (and page) when the PDF cannot
    be rendered (empty, corrupt, encrypted...)."""
    path = Path(path)
    name = str(path)
    data = _check_file(path)
    out: list[bytes] = []
    with _PDFIUM_LOCK:
        try:
            doc = _open_pdfium(data, name)
            try:
                for number in range(1, min(len(doc), max_pages) + 1):
                    _check_page_images(doc, number, name)
            finally:
                doc.close()
            with pdfplumber.open(path) as pdf:
                for number, page in enumerate(pdf.pages[:max_pages], start=1):
                    try:
                        image = page.to_image(resolution=resolution)
                        buf = io.BytesIO()
                        image.save(buf, format="PNG")
                    except Exception as exc:
                        raise InputError(
                            f"cannot render page: {type(exc).__name__}: {exc}", file=name, page=number
                        ) from None
                    out.append(buf.getvalue())
        except InputError:
            raise
        except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
            raise InputError(f"PDF is encrypted (password protected): {exc}", file=name) from None
        except Exception as exc:
            raise InputError(f"cannot render PDF: {type(exc).__name__}: {exc}", file=name) from None
    if not out:
        raise InputError("PDF has no pages to render", file=name)
    return out


# ------------------------------------------------------------------------------- cross-check


def _amount_forms(value: Decimal) -> set[str]:
    v = q2(abs(value))
    plain = format(v, "f")
    whole, cents = plain.split(".")
    grouped = f"{int(whole):,}"
    forms = {
        f"{whole}.{cents}",
        f"{whole},{cents}",
        f"{grouped}.{cents}",
        f"{grouped.replace(',', '.')},{cents}",
        f"{grouped.replace(',', ' ')},{cents}",
        f"{grouped.replace(',', ' ')}.{cents}",
        f"{grouped.replace(',', chr(39))}.{cents}",
    }
    return forms


def _date_forms(d: date) -> set[str]:
    months = [m for m, n in MONTHS.items() if n == d.month]
    forms = {
        d.isoformat(),
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.day}.{d.month}.{d.year}",
        f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
        f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
        f"{d.day}-{d.month}-{d.year}",
        f"{d.day:02d}-{d.month:02d}-{d.year}",
    }
    for m in months:
        forms |= {f"{d.day}. {m} {d.year}", f"{d.day} {m} {d.year}", f"{d.day:02d} {m} {d.year}"}
        forms |= {f"{m} {d.day}, {d.year}", f"{m} {d.day} , {d.year}", f"{d.day}. {m}. {d.year}"}
    return {f.lower() for f in forms}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def is_printed(name: str, value: Any, text: str) -> bool:
    """True when ``value`` (an amount, a date, an IBAN or text) is written somewhere in ``text``
    in one of the usual forms (``1.234,56`` / ``1,234.56``, ``31.12.2024`` / ``Dec 31, 2024``...)."""
    page = _squash(text)
    if isinstance(value, Decimal):
        return any(form in page for form in _amount_forms(value))
    if isinstance(value, date):
        return any(form in page for form in _date_forms(value))
    compact = re.sub(r"\s+", "", text).upper()
    if name == "currency":
        symbols = [s for s, code in CURRENCY_SYMBOLS.items() if code == str(value).upper()]
        return str(value).upper() in compact or any(s in text for s in symbols)
    if name == "iban":
        return str(value).replace(" ", "").upper() in compact
    return _squash(str(value)) in page or re.sub(r"\s+", "", str(value)).upper() in compact


def _cross_check_read(xml_inv: ExtractedInvoice, pdf: PdfText, path: Path | str) -> list[dict[str, Any]]:
    """:func:`cross_check` against the text ``pdf`` holds; when that is PDFium's own reading (not
    laid out) and a value is not found in it, the page is laid out as ``read_text`` lays it out
    and the value looked for there too: a value is printed when either reading shows it."""
    errors = cross_check(xml_inv, pdf.text)
    if not errors or pdf.laid_out:
        return errors
    missing = {e["field"] for e in errors}
    return [e for e in cross_check(xml_inv, read_text(path).text) if e["field"] in missing]


def cross_check(xml_inv: ExtractedInvoice, text: str) -> list[dict[str, Any]]:
    """Error records for key XML values that the visible text layer does not show."""
    errors: list[dict[str, Any]] = []
    for name in CROSS_CHECKED:
        value = getattr(xml_inv, name)
        if value is None or is_printed(name, value, text):
            continue
        shown = format(value, "f") if isinstance(value, Decimal) else str(value)
        if isinstance(value, date):
            shown = value.isoformat()
        errors.append(
            {
                "code": XML_TEXT_CODE,
                "message": f"{name} {shown} from the embedded XML is not printed on the PDF",
                "field": name,
                "expected": shown,
                "actual": None,
                "severity": "error",
            }
        )
    return errors


@dataclass(frozen=True)
class OcrOptions:
    """How image-only pages are OCRed (from ``backoffice.settings``, read in the parent)."""

    dpi: int = 300
    languages: str = "eng+deu+fra+nld"
    seconds: float = 180.0
    max_pages: int = 10
    min_confidence: float = 0.8

    @classmethod
    def from_settings(cls) -> OcrOptions:
        s = get_settings()
        return cls(s.ocr_dpi, s.ocr_languages, s.ocr_timeout_seconds, s.ocr_max_pages, s.ocr_min_confidence)


def extract_invoice(
    path: Path | str,
    *,
    templates: Iterable[Template] | None = None,
    use_xml: bool = True,
) -> ExtractedInvoice:
    """Read one invoice PDF. ``use_xml=False`` forces the text path (for measuring it).

    The document is read in a worker bounded in time, memory and inflated bytes
    (:mod:`connectors.pdf_sandbox`); crossing a limit is an InputError naming the file. A PDF
    with image-only pages (a scan) is read a second time with OCR, in a worker whose time limit is
    ``ocr_timeout_seconds`` (OCR takes seconds a page; the text-only read keeps its tight bound)."""
    chosen = list(templates) if templates is not None else None
    try:
        return bounded(_extract_invoice, path, templates=chosen, use_xml=use_xml)
    except InputError as exc:
        if exc.code != NEEDS_OCR:
            raise
    return _extract_with_ocr(path, chosen, use_xml)


def extract_invoices(
    paths: Sequence[Path | str],
    *,
    templates: Iterable[Template] | None = None,
    use_xml: bool = True,
) -> list[ExtractedInvoice | InputError]:
    """:func:`extract_invoice` of each of ``paths``, in order: the invoice, or the InputError
    that refused that file. The text reads go to the bounded worker as one batch (every limit
    still per document; :func:`connectors.pdf_sandbox.bounded_map`), so a directory of invoices
    pays no round trip per document; a scan is then read again with OCR on its own."""
    chosen = list(templates) if templates is not None else None
    results = bounded_map(_extract_invoice, paths, templates=chosen, use_xml=use_xml)
    for i, result in enumerate(results):
        if isinstance(result, InputError) and result.code == NEEDS_OCR:
            try:
                results[i] = _extract_with_ocr(paths[i], chosen, use_xml)
            except InputError as exc:
                results[i] = exc
    return results


def _extract_with_ocr(path: Path | str, chosen: list[Template] | None, use_xml: bool) -> ExtractedInvoice:
    ocr = OcrOptions.from_settings()
    text_limits = limits_from_settings()
    limits = Limits(
        seconds=max(ocr.seconds, text_limits.seconds),
        memory_mb=text_limits.memory_mb,
        inflated_mb=text_limits.inflated_mb,
    )
    return bounded(_extract_invoice, path, templates=chosen, use_xml=use_xml, ocr=ocr, limits=limits)


def _extract_invoice(
    path: Path | str,
    *,
    templates: Iterable[Template] | None = None,
    use_xml: bool = True,
    ocr: OcrOptions | None = None,
) -> ExtractedInvoice:
    pdf = _read_text(path, plain_for_xml=use_xml)
    chosen = pick_invoice_attachment(pdf.attachments) if use_xml else None
    if chosen is not None:
        inv = parse_xml(chosen[1], file=pdf.file)
        if pdf.has_text:
            inv.errors.extend(_cross_check_read(inv, pdf, path))
        else:
            inv.errors.append(
                {
                    "code": XML_TEXT_CODE,
                    "message": "PDF has no text layer to cross-check the embedded XML against",
                    "field": None,
                    "expected": None,
                    "actual": None,
                    "severity": "warning",
                }
            )
    else:
        images = pdf.image_pages
        if images and ocr is None:
            raise InputError(
                f"{len(images)} page(s) are images: to be read with OCR",
                file=pdf.file,
                page=images[0],
                code=NEEDS_OCR,
            )
        if not pdf.has_text and not images:
            raise InputError(
                "PDF has no text layer and no page image (blank pages?) and no embedded e-invoice",
                file=pdf.file,
                page=1,
            )
        read: dict[int, OcrPage] = {}
        if images and ocr is not None:
            read = _ocr(Path(path), images, ocr, pdf.file)
            for number, page in read.items():
                pdf.pages[number - 1] = page.text
            if not pdf.has_text:
                raise InputError(
                    "PDF has no text layer and OCR found no text on its page image(s)",
                    file=pdf.file,
                    page=images[0],
                )
        inv = parse_text(pdf.pages, list(templates) if templates is not None else load_templates())
        inv.source = "text"
        if read and ocr is not None:
            inv.source = "ocr"
            _ocr_confidence(inv, pdf.pages, read, ocr.min_confidence)
    inv.file = pdf.file
    inv.pages = len(pdf.pages)
    return inv


# ------------------------------------------------------------------------------------- OCR


def _ocr(path: Path, numbers: list[int], ocr: OcrOptions, name: str) -> dict[int, OcrPage]:
    if len(numbers) > ocr.max_pages:
        raise InputError(
            f"{len(numbers)} image-only pages to OCR (limit {ocr.max_pages}, setting ocr_max_pages)",
            file=name,
            page=numbers[ocr.max_pages],
        )
    deadline = time.monotonic() + ocr.seconds - 2.0
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(path.read_bytes())
        try:
            for number in numbers:
                _check_page_images(doc, number, name)
            return ocr_pages(doc, numbers, dpi=ocr.dpi, languages=ocr.languages, deadline=deadline)
        except InputError as exc:
            raise InputError(exc.message, file=name, page=exc.page, code=exc.code) from None
        finally:
            doc.close()


def _candidates(name: str, value: Any) -> list[re.Pattern[str]]:
    """Patterns that find ``value`` as printed (the forms :func:`is_printed` knows)."""
    if isinstance(value, Decimal):
        forms = sorted(_amount_forms(value), key=len, reverse=True)
        return [re.compile(r"(?<![\d.,])" + re.escape(f) + r"(?![\d])") for f in forms]
    if isinstance(value, date):
        return [
            re.compile(re.escape(f), re.IGNORECASE) for f in sorted(_date_forms(value), key=len, reverse=True)
        ]
    text = str(value).strip()
    out = []
    if name == "currency":
        out = [re.escape(sym) for sym, code in CURRENCY_SYMBOLS.items() if code == text.upper()]
    chars = [re.escape(c) for c in text if not c.isspace()]
    if chars:
        out.insert(0, r"\s?".join(chars))
    return [re.compile(p, re.IGNORECASE) for p in out]


def _locate(name: str, value: Any, text: str) -> tuple[int, int] | None:
    """Where ``value`` is printed in ``text``: amounts at their last occurrence (totals close the
    document), anything else at its first."""
    for pattern in _candidates(name, value):
        found = list(pattern.finditer(text))
        if found:
            m = found[-1] if isinstance(value, Decimal) else found[0]
            return m.start(), m.end()
    return None


def _ocr_confidence(
    inv: ExtractedInvoice, pages: list[str], read: dict[int, OcrPage], threshold: float
) -> None:
    """Each header field read from an OCRed page: its confidence becomes min(reader, OCR words),
    and below ``threshold`` an ``INV-LOW-CONFIDENCE`` error record names the field, its page and
    its region (PDF points, top-left origin), so a person checks exactly that field."""
    text = "\n".join(pages)
    starts: list[int] = []
    pos = 0
    for page_text in pages:
        starts.append(pos)
        pos += len(page_text) + 1
    reader_spans = bool(inv.spans)
    for name in _HEADER_FIELDS:
        value = getattr(inv, name)
        if value is None:
            continue
        # a reader that gives spans gives one for every value it read from the page (the rest are
        # template constants or derived: not OCR's); one that gives none is located by value
        span = inv.spans.get(name) if reader_spans else _locate(name, value, text)
        if span is None:
            continue
        number = next(i for i in range(len(pages), 0, -1) if starts[i - 1] <= span[0])
        page = read.get(number)
        if page is None:
            continue
        offset = starts[number - 1]
        words = words_in(page, span[0] - offset, span[1] - offset)
        if not words:
            continue
        inv.spans.setdefault(name, span)
        conf = min(inv.confidence.get(name, 1.0), min(w.conf for w in words))
        inv.confidence[name] = conf
        if conf >= threshold:
            continue
        box = union_box(words)
        shown = format(value, "f") if isinstance(value, Decimal) else str(value)
        if isinstance(value, date):
            shown = value.isoformat()
        inv.errors.append(
            {
                "code": LOW_CONFIDENCE_CODE,
                "message": f"{name} was read by OCR with confidence {conf:.2f} (below {threshold:.2f}): "
                f"check it on page {number}",
                "field": name,
                "expected": None,
                "actual": shown,
                "severity": "error",
                "confidence": round(conf, 3),
                "page": number,
                "box": [round(v, 1) for v in box],
            }
        )


def region_name(file: str, page: int, field: str) -> str:
    """The evidence file name of a field's page region: ``<pdf stem>-page-<n>-<field>.png``."""
    return f"{Path(file).stem}-page-{page}-{field}.png"


def field_region(path: Path | str, page: int, box: Sequence[float], *, resolution: int = 200) -> bytes:
    """The region ``box`` (PDF points, top-left origin) of 1-based ``page`` as a PNG at
    ``resolution``, rendered in the bounded worker: the evidence of a low-confidence field."""
    return bounded(_field_region, path, page=page, box=tuple(box), resolution=resolution)


def _field_region(
    path: Path | str, *, page: int, box: tuple[float, float, float, float], resolution: int
) -> bytes:
    path = Path(path)
    name = str(path)
    data = _check_file(path)
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise InputError(f"corrupt PDF: {exc}", file=name) from None
        try:
            if not 1 <= page <= len(pdf):
                raise InputError(f"no page {page} (the PDF has {len(pdf)})", file=name, page=page)
            _check_page_images(pdf, page, name)
            handle = pdf[page - 1]
            try:
                image, used = render_page(handle, resolution)
            finally:
                handle.close()
        finally:
            pdf.close()
    return crop_png(image, box, used)
