"""Checks before a table file is opened: size limits, zip bombs, encrypted, legacy or Strict OOXML workbooks.

A reader (python-calamine, or openpyxl) is handed only an xlsx whose zip directory is sane: declared uncompressed sizes and
compression ratios within :class:`TableLimits` (Python's zipfile never inflates a member past
its declared size; it fails with a CRC error instead, which is reported as a corrupt file).
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from backoffice.errors import InputError

__all__ = [
    "DEFAULT_LIMITS",
    "OLE_MAGIC",
    "XLSX_MAGIC",
    "TableLimits",
    "check_size",
    "check_xlsx",
    "file_error",
]


XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted xlsx and legacy .xls


@dataclass(frozen=True)
class TableLimits:
    """Guards against huge or hostile files. ``None`` means no limit."""

    max_file_bytes: int | None = 2 * 1024**3
    max_rows: int | None = 5_000_000
    max_uncompressed_bytes: int | None = 4 * 1024**3
    max_member_ratio: int = 150  # uncompressed/compressed for any member above 1 MiB
    max_zip_members: int = 10_000
    max_cell_chars: int = 32_767  # Excel's own cell limit


DEFAULT_LIMITS = TableLimits()


def file_error(path: Path, message: str, sheet: str | None = None) -> InputError:
    return InputError(message, file=str(path), sheet=sheet)


def check_xlsx(path: str | Path, limits: TableLimits = DEFAULT_LIMITS) -> None:
    """Refuse what is not a sane xlsx *before* openpyxl opens it.

    Not a zip (e.g. a renamed CSV or PDF), an encrypted workbook or legacy .xls (OLE2), a
    broken zip, a zip bomb (declared sizes or ratios too large), too many members, or a
    zip without a workbook part: each an :class:`InputError` naming the file.
    """
    p = Path(path)
    with p.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE_MAGIC):
        raise file_error(
            p,
            "an encrypted (password-protected) workbook or a legacy .xls file; "
            "save it as .xlsx without a password",
        )
    if not head.startswith(XLSX_MAGIC):
        if not head:
            raise file_error(p, "the file is empty")
        raise file_error(p, "not an xlsx workbook (it is not a zip archive); is it a CSV or another format?")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            _check_members(p, infos, limits)
            _check_not_strict(p, zf)
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise file_error(p, f"corrupt xlsx (broken zip archive: {exc})") from exc


STRICT_NS = b"http://purl.oclc.org/ooxml/spreadsheetml/main"  # ISO/IEC 29500 Strict


def _check_not_strict(p: Path, zf: zipfile.ZipFile) -> None:
    """A Strict Open XML workbook names its parts in another namespace that no reader here knows."""
    names = zf.namelist()
    wb_name = (
        "xl/workbook.xml"
        if "xl/workbook.xml" in names
        else next(n for n in names if n.endswith("workbook.xml"))
    )
    with zf.open(wb_name) as fh:
        head = fh.read(4096)
    if STRICT_NS in head:
        raise file_error(
            p,
            "a strict OOXML workbook (Strict Open XML Spreadsheet, ISO/IEC 29500 Strict), which cannot "
            "be read; save it as a normal .xlsx (Excel Workbook)",
        )


def _check_members(p: Path, infos: list[zipfile.ZipInfo], limits: TableLimits) -> None:
    if len(infos) > limits.max_zip_members:
        raise file_error(p, f"suspicious xlsx: {len(infos)} zip members (limit {limits.max_zip_members})")
    total = 0
    names = set()
    for info in infos:
        names.add(info.filename)
        total += info.file_size
        if info.flag_bits & 0x1:
            raise file_error(p, f"xlsx member {info.filename!r} is encrypted")
        if info.file_size > 1024 * 1024:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_member_ratio:
                raise file_error(
                    p,
                    f"refused as a zip bomb: member {info.filename!r} expands {ratio:.0f}x "
                    f"to {info.file_size:,} bytes (limit {limits.max_member_ratio}x)",
                )
    if limits.max_uncompressed_bytes is not None and total > limits.max_uncompressed_bytes:
        raise file_error(
            p,
            f"refused as a zip bomb: {total:,} bytes uncompressed (limit {limits.max_uncompressed_bytes:,})",
        )
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise file_error(p, "not an xlsx workbook (zip archive without xl/workbook.xml)")


def check_size(p: Path, limits: TableLimits) -> None:
    try:
        size = p.stat().st_size
    except FileNotFoundError as exc:
        raise InputError("file not found", file=str(p)) from exc
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=str(p)) from exc
    if not p.is_file():
        raise InputError("not a regular file", file=str(p))
    if limits.max_file_bytes is not None and size > limits.max_file_bytes:
        raise InputError(f"file too large: {size:,} bytes (limit {limits.max_file_bytes:,})", file=str(p))
