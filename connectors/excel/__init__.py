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
money number formats and column widths; every text cell passes :func:`neutralise_formula`
(the core's, :mod:`backoffice.safety`).

One idea per module: :mod:`.cells` (column types and cell coercion), :mod:`.file_checks`
(limits, zip bombs, encrypted workbooks), :mod:`.sources` (raw xlsx/CSV rows),
:mod:`.reading` (``read_table``) and :mod:`.report` (``write_report``).
"""

from __future__ import annotations

from backoffice.safety import neutralise_formula
from connectors.excel.cells import ColumnSpec
from connectors.excel.file_checks import TableLimits, check_xlsx
from connectors.excel.reading import Row, normalise_header, read_table
from connectors.excel.report import ReportColumn, Sheet, write_report

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
