"""Formatted xlsx reports, written atomically::

    write_report("out.xlsx", [Sheet("Exceptions", [ReportColumn("Employee"),
                                                   ReportColumn("Amount", "money")], rows)])

Bold frozen headers, an autofilter, money number formats and column widths; every text cell
passes :func:`backoffice.safety.neutralise_formula`. Rows are streamed (openpyxl write-only).
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from backoffice.safety import neutralise_formula

__all__ = ["MONEY_FORMAT", "CellKind", "ReportColumn", "Sheet", "write_report"]


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
