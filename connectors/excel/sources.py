"""Raw row sources: ``(row number, cell values)`` streamed from an xlsx sheet or a CSV file.

xlsx is checked by :func:`check_xlsx` first, then the chosen sheet's XML is scanned once
(:func:`scan_sheet`, streamed, a few regular expressions over the inflated bytes) and read by
python-calamine, which is about ten times faster than openpyxl. Three kinds of sheet are read
by openpyxl's streaming read-only parser instead, so that values and messages stay exactly
what they always were:

- a sheet with formula cells (``<f>``): calamine gives the cached result, openpyxl the formula
  text, which the reader refuses (or passes on with ``formulas="allow"``);
- a sheet with error cells (``t="e"``, e.g. ``#N/A``): calamine gives an empty string;
- a sheet whose extent (last row x last column) would make calamine's dense cell grid larger
  than :data:`DENSE_CELL_BUDGET` (e.g. one cell in column XFD), which would cost memory
  in proportion to the grid, not to the cells.

A large sheet (its XML above :data:`SLICED_SHEET_BYTES` inflated) that calamine reads is read in
slices (:func:`_sliced_gen`): its rows are cut at row boundaries into pieces of
:data:`SLICE_BYTES` or more, and each piece is handed to calamine as a workbook of its own (the
same parts, styles, shared strings and ``date1904``; the sheet's rows keep their ``r`` numbers),
so only one slice's grid is ever held: calamine builds a sheet's whole cell grid before it hands
out a row (about 1.5 KB a row of 19 columns while it is built), which for a 200,000-row register
was ~300 MB. The values are calamine's own, cell for cell; a sheet with a row or a cell
without its ``r`` reference is read whole (calamine numbers those by their order).

Either way only the columns up to the header's width are materialised once the reader calls
:meth:`SheetRows.limit_width`, so a stray cell far to the right costs nothing per row
(:attr:`SheetRows.cells` counts the values handed out).

CSV encoding (UTF-8 or cp1252) and delimiter (``,`` ``;`` tab ``|``) are sniffed from the first
64 KiB unless given.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from backoffice.errors import InputError
from connectors.excel.file_checks import OLE_MAGIC, XLSX_MAGIC, TableLimits, check_xlsx, file_error

__all__ = [
    "DENSE_CELL_BUDGET",
    "SLICED_SHEET_BYTES",
    "SLICE_BYTES",
    "SheetRows",
    "SheetScan",
    "csv_rows",
    "scan_sheet",
    "xlsx_rows",
]

DENSE_CELL_BUDGET = 12_000_000  # calamine holds a sheet as rows x columns cells (~32 bytes each)
SLICED_SHEET_BYTES = 32 * 1024**2  # a sheet XML above this (inflated) is read in slices
SLICE_BYTES = 4 * 1024**2  # rows of sheet XML per slice, at least (more with a large sharedStrings part)

# One cheap pass each (a false alarm only costs speed): an <f> (or <x:f>) element or a t="e" cell;
# the columns AA and beyond; the row numbers.
_FORMULA_OR_ERROR = re.compile(rb"""f[\s>/]|t=["']e["']""")
_WIDE_REF = re.compile(rb"""r=["']\$?([A-Z]{2,3})\$?[0-9]""")  # columns AA and beyond
_ROW_NUMBER = re.compile(rb"""row r=["']([0-9]{1,9})["']""")
_CHUNK = 1 << 20
_OVERLAP = 256


def column_number(letters: str) -> int:
    """``"A"`` -> 1, ``"XFD"`` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass(frozen=True)
class SheetScan:
    """What one pass over a sheet's XML found (the sheet is never parsed for this)."""

    formulas: bool
    error_cells: bool
    max_column: int  # exact when above 26 (two or more letters), else 26
    max_row: int
    rows: int = 0  # <row> elements
    rows_with_ref: int = 0  # of which with their r="..." as the first attribute
    sheet_bytes: int = 0  # the sheet XML, inflated

    @property
    def dense_cells(self) -> int:
        return self.max_column * self.max_row

    @property
    def sliceable(self) -> bool:
        """Every row names its number, so a slice of the rows reads as it does in the whole sheet."""
        return self.rows > 0 and self.rows_with_ref == self.rows


def scan_sheet(zf: zipfile.ZipFile, member: str) -> SheetScan:
    """Stream the sheet XML once: formula or error cells, the widest cell reference, the row count."""
    formulas = errors = False
    max_col = 26
    rows = max_row = with_ref = size = 0
    tail = b""
    with zf.open(member) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            buf = tail + chunk
            start = len(tail)  # matches wholly inside the overlap were counted in the last chunk
            if not (formulas and errors):
                for m in _FORMULA_OR_ERROR.finditer(buf):
                    if buf[m.start()] == 0x74:  # t="e"
                        errors = True
                    elif buf[m.start() - 1 : m.start()] in (b"<", b":"):
                        formulas = True
            for m in _WIDE_REF.finditer(buf):
                if m.end() > start:
                    max_col = max(max_col, column_number(m.group(1).decode("ascii")))
            size += len(chunk)
            rows += chunk.count(b"<row") + chunk.count(b":row ")
            with_ref += chunk.count(b"<row r=") + chunk.count(b":row r=")
            found = [int(m.group(1)) for m in _ROW_NUMBER.finditer(buf) if m.end() > start]
            if found:
                max_row = max(max_row, *found)
            tail = buf[-_OVERLAP:]
    return SheetScan(formulas, errors, max_col, max(rows, max_row), rows, with_ref, size)


class SheetRows:
    """``(row number, values)`` of one sheet; :meth:`limit_width` bounds every later row."""

    def __init__(self, rows: Callable[[SheetRows], Iterator[tuple[int, Sequence[Any]]]]) -> None:
        self.width: int | None = None
        self.cells = 0  # values handed out, for tests and benches (the work a wide row costs)
        self._it = rows(self)

    def limit_width(self, width: int) -> None:
        """From the next row on, hand out only the first ``width`` values of each row."""
        self.width = width

    def __iter__(self) -> Iterator[tuple[int, Sequence[Any]]]:
        return self

    def __next__(self) -> tuple[int, Sequence[Any]]:
        return next(self._it)


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its XML member, from workbook.xml and its relationships."""
    names = set(zf.namelist())
    wb_name = (
        "xl/workbook.xml"
        if "xl/workbook.xml" in names
        else next(n for n in names if n.endswith("workbook.xml"))
    )
    base = wb_name.rsplit("/", 1)[0]
    rels_name = f"{base}/_rels/{wb_name.rsplit('/', 1)[-1]}.rels"
    targets: dict[str, str] = {}
    if rels_name in names:
        for rel in ElementTree.fromstring(zf.read(rels_name)):  # noqa: S314 - checked zip, no DTDs in OOXML
            target = rel.get("Target", "")
            member = target.lstrip("/") if target.startswith("/") else f"{base}/{target}"
            targets[rel.get("Id", "")] = member
    out: dict[str, str] = {}
    for el in ElementTree.fromstring(zf.read(wb_name)).iter():  # noqa: S314
        if el.tag.endswith("}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), "")
            if rid in targets:
                out[el.get("name", "")] = targets[rid]
    return out


def xlsx_rows(p: Path, sheet: str | None, limits: TableLimits) -> tuple[str, SheetRows]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    check_xlsx(p, limits)
    try:
        wb = CalamineWorkbook.from_path(p)
    except InputError:
        raise
    except Exception as exc:  # calamine raises its own types and ValueError for broken parts
        raise file_error(p, f"corrupt xlsx: {type(exc).__name__}: {exc}") from exc
    try:
        metas = wb.sheets_metadata
        worksheets = [m.name for m in metas if m.typ == SheetTypeEnum.WorkSheet]
        if sheet is None:
            if not worksheets:
                raise file_error(p, "workbook has no worksheets")
            title = worksheets[0]
        else:
            if sheet not in wb.sheet_names:
                raise file_error(p, f"no sheet named {sheet!r}; sheets are {wb.sheet_names}")
            if sheet not in worksheets:
                raise file_error(p, f"sheet {sheet!r} is a chartsheet, not a table", sheet=sheet)
            title = sheet
        try:
            with zipfile.ZipFile(p) as zf:
                member = _sheet_parts(zf).get(title)
                scan = scan_sheet(zf, member) if member else None
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ElementTree.ParseError,
            KeyError,
            StopIteration,
        ) as exc:
            raise file_error(p, f"corrupt xlsx: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        wb.close()
        raise
    if scan is None or scan.formulas or scan.error_cells or scan.dense_cells > DENSE_CELL_BUDGET:
        wb.close()
        return _openpyxl_rows(p, title)
    if member and scan.sliceable and scan.sheet_bytes > SLICED_SHEET_BYTES:
        wb.close()
        return title, SheetRows(lambda rows: _sliced_gen(p, member, title, rows))
    return title, SheetRows(lambda rows: _calamine_gen(p, wb, title, rows))


def _shaped(rows: SheetRows, pad: tuple[Any, ...], values: Sequence[Any]) -> Sequence[Any]:
    """A calamine row as the reader sees it: padded to column A, cut at the sheet's width once
    known, its cells counted (the cell limit)."""
    width = rows.width
    if pad:
        values = [*pad, *values]
    if width is not None and len(values) > width:
        values = values[:width]
    rows.cells += len(values)
    return values


def _calamine_gen(p: Path, wb: Any, title: str, rows: SheetRows) -> Iterator[tuple[int, Sequence[Any]]]:
    try:
        try:
            ws = wb.get_sheet_by_name(title)
        except Exception as exc:
            raise InputError(
                f"corrupt xlsx while reading rows: {type(exc).__name__}: {exc}", file=str(p), sheet=title
            ) from exc
        start = ws.start
        if start is None:
            return
        # iter_rows starts at the sheet's first row but at the first used column: pad to column A
        pad: tuple[Any, ...] = (None,) * start[1]
        for n, values in enumerate(ws.iter_rows(), start=1):
            yield n, _shaped(rows, pad, values)
    finally:
        wb.close()


_SHEET_DATA = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)sheetData\b[^>]*?(/?)>")
_DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*>")
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_STUB_SHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'
)


def _slice_parts(zf: zipfile.ZipFile, member: str) -> dict[str, bytes]:
    """The parts every slice's workbook carries: the XML and relationship parts (workbook, styles,
    shared strings, content types), the other sheets as empty ones, no media."""
    sheets = set(_sheet_parts(zf).values())
    parts: dict[str, bytes] = {}
    for info in zf.infolist():
        name = info.filename
        if name == member or info.is_dir():
            continue
        if name in sheets:
            parts[name] = _STUB_SHEET
        elif name.lower().endswith((".xml", ".rels")):
            parts[name] = zf.read(name)
    return parts


def _sheet_slices(fh: Any, slice_bytes: int) -> Iterator[bytes]:
    """The sheet XML as whole worksheets of at least ``slice_bytes`` of rows each, cut before a row."""
    buf = bytearray()
    head = close = row_tag = end_tag = b""
    eof = False
    while not eof:
        chunk = fh.read(_CHUNK)
        eof = not chunk
        buf += chunk
        if not head:
            m = _SHEET_DATA.search(buf)
            if m is None:
                if eof:
                    return  # no sheetData: no rows (as calamine reads it)
                continue
            ns = bytes(m.group(1))
            prefix = _DIMENSION.sub(b"", bytes(buf[: m.start()]))  # the whole sheet's extent: not a slice's
            root = _ROOT.search(prefix)  # the root element (the XML declaration starts with <?)
            if m.group(2) or root is None:  # <sheetData/>: no rows
                return
            head = prefix + b"<" + ns + b"sheetData>"
            close = b"</" + ns + b"sheetData></" + root.group(1) + b">"
            row_tag, end_tag = b"<" + ns + b"row", b"</" + ns + b"sheetData>"
            del buf[: m.end()]
        end = buf.find(end_tag)
        if end >= 0:
            yield head + bytes(buf[:end]) + close
            return
        if len(buf) >= slice_bytes:
            cut = len(buf)
            while True:  # the last row that starts in the buffer (not a longer tag name)
                cut = buf.rfind(row_tag, 0, cut)
                if cut <= 0 or buf[cut + len(row_tag) : cut + len(row_tag) + 1] in (b" ", b">", b"/", b"\t"):
                    break
            if cut > 0:
                yield head + bytes(buf[:cut]) + close
                del buf[:cut]
    raise ValueError("the sheet XML ends before its </sheetData>")


def _slice_values(parts: dict[str, bytes], member: str, title: str, xml: bytes) -> tuple[Any, list[Any]]:
    """calamine's reading of one slice: its first cell (row, column) and its rows from there."""
    from python_calamine import CalamineWorkbook

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
        out.writestr(member, xml)
    buf.seek(0)
    wb = CalamineWorkbook.from_filelike(buf)
    try:
        ws = wb.get_sheet_by_name(title)
        start = ws.start
        return start, (ws.to_python(skip_empty_area=True) if start is not None else [])
    finally:
        wb.close()


def _sliced_gen(p: Path, member: str, title: str, rows: SheetRows) -> Iterator[tuple[int, Sequence[Any]]]:
    """A large sheet's rows, one slice of its XML at a time (module docstring): the same rows
    ``_calamine_gen`` hands out, but an empty row between two slices is an empty tuple."""
    n = 0  # rows handed out, i.e. the last row number
    try:
        with zipfile.ZipFile(p) as zf:
            parts = _slice_parts(zf, member)
            shared = max(
                (len(v) for k, v in parts.items() if k.lower().endswith("sharedstrings.xml")), default=0
            )
            # each slice reads the shared strings again: slices of 4x their size keep that a fifth of the work
            with zf.open(member) as fh:
                for xml in _sheet_slices(fh, max(SLICE_BYTES, 4 * shared)):
                    try:
                        start, values = _slice_values(parts, member, title, xml)
                    except Exception as exc:  # calamine raises its own types for broken XML
                        raise InputError(
                            f"corrupt xlsx while reading rows: {type(exc).__name__}: {exc}",
                            file=str(p),
                            sheet=title,
                        ) from exc
                    del xml
                    if start is None:
                        continue
                    first, column = start
                    while n < first:  # rows with no cell before this slice's first
                        n += 1
                        yield n, ()
                    pad: tuple[Any, ...] = (None,) * column
                    for row in values:
                        n += 1
                        yield n, _shaped(rows, pad, row)
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        raise InputError(
            f"corrupt xlsx while reading rows: {type(exc).__name__}: {exc}", file=str(p), sheet=title
        ) from exc


def _openpyxl_rows(p: Path, title: str) -> tuple[str, SheetRows]:
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles/extensions it ignores
            wb = load_workbook(p, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for broken parts
        raise file_error(p, f"corrupt xlsx: {type(exc).__name__}: {exc}") from exc
    try:
        ws = wb[title]
        if not hasattr(ws, "reset_dimensions"):
            raise file_error(p, f"sheet {title!r} is a chartsheet, not a table", sheet=title)
    except BaseException:
        wb.close()
        raise

    def gen(rows: SheetRows) -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            ws.reset_dimensions()  # trust the cells, not the (often wrong) <dimension> tag
            n = 0
            it: Any = ws.iter_rows(values_only=True)  # a generator
            bounded = False
            while True:
                if not bounded and rows.width is not None:
                    # the header is known: parse on without padding rows out to a stray far cell
                    it.close()
                    it = ws.iter_rows(min_row=n + 1, max_col=max(rows.width, 1), values_only=True)
                    bounded = True
                values = next(it, None)
                if values is None:
                    break
                n += 1
                rows.cells += len(values)
                yield n, values
        except InputError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"corrupt xlsx while reading rows: {type(exc).__name__}: {exc}", file=str(p), sheet=title
            ) from exc
        except Exception as exc:  # XML parse errors from expat/lxml
            if type(exc).__name__ in {"ParseError", "XMLSyntaxError", "ExpatError"}:
                raise InputError(f"corrupt xlsx sheet XML: {exc}", file=str(p), sheet=title) from exc
            raise
        finally:
            wb.close()

    return title, SheetRows(gen)


def csv_rows(p: Path, delimiter: str | None, encoding: str | None) -> Iterator[tuple[int, Sequence[Any]]]:
    with p.open("rb") as fh:
        sample = fh.read(64 * 1024)
    if sample.startswith(XLSX_MAGIC) or sample.startswith(OLE_MAGIC):
        raise file_error(p, "this is a workbook, not a CSV file; save it as .xlsx or export CSV")
    if b"\x00" in sample:
        raise file_error(p, "binary data in a CSV file (NUL bytes); is it UTF-16 or not text at all?")
    enc = encoding
    if enc is None:
        try:
            sample.decode("utf-8-sig")
            enc = "utf-8-sig"
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the sample boundary is still UTF-8
            enc = "utf-8-sig" if exc.start >= len(sample) - 3 else "cp1252"
    text_sample = sample.decode(enc, errors="replace")
    delim = delimiter
    if delim is None:
        first = text_sample.splitlines()[0] if text_sample.splitlines() else ""
        counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
        delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","

    def gen() -> Iterator[tuple[int, Sequence[Any]]]:
        with p.open("r", encoding=enc, newline="") as fh:
            reader = csv.reader(fh, delimiter=delim)
            n = 0
            try:
                for n, rec in enumerate(reader, start=1):
                    yield n, rec
            except csv.Error as exc:
                raise InputError(f"malformed CSV: {exc}", file=str(p), row=n + 1) from exc
            except UnicodeDecodeError as exc:
                raise InputError(f"text is not {enc}: {exc.reason}", file=str(p), row=n + 1) from exc

    return gen()
