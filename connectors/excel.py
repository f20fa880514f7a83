"""Safe, streaming table reader for xlsx and CSV, and a formatted report writer.

Reading::

    from connectors.excel import ColumnSpec, read_table

    COLUMNS = {
        "employee_id": ColumnSpec("str", aliases=("emp id", "employee no")),
        "gross": ColumnSpec("money"),
        "pay_date": ColumnSpec("date"),
        "note": ColumnSpec("str", required=False, nullable=True),
    }
    for row in read_table("register.xlsx", COLUMNS, key="employee_id"):
        row["gross"]          # Decimal, rounded to cents
        row.number            # row number in the sheet (1-based, like Excel)

Every problem is a :class:`backoffice.errors.InputError` that names the file, sheet, row and
column. File-level problems (not a zip, zip bomb, encrypted workbook, missing column, too
many rows) always raise. Cell-level problems (text in a money column, a formula, a
duplicated key) raise too, unless ``on_error="collect"``: then the row is still yielded with
the bad cells set to ``None`` and the errors in ``row.errors`` so a bot can queue that one
row and carry on with the rest.

xlsx files are opened with openpyxl in read-only mode and streamed row by row, so memory
stays flat for registers of hundreds of thousands of rows. Before openpyxl sees the file
its zip directory is checked: the declared uncompressed sizes and compression ratios must
be sane (Python's zipfile never inflates a member past its declared size; it fails with a
CRC error instead, which is reported as a corrupt file).

Writing::

    write_report("out.xlsx", [Sheet("Exceptions", [ReportColumn("Employee"),
                                                   ReportColumn("Amount", "money")], rows)])

writes atomically (temporary file, then rename), with bold frozen headers, an autofilter,
money number formats and column widths; every text cell passes :func:`neutralise_formula`.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from backoffice.errors import InputError
from backoffice.money import parse_amount

__all__ = [
    "ColumnSpec",
    "ReportColumn",
    "Row",
    "Sheet",
    "TableLimits",
    "check_xlsx",
    "neutralise_formula",
    "normalise_header",
    "read_table",
    "write_report",
]

ColumnType = Literal["str", "decimal", "money", "int", "date", "bool"]
ErrorMode = Literal["raise", "collect"]
FormulaMode = Literal["refuse", "allow"]

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted xlsx and legacy .xls


@dataclass(frozen=True)
class ColumnSpec:
    """What a column holds and how to find it.

    ``type``: str | decimal | money (Decimal rounded to cents) | int | date | bool.
    ``required``: the header must be present (otherwise the value is always ``None``).
    ``nullable``: an empty cell is allowed (``None``); otherwise an empty cell is an error.
    ``aliases``: other header spellings accepted for this column (compared normalised).
    ``date_formats``: strptime formats tried for text in a date column (ISO is always tried).
    """

    type: ColumnType = "str"
    required: bool = True
    nullable: bool = False
    aliases: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ("%d.%m.%Y", "%Y/%m/%d")


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


class Row(Mapping[str, Any]):
    """One data row: a read-only mapping of column name to coerced value.

    ``number`` is the row number in the sheet (xlsx) or the record number counting the
    header as 1 (CSV); ``errors`` holds the cell problems found when ``on_error="collect"``.
    """

    __slots__ = ("data", "errors", "file", "number", "sheet")

    def __init__(
        self,
        number: int,
        values: dict[str, Any],
        errors: tuple[InputError, ...] = (),
        file: str = "",
        sheet: str | None = None,
    ) -> None:
        self.number = number
        self.data = values
        self.errors = errors
        self.file = file
        self.sheet = sheet

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def locator(self) -> str:
        return f"sheet {self.sheet!r}, row {self.number}" if self.sheet else f"row {self.number}"

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.data!r}, errors={len(self.errors)})"


def normalise_header(text: object) -> str:
    """``' Employee_ID '`` -> ``'employee id'``: lowercase, punctuation and runs of space folded."""
    s = str(text if text is not None else "").strip().lower().replace("\u00a0", " ")
    s = re.sub(r"[\s_\-./:#()]+", " ", s)
    return s.strip()


# ---------------------------------------------------------------- coercion


class _CellError(ValueError):
    pass


_INF = float("inf")
_PLAIN_NUMBER = re.compile(r"-?\d{1,30}(?:\.\d{1,30})?")
_CENT = Decimal("0.01")


def _coerce_str(value: Any) -> str | None:
    if type(value) is str:
        s = value.strip()
        return s or None
    if isinstance(value, str):
        s = value.strip()
        return s or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _coerce_decimal(value: Any) -> Decimal | None:
    t = type(value)
    if t is float:  # the common xlsx case first: repr() is the shortest exact decimal form
        if value != value or value in (_INF, -_INF):
            raise _CellError(f"expected an amount, got {value!r}")
        return Decimal(repr(value))
    if t is int:
        return Decimal(value)
    if isinstance(value, (bool, datetime, date)):
        raise _CellError(f"expected an amount, got {type(value).__name__} {value!s}")
    if t is str:
        value = value.strip()
        if not value:
            return None
        if _PLAIN_NUMBER.fullmatch(value):  # CSV's common case: no separators, no currency
            return Decimal(value)
    try:
        d = parse_amount(value)
    except ValueError as exc:
        raise _CellError(f"expected an amount, got text {_show(value)}") from exc
    if not d.is_finite():
        raise _CellError(f"expected an amount, got {_show(value)}")
    return d


def _coerce_money(value: Any) -> Decimal | None:
    d = _coerce_decimal(value)
    return None if d is None else d.quantize(_CENT, rounding=ROUND_HALF_UP)


def _coerce_int(value: Any) -> int | None:
    if isinstance(value, bool):
        raise _CellError(f"expected a whole number, got {value!s}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _CellError(f"expected a whole number, got {value!r}")
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        raise _CellError(f"expected a whole number, got {value}")
    if isinstance(value, str):
        s = value.strip().replace(",", "").replace(" ", "")
        if not s:
            return None
        if re.fullmatch(r"[+-]?\d+(\.0+)?", s):
            return int(s.split(".")[0])
        raise _CellError(f"expected a whole number, got text {_show(value)}")
    raise _CellError(f"expected a whole number, got {type(value).__name__}")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _make_date_coercer(formats: tuple[str, ...]) -> Callable[[Any], date | None]:
    def coerce(value: Any) -> date | None:
        if type(value) is datetime:
            return value.date()
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            s = value.strip()
            if not s:
                return None
            if _ISO_DATE.match(s):
                try:
                    return date.fromisoformat(s[:10])
                except ValueError:
                    pass
            for fmt in formats:
                try:
                    return datetime.strptime(s, fmt).date()
                except ValueError:
                    continue
            raise _CellError(f"expected a date (YYYY-MM-DD), got text {_show(value)}")
        raise _CellError(f"expected a date, got {type(value).__name__} {_show(value)}")

    return coerce


_TRUE = {"true", "yes", "y", "1", "x", "ja", "oui"}
_FALSE = {"false", "no", "n", "0", "", "nein", "non"}


def _coerce_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False if s else None
    raise _CellError(f"expected yes/no, got {_show(value)}")


def _coercer(spec: ColumnSpec) -> Callable[[Any], Any]:
    if spec.type == "str":
        return _coerce_str
    if spec.type == "decimal":
        return _coerce_decimal
    if spec.type == "money":
        return _coerce_money
    if spec.type == "int":
        return _coerce_int
    if spec.type == "date":
        return _make_date_coercer(spec.date_formats)
    if spec.type == "bool":
        return _coerce_bool
    raise ValueError(f"unknown column type {spec.type!r}")  # pragma: no cover - Literal guards it


def _show(value: Any, limit: int = 40) -> str:
    s = repr(value) if not isinstance(value, str) else repr(value.strip())
    return s if len(s) <= limit else s[: limit - 4] + "...'"


# ---------------------------------------------------------------- file checks


def _file_error(path: Path, message: str, sheet: str | None = None) -> InputError:
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
    if head.startswith(_OLE_MAGIC):
        raise _file_error(
            p,
            "an encrypted (password-protected) workbook or a legacy .xls file; "
            "save it as .xlsx without a password",
        )
    if not head.startswith(_XLSX_MAGIC):
        if not head:
            raise _file_error(p, "the file is empty")
        raise _file_error(p, "not an xlsx workbook (it is not a zip archive); is it a CSV or another format?")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _file_error(p, f"corrupt xlsx (broken zip archive: {exc})") from exc
    if len(infos) > limits.max_zip_members:
        raise _file_error(p, f"suspicious xlsx: {len(infos)} zip members (limit {limits.max_zip_members})")
    total = 0
    names = set()
    for info in infos:
        names.add(info.filename)
        total += info.file_size
        if info.flag_bits & 0x1:
            raise _file_error(p, f"xlsx member {info.filename!r} is encrypted")
        if info.file_size > 1024 * 1024:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_member_ratio:
                raise _file_error(
                    p,
                    f"refused as a zip bomb: member {info.filename!r} expands {ratio:.0f}x "
                    f"to {info.file_size:,} bytes (limit {limits.max_member_ratio}x)",
                )
    if limits.max_uncompressed_bytes is not None and total > limits.max_uncompressed_bytes:
        raise _file_error(
            p,
            f"refused as a zip bomb: {total:,} bytes uncompressed (limit {limits.max_uncompressed_bytes:,})",
        )
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise _file_error(p, "not an xlsx workbook (zip archive without xl/workbook.xml)")


def _check_size(p: Path, limits: TableLimits) -> None:
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


# ---------------------------------------------------------------- raw row sources


def _xlsx_rows(
    p: Path, sheet: str | None, limits: TableLimits
) -> tuple[str, Iterator[tuple[int, Sequence[Any]]]]:
    import warnings

    from openpyxl import load_workbook

    check_xlsx(p, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles/extensions it ignores
            wb = load_workbook(p, read_only=True, data_only=False, keep_links=False)
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises many types for broken parts
        raise _file_error(p, f"corrupt xlsx: {type(exc).__name__}: {exc}") from exc
    try:
        if sheet is None:
            ws = wb.worksheets[0] if wb.worksheets else None
            if ws is None:
                raise _file_error(p, "workbook has no worksheets")
        else:
            if sheet not in wb.sheetnames:
                wb.close()
                raise _file_error(p, f"no sheet named {sheet!r}; sheets are {wb.sheetnames}")
            ws = wb[sheet]
        title = ws.title
        if not hasattr(ws, "reset_dimensions"):
            raise _file_error(p, f"sheet {title!r} is a chartsheet, not a table", sheet=title)
    except BaseException:
        wb.close()
        raise

    def gen() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            ws.reset_dimensions()  # trust the cells, not the (often wrong) <dimension> tag
            yield from enumerate(ws.iter_rows(values_only=True), start=1)
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

    return title, gen()


def _csv_rows(p: Path, delimiter: str | None, encoding: str | None) -> Iterator[tuple[int, Sequence[Any]]]:
    with p.open("rb") as fh:
        sample = fh.read(64 * 1024)
    if sample.startswith(_XLSX_MAGIC) or sample.startswith(_OLE_MAGIC):
        raise _file_error(p, "this is a workbook, not a CSV file; save it as .xlsx or export CSV")
    if b"\x00" in sample:
        raise _file_error(p, "binary data in a CSV file (NUL bytes); is it UTF-16 or not text at all?")
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


# ---------------------------------------------------------------- read_table


@dataclass
class _Col:
    name: str
    index: int | None
    spec: ColumnSpec
    coerce: Callable[[Any], Any]


def _resolve_columns(
    headers: Sequence[Any],
    columns: Mapping[str, ColumnSpec],
    aliases: Mapping[str, Sequence[str]] | None,
    p: Path,
    sheet: str | None,
    header_row: int,
) -> list[_Col]:
    normalised = [normalise_header(h) for h in headers]
    positions: dict[str, int] = {}
    for i, h in enumerate(normalised):
        if not h:
            continue
        if h in positions:
            raise InputError(
                f"header {headers[i]!r} appears twice (columns {positions[h] + 1} and {i + 1})",
                file=str(p),
                sheet=sheet,
                row=header_row,
                column=str(headers[i]),
            )
        positions[h] = i
    cols: list[_Col] = []
    missing: list[str] = []
    for name, spec in columns.items():
        candidates = [name, *spec.aliases, *((aliases or {}).get(name, ()))]
        index = None
        for cand in candidates:
            index = positions.get(normalise_header(cand))
            if index is not None:
                break
        if index is None and spec.required:
            missing.append(name)
        cols.append(_Col(name, index, spec, _coercer(spec)))
    if missing:
        found = [str(h) for h in headers if h not in (None, "")]
        hints = []
        used = {c.index for c in cols if c.index is not None}
        spare = [normalised[i] for i in range(len(normalised)) if i not in used and normalised[i]]
        for m in missing:
            close = difflib.get_close_matches(normalise_header(m), spare, n=1, cutoff=0.6)
            if close:
                hints.append(f"{m!r} (renamed to {close[0]!r}?)")
            else:
                hints.append(repr(m))
        raise InputError(
            f"missing required column(s) {', '.join(hints)}; found {found}",
            file=str(p),
            sheet=sheet,
            row=header_row,
            column=missing[0],
        )
    return cols


def read_table(
    path: str | Path,
    columns: Mapping[str, ColumnSpec],
    *,
    sheet: str | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    key: str | Sequence[str] | None = None,
    on_error: ErrorMode = "raise",
    formulas: FormulaMode = "refuse",
    header_row: int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    limits: TableLimits = DEFAULT_LIMITS,
    file_label: str | None = None,
) -> Iterator[Row]:
    """Stream typed rows from an xlsx (first sheet unless ``sheet=``) or a CSV file.

    ``columns`` maps the names you want to :class:`ColumnSpec`; ``aliases`` adds header
    spellings per column at call time. ``key`` names the column(s) that must be unique:
    a repeat is an InputError naming both rows. ``header_row``: 1-based row of the header
    (default: the first non-empty row). Blank rows are skipped. ``formulas="refuse"``
    (default) treats any cell holding a formula (or text starting with ``=``) as an error:
    a register must carry values, not calculations that may not have been evaluated.
    ``file_label`` is the name used in errors (default: the path).
    """
    p = Path(path)
    label = file_label or str(p)
    _check_size(p, limits)
    suffix = p.suffix.lower()
    sheet_title: str | None
    if suffix in (".xlsx", ".xlsm"):
        sheet_title, raw = _xlsx_rows(p, sheet, limits)
    elif suffix in (".csv", ".txt", ".tsv"):
        sheet_title, raw = None, _csv_rows(p, delimiter or ("\t" if suffix == ".tsv" else None), encoding)
    elif suffix == ".xls":
        raise InputError("legacy .xls is not supported; save the file as .xlsx", file=label)
    else:
        with p.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(_XLSX_MAGIC):
            sheet_title, raw = _xlsx_rows(p, sheet, limits)
        else:
            sheet_title, raw = None, _csv_rows(p, delimiter, encoding)
    return _read(raw, columns, p, label, sheet_title, aliases, key, on_error, formulas, header_row, limits)


def _read(
    raw: Iterator[tuple[int, Sequence[Any]]],
    columns: Mapping[str, ColumnSpec],
    p: Path,
    label: str,
    sheet: str | None,
    aliases: Mapping[str, Sequence[str]] | None,
    key: str | Sequence[str] | None,
    on_error: ErrorMode,
    formulas: FormulaMode,
    header_row: int | None,
    limits: TableLimits,
) -> Iterator[Row]:
    lp = Path(label)
    # header
    headers: Sequence[Any] | None = None
    hdr_no = 0
    for n, values in raw:
        if header_row is not None:
            if n == header_row:
                headers, hdr_no = values, n
                break
            continue
        if any(v not in (None, "") for v in values):
            headers, hdr_no = values, n
            break
    if headers is None:
        raise InputError("no header row found (the sheet is empty)", file=label, sheet=sheet)
    cols = _resolve_columns(headers, columns, aliases, lp, sheet, hdr_no)
    plan = [(c.name, c.index, c.coerce, c.spec.nullable) for c in cols]
    key_cols: tuple[str, ...] = () if key is None else ((key,) if isinstance(key, str) else tuple(key))
    seen: dict[Any, int] = {}
    single_key = len(key_cols) == 1
    refuse_formulas = formulas == "refuse"
    max_rows = limits.max_rows
    max_chars = limits.max_cell_chars
    data_rows = 0
    for n, values in raw:
        width = len(values)
        # blank row?
        blank = True
        for v in values:
            if v is not None and (v.__class__ is not str or v.strip()):
                blank = False
                break
        if blank:
            continue
        data_rows += 1
        if max_rows is not None and data_rows > max_rows:
            raise InputError(f"too many rows (limit {max_rows:,})", file=label, sheet=sheet, row=n)
        out: dict[str, Any] = {}
        errors: list[InputError] | None = None
        for name, index, coerce, nullable in plan:
            raw_value = values[index] if index is not None and index < width else None
            is_text = raw_value.__class__ is str
            value: Any = None
            problems: tuple[str, ...] = ()  # no allocation for the good cells of a large file
            if raw_value is None or (is_text and not raw_value):
                if not nullable and index is not None:
                    problems += ("empty cell",)
            elif is_text and refuse_formulas and raw_value[0] == "=":
                problems += (f"formula cell {_show(raw_value)} refused; paste values instead",)
            elif is_text and len(raw_value) > max_chars:
                problems += (f"cell longer than {max_chars:,} characters",)
            else:
                try:
                    value = coerce(raw_value)
                except _CellError as exc:
                    problems += (str(exc),)
                if value is None and not nullable:
                    problems += ("empty cell",)
            for problem in problems:  # one place that raises or collects, for every kind of bad cell
                err = InputError(problem, file=label, sheet=sheet, row=n, column=name)
                if on_error == "raise":
                    raise err from None
                errors = errors or []
                errors.append(err)
            out[name] = value
        if key_cols:
            k: Any = out.get(key_cols[0]) if single_key else tuple(out.get(c) for c in key_cols)
            if (k is not None) if single_key else all(x is not None for x in k):
                first = seen.get(k)
                if first is not None:
                    shown = ", ".join(f"{c}={out.get(c)!s}" for c in key_cols)
                    err = InputError(
                        f"duplicate key {shown} (first seen in row {first})",
                        file=label,
                        sheet=sheet,
                        row=n,
                        column=key_cols[0],
                        code="INPUT-DUPLICATE",
                    )
                    if on_error == "raise":
                        raise err
                    errors = errors or []
                    errors.append(err)
                else:
                    seen[k] = n
        yield Row(n, out, tuple(errors) if errors else (), label, sheet)


# ---------------------------------------------------------------- writing

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def neutralise_formula(text: str) -> str:
    """Make text safe to put in a spreadsheet cell or a CSV export.

    Text that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab,
    carriage return, or their full-width forms) gets a leading apostrophe; characters that
    XML cannot carry are replaced with U+FFFD.
    """
    s = _ILLEGAL_XML.sub("\ufffd", text)
    if s.startswith(_FORMULA_TRIGGERS):
        return "'" + s
    return s


CellKind = Literal["text", "money", "decimal", "int", "date", "datetime", "percent", "bool"]

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
_FORMATS: dict[str, str] = {
    "money": MONEY_FORMAT,
    "decimal": "#,##0.00##",
    "int": "#,##0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "percent": "0.00%",
}


@dataclass(frozen=True)
class ReportColumn:
    """A column of a report sheet: header text, kind (number format) and optional width."""

    header: str
    kind: CellKind = "text"
    width: float | None = None


@dataclass
class Sheet:
    """One sheet: a table with a header row, or (``columns=None``) free rows (e.g. a summary).

    In a free sheet, cells are formatted by value type (Decimal -> money) and ``bold_rows``
    (0-based indexes into ``rows``) are bold, for section titles.
    """

    title: str
    columns: Sequence[ReportColumn] | None
    rows: Iterable[Sequence[Any]]
    freeze: str | None = "A2"
    autofilter: bool = True
    bold_rows: frozenset[int] = field(default_factory=frozenset)
    widths: Sequence[float] | None = None


def _cell_value(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise_formula(value)
    if isinstance(value, datetime):
        # Excel has no time zones: write UTC wall time
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, (Decimal, int, float, date)) or value is None:
        return value
    return neutralise_formula(str(value))


def _safe_title(title: str) -> str:
    t = re.sub(r"[\[\]:*?/\\]", "-", title).strip("'") or "Sheet"
    return t[:31]


def write_report(path: str | Path, sheets: Sequence[Sheet], *, width_sample: int = 200) -> Path:
    """Write a formatted workbook atomically and return its path.

    Tables get a bold, filled, frozen header row, an autofilter over the data, number formats
    by column kind and widths estimated from the header and the first ``width_sample`` rows.
    Rows are streamed (openpyxl write-only mode), so large exception lists stay in flat memory.
    The file appears only when complete: a crash leaves no half-written report.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="305496")
    top = Alignment(vertical="top")
    for spec in sheets:
        ws = wb.create_sheet(_safe_title(spec.title))
        rows_iter = iter(spec.rows)
        head: list[Sequence[Any]] = []
        for r in rows_iter:
            head.append(r)
            if len(head) >= width_sample:
                break
        ncols = len(spec.columns) if spec.columns is not None else max((len(r) for r in head), default=0)
        widths: list[float] = []
        for i in range(ncols):
            if spec.widths is not None and i < len(spec.widths):
                widths.append(spec.widths[i])
                continue
            col = spec.columns[i] if spec.columns is not None else None
            if col is not None and col.width is not None:
                widths.append(col.width)
                continue
            longest = len(col.header) if col is not None else 0
            for r in head:
                if i < len(r) and r[i] is not None:
                    v = r[i]
                    text = f"{v:,.2f}" if isinstance(v, Decimal) else str(v)
                    longest = max(longest, len(text))
            widths.append(min(max(longest + 2, 8), 60))
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        if spec.freeze:
            ws.freeze_panes = spec.freeze
        nrows = 0
        kinds: list[str] | None = None
        if spec.columns is not None:
            kinds = [c.kind for c in spec.columns]
            header_cells = []
            for c in spec.columns:
                cell = WriteOnlyCell(ws, value=neutralise_formula(c.header))
                cell.font = header_font
                cell.fill = header_fill
                header_cells.append(cell)
            ws.append(header_cells)
            nrows = 1
        for data_index, r in enumerate(itertools.chain(head, rows_iter)):
            cells = []
            for i, v in enumerate(r):
                cell = WriteOnlyCell(ws, value=_cell_value(v))
                if kinds is not None:
                    fmt = _FORMATS.get(kinds[i]) if i < len(kinds) else None
                    if fmt and v is not None and not isinstance(v, str):
                        cell.number_format = fmt
                else:
                    if isinstance(v, Decimal):
                        cell.number_format = MONEY_FORMAT
                    elif isinstance(v, datetime):
                        cell.number_format = _FORMATS["datetime"]
                    elif isinstance(v, date):
                        cell.number_format = _FORMATS["date"]
                    if data_index in spec.bold_rows:
                        cell.font = bold
                    cell.alignment = top
                cells.append(cell)
            ws.append(cells)
            nrows += 1
        if spec.autofilter and spec.columns is not None and ncols:
            ws.auto_filter.ref = f"A1:{get_column_letter(ncols)}{max(nrows, 1)}"
    if not sheets:
        raise ValueError("write_report needs at least one sheet")
    fd, tmp_name = tempfile.mkstemp(prefix=".~" + out.name, suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def rows_to_csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with every cell neutralised (for exports a human opens in a spreadsheet)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in rows:
        w.writerow([neutralise_formula(str(v)) if v is not None else "" for v in r])
    return buf.getvalue()
