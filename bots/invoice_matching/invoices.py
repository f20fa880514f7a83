"""The run's invoice PDFs: which files, their extraction, and the item payload of each.

Nothing here caches: the bot's ``open`` extracts every PDF of the directory once and keeps the
results in the run's state, where ``read`` finds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from backoffice.items import file_sha256, make_key
from connectors.einvoice import HEADER_FIELDS, ExtractedInvoice
from connectors.pdf import extract_invoice

__all__ = ["Loaded", "invoice_files", "load_invoice", "select_files", "to_payload"]


@dataclass(frozen=True)
class Loaded:
    """One input PDF: its key and sha256, and the extraction or the error that stopped it."""

    path: Path
    key: str
    sha256: str
    result: ExtractedInvoice | InputError


def invoice_files(directory: str | Path) -> list[Path]:
    """The ``*.pdf`` files of ``directory``, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("invoice directory not found", file=str(d))
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")


def select_files(paths: list[Path], names: Iterable[str] | None) -> list[Path]:
    """The PDFs among ``paths`` named by ``names`` (all of them when ``names`` is None); a name
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


def load_invoice(path: Path) -> Loaded:
    """Hash and extract one PDF; an unreadable one keeps its InputError."""
    sha = file_sha256(path)
    try:
        result: ExtractedInvoice | InputError = extract_invoice(path)
    except InputError as exc:
        result = exc
    return Loaded(path, make_key("invoice", path.name, sha), sha, result)


def to_payload(loaded: Loaded) -> dict[str, Any]:
    """The item payload: the extraction's fields with their own types (``Decimal``, ``date``), so
    ``InvoiceModel`` validates them without re-parsing strings; the store keeps its canonical JSON
    (decimal strings, ISO dates), which validates to the same model."""
    inv = loaded.result
    if not isinstance(inv, ExtractedInvoice):
        raise TypeError("to_payload needs an extracted invoice")
    data: dict[str, Any] = {name: getattr(inv, name) for name in HEADER_FIELDS}
    data["lines"] = [
        {
            "description": ln.description,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "line_amount": ln.line_amount,
            "tax_rate": ln.tax_rate,
        }
        for ln in inv.lines
    ]
    data.update(
        key=loaded.key,
        file=loaded.path.name,
        sha256=loaded.sha256,
        source=inv.source,
        syntax=inv.syntax,
        pages=inv.pages,
        extraction_errors=list(inv.errors),
    )
    return data
