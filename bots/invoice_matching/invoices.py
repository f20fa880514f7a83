"""The run's invoice files: which files, their extraction, and the item payload of each.

Every regular file of the invoice directory is an input and is accounted for: a PDF (``.pdf``,
read by :func:`connectors.pdf.extract_invoice`, embedded Factur-X/ZUGFeRD/XRechnung XML first) or
a bare e-invoice XML (``.xml``: UBL Invoice/CreditNote, CII, ZUGFeRD 1.0) is read; any other file,
and any file that cannot be read, keeps the InputError that says why (it becomes an ``INPUT``
item naming the file). Subdirectories are not read.

Nothing here caches: the bot's ``open`` extracts every file of the directory once and keeps the
results in the run's state, where ``read`` finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from backoffice.items import file_sha256, make_key
from connectors.einvoice import HEADER_FIELDS, ExtractedInvoice, parse_xml
from connectors.pdf import MAX_PDF_BYTES, extract_invoice, extract_invoices

__all__ = [
    "READ_SUFFIXES",
    "Loaded",
    "file_counts",
    "invoice_files",
    "load_invoice",
    "load_invoices",
    "select_files",
    "to_payload",
]

READ_SUFFIXES = (".pdf", ".xml")
MAX_XML_BYTES = MAX_PDF_BYTES


@dataclass(frozen=True)
class Loaded:
    """One input file: its key and sha256, its kind (``pdf``, ``xml`` or ``None`` for a file
    of another kind), and the extraction or the error that stopped it."""

    path: Path
    key: str
    sha256: str
    result: ExtractedInvoice | InputError
    kind: str | None = "pdf"

    @property
    def refused(self) -> bool:
        return isinstance(self.result, InputError)


def invoice_files(directory: str | Path) -> list[Path]:
    """Every regular file of ``directory`` (PDFs, XML and anything else, each accounted for),
    sorted by name; subdirectories are not read."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("invoice directory not found", file=str(d))
    return sorted(p for p in d.iterdir() if p.is_file())


def file_counts(loaded: Iterable[Loaded]) -> dict[str, int]:
    """The run summary's file counts: files seen, read (an invoice came out) and refused (an
    ``INPUT`` item names the file and why); seen = read + refused."""
    seen = refused = 0
    for ld in loaded:
        seen += 1
        refused += ld.refused
    return {"files_seen": seen, "files_read": seen - refused, "files_refused": refused}


def select_files(paths: list[Path], names: Iterable[str] | None) -> list[Path]:
    """The files among ``paths`` named by ``names`` (all of them when ``names`` is None); a name
    that is not one of them is an InputError."""
    if names is None:
        return list(paths)
    by_name = {p.name: p for p in paths}
    wanted = sorted(set(names))
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise InputError(
            f"{len(missing)} file(s) named by --files are not in the directory",
            file=missing[0],
            field="files",
        )
    return [by_name[n] for n in wanted]


def _sniff(path: Path) -> str | None:
    """What the first bytes say the file is (``PDF`` or ``XML``), to name it in a refusal."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    if b"%PDF-" in head:
        return "PDF"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "XML"
    return None


def _read_xml(path: Path) -> ExtractedInvoice:
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file (0 bytes), not an e-invoice XML", file=str(path))
    if size > MAX_XML_BYTES:
        raise InputError(f"file too large ({size} bytes; limit {MAX_XML_BYTES})", file=str(path))
    inv = parse_xml(path.read_bytes(), file=str(path))
    inv.file = str(path)
    return inv


def _refuse(path: Path) -> InputError:
    suffix = path.suffix.lower()
    what = f"ends in {suffix!r}" if suffix else "has no extension"
    looks = _sniff(path)
    hint = f"; it looks like {looks}: rename it to .{looks.lower()} to have it read" if looks else ""
    return InputError(
        f"not an invoice file: the bot reads PDF (.pdf) and e-invoice XML (.xml) files, this one {what}{hint}",
        file=str(path),
    )


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return suffix[1:] if suffix in READ_SUFFIXES else None


def _hashed(path: Path) -> Loaded | str:
    """The file's sha256, or the refused :class:`Loaded` of a file that cannot be opened (e.g. no
    permission: still an item, keyed by name until it can be read)."""
    try:
        return file_sha256(path)
    except OSError as exc:
        err = InputError(f"cannot open the file: {exc.strerror or exc}", file=str(path))
        return Loaded(path, make_key("invoice", path.name, "unopened"), "", err, _kind(path))


def _read_other(path: Path, kind: str | None) -> ExtractedInvoice | InputError:
    """A bare e-invoice XML read, or the refusal of a file of another kind."""
    try:
        return _read_xml(path) if kind == "xml" else _refuse(path)
    except InputError as exc:
        return exc


def load_invoice(path: Path) -> Loaded:
    """Hash and read one file of the invoice directory: a PDF or a bare e-invoice XML; any other
    file, or one that cannot be read, keeps the InputError that says why."""
    kind = _kind(path)
    sha = _hashed(path)
    if isinstance(sha, Loaded):
        return sha
    if kind == "pdf":
        try:
            result: ExtractedInvoice | InputError = extract_invoice(path)
        except InputError as exc:
            result = exc
    else:
        result = _read_other(path, kind)
    return Loaded(path, make_key("invoice", path.name, sha), sha, result, kind)


def load_invoices(paths: Sequence[Path]) -> list[Loaded]:
    """:func:`load_invoice` of each of ``paths``, in order, with the PDFs read as one batch
    (:func:`connectors.pdf.extract_invoices`: the bounded worker reads them back to back, every
    limit still per document, no round trip per file); each file keeps its own result or the
    InputError naming it."""
    hashed = [_hashed(p) for p in paths]
    pdfs = [p for p, sha in zip(paths, hashed, strict=True) if isinstance(sha, str) and _kind(p) == "pdf"]
    read = iter(extract_invoices(pdfs))
    out: list[Loaded] = []
    for path, sha in zip(paths, hashed, strict=True):
        if isinstance(sha, Loaded):
            out.append(sha)
            continue
        kind = _kind(path)
        result = next(read) if kind == "pdf" else _read_other(path, kind)
        out.append(Loaded(path, make_key("invoice", path.name, sha), sha, result, kind))
    return out


_PAYLOAD_KEYS = (
    *HEADER_FIELDS,
    "lines",
    "key",
    "file",
    "sha256",
    "source",
    "syntax",
    "document_type",
    "preceding_invoice",
    "pages",
    "extraction_errors",
)
_EMPTY_PAYLOAD = dict.fromkeys(_PAYLOAD_KEYS)  # every key once, in payload order
_header = attrgetter(*HEADER_FIELDS)


def to_payload(loaded: Loaded) -> dict[str, Any]:
    """The item payload: the extraction's fields with their own types (``Decimal``, ``date``), so
    ``InvoiceModel`` validates them without re-parsing strings; the store keeps its canonical JSON
    (decimal strings, ISO dates), which validates to the same model. Filled into a copy of a dict
    that already holds every key (a fifth cheaper than growing one key by key; the same dict)."""
    inv = loaded.result
    if not isinstance(inv, ExtractedInvoice):
        raise TypeError("to_payload needs an extracted invoice")
    data = _EMPTY_PAYLOAD.copy()
    data.update(zip(HEADER_FIELDS, _header(inv), strict=True))
    data["lines"] = [
        {
            "description": ln.description,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "line_amount": ln.line_amount,
            "tax_rate": ln.tax_rate,
            "order_reference": ln.order_reference,
        }
        for ln in inv.lines
    ]
    data["key"] = loaded.key
    data["file"] = loaded.path.name
    data["sha256"] = loaded.sha256
    data["source"] = inv.source
    data["syntax"] = inv.syntax
    data["document_type"] = inv.document_type
    data["preceding_invoice"] = inv.preceding_invoice
    data["pages"] = inv.pages
    data["extraction_errors"] = list(inv.errors)
    return data
