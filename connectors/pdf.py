"""PDF invoices: the text layer (pdfplumber) and embedded e-invoice XML (Factur-X, ZUGFeRD, XRechnung).

``extract_invoice(path)`` is the one entry point the bot and ``backoffice extract invoice`` use:

- a PDF that embeds a CII/UBL invoice is read from the XML (authoritative, ``source="xml"``) and its
  text layer is cross-checked: every key XML value (number, date, totals, IBAN) must be printed on
  the page; each one that is not becomes an error record ``{code: "INV-XML-TEXT", field, ...}``;
- otherwise the text layer is parsed with the matching vendor template or the generic reader
  (``source="text"``);
- empty, truncated/corrupt, encrypted and image-only (no text layer, no XML) PDFs raise
  ``InputError`` naming the file (and page where it applies). Nothing here ever lets a
  pdfminer/pdfplumber exception escape.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFParser, PDFSyntaxError
from pdfminer.pdftypes import PDFObjRef, resolve1

from backoffice.errors import InputError
from backoffice.money import q2
from connectors.einvoice import ExtractedInvoice, parse_xml, pick_invoice_attachment
from connectors.invoice_templates import Template, load_templates, parse_text
from connectors.invoice_templates.generic import CURRENCY_SYMBOLS, MONTHS
from connectors.pdf_sandbox import bounded

__all__ = [
    "MAX_PDF_BYTES",
    "PdfText",
    "attachments",
    "cross_check",
    "extract_invoice",
    "is_printed",
    "read_text",
    "render_pages",
]

MAX_PDF_BYTES = 50 * 1024 * 1024
MAX_PAGES = 200
XML_TEXT_CODE = "INV-XML-TEXT"
CROSS_CHECKED = ("invoice_number", "issue_date", "gross_total", "amount_due", "tax_total", "iban")

EVIDENCE_DPI = 100
EVIDENCE_MAX_PAGES = 5
_PDFIUM_LOCK = threading.Lock()  # PDFium (pdfplumber's renderer) is not thread-safe

for _noisy in ("pdfminer", "pdfplumber"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


@dataclass
class PdfText:
    """A PDF's text, page by page (1-based page i is ``pages[i-1]``), and its attachments."""

    file: str
    pages: list[str]
    attachments: list[tuple[str, bytes]]

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


def read_text(path: Path | str) -> PdfText:
    """Text of every page plus embedded files. InputError for empty/corrupt/encrypted files."""
    path = Path(path)
    name = str(path)
    _check_file(path)
    try:
        with path.open("rb") as fh:
            doc = PDFDocument(PDFParser(fh))
            files = attachments(doc)
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise InputError(
            f"PDF is encrypted (password protected): {exc or 'no password'}", file=name
        ) from None
    except PDFSyntaxError as exc:
        raise InputError(f"corrupt PDF: {exc}", file=name) from None
    except InputError:
        raise
    except Exception as exc:  # pdfminer raises many ad-hoc types on damaged files
        raise InputError(f"corrupt PDF: {type(exc).__name__}: {exc}", file=name) from None
    pages: list[str] = []
    try:
        with pdfplumber.open(path) as pdf:
            if len(pdf.pages) == 0:
                raise InputError("PDF has no pages", file=name)
            if len(pdf.pages) > MAX_PAGES:
                raise InputError(f"PDF has {len(pdf.pages)} pages (limit {MAX_PAGES})", file=name)
            for number, page in enumerate(pdf.pages, start=1):
                try:
                    pages.append(page.extract_text() or "")
                except Exception as exc:
                    raise InputError(
                        f"cannot read page text: {type(exc).__name__}: {exc}", file=name, page=number
                    ) from None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"corrupt PDF: {type(exc).__name__}: {exc}", file=name) from None
    return PdfText(file=name, pages=pages, attachments=files)


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
    _check_file(path)
    out: list[bytes] = []
    with _PDFIUM_LOCK:
        try:
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


def extract_invoice(
    path: Path | str,
    *,
    templates: Iterable[Template] | None = None,
    use_xml: bool = True,
) -> ExtractedInvoice:
    """Read one invoice PDF. ``use_xml=False`` forces the text path (for measuring it).

    The document is read in a worker bounded in time, memory and inflated bytes
    (:mod:`connectors.pdf_sandbox`); crossing a limit is an InputError naming the file."""
    chosen = list(templates) if templates is not None else None
    return bounded(_extract_invoice, path, templates=chosen, use_xml=use_xml)


def _extract_invoice(
    path: Path | str,
    *,
    templates: Iterable[Template] | None = None,
    use_xml: bool = True,
) -> ExtractedInvoice:
    pdf = read_text(path)
    chosen = pick_invoice_attachment(pdf.attachments) if use_xml else None
    if chosen is not None:
        inv = parse_xml(chosen[1], file=pdf.file)
        if pdf.has_text:
            inv.errors.extend(cross_check(inv, pdf.text))
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
        if not pdf.has_text:
            raise InputError(
                "PDF has no text layer (scanned image?) and no embedded e-invoice; OCR is not supported",
                file=pdf.file,
                page=1,
            )
        inv = parse_text(pdf.text, list(templates) if templates is not None else load_templates())
        inv.source = "text"
    inv.file = pdf.file
    inv.pages = len(pdf.pages)
    return inv
