"""``read_table``: typed rows streamed from an xlsx or CSV file, every problem an InputError.

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
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from backoffice.errors import InputError
from connectors.excel.cells import CellError, ColumnSpec, coercer, remembering, show
from connectors.excel.file_checks import DEFAULT_LIMITS, XLSX_MAGIC, TableLimits, check_size
from connectors.excel.sources import SheetRows, csv_rows, xlsx_rows

__all__ = ["ErrorMode", "FormulaMode", "Row", "normalise_header", "read_table"]


ErrorMode = Literal["raise", "collect"]
FormulaMode = Literal["refuse", "allow"]


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
        cols.append(_Col(name, index, spec, coercer(spec)))
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
    check_size(p, limits)
    suffix = p.suffix.lower()
    sheet_title: str | None
    raw: Iterator[tuple[int, Sequence[Any]]]
    if suffix in (".xlsx", ".xlsm"):
        sheet_title, raw = xlsx_rows(p, sheet, limits)
    elif suffix in (".csv", ".txt", ".tsv"):
        sheet_title, raw = None, csv_rows(p, delimiter or ("\t" if suffix == ".tsv" else None), encoding)
    elif suffix == ".xls":
        raise InputError("legacy .xls is not supported; save the file as .xlsx", file=label)
    else:
        with p.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(XLSX_MAGIC):
            sheet_title, raw = xlsx_rows(p, sheet, limits)
        else:
            sheet_title, raw = None, csv_rows(p, delimiter, encoding)
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
    if isinstance(raw, SheetRows):  # nothing right of the last header is ever read: wide rows cost nothing
        raw.limit_width(max((i + 1 for i, h in enumerate(headers) if h not in (None, "")), default=0))
    # numbers and dates remembered per column (connectors.excel.cells.remembering); text kept as read
    plan = [
        (
            c.name,
            c.index,
            c.coerce if c.spec.type in ("str", "bool") else remembering(c.coerce),
            c.spec.nullable,
        )
        for c in cols
    ]
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
            value: Any = None
            problems: tuple[str, ...] = ()  # no allocation for the good cells of a large file
            if raw_value.__class__ is float:  # a number, most cells of an xlsx: no text checks apply
                try:
                    value = coerce(raw_value)
                except CellError as exc:
                    problems = (str(exc),)
                if value is None and not nullable:
                    problems += ("empty cell",)
                if not problems:
                    out[name] = value
                    continue
            is_text = raw_value.__class__ is str
            if problems:
                pass
            elif raw_value is None or (is_text and not raw_value):
                if not nullable and index is not None:
                    problems += ("empty cell",)
            elif is_text and refuse_formulas and raw_value[0] == "=":
                problems += (f"formula cell {show(raw_value)} refused; paste values instead",)
            elif is_text and len(raw_value) > max_chars:
                problems += (f"cell longer than {max_chars:,} characters",)
            else:
                try:
                    value = coerce(raw_value)
                except CellError as exc:
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
