"""connectors.excel: a large sheet read in slices gives the rows, values, numbers and messages
of the whole-sheet read (``connectors.excel.sources._sliced_gen``)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from backoffice.errors import InputError
from connectors.excel import ColumnSpec, read_table, sources

COLUMNS = {
    "employee_id": ColumnSpec("str"),
    "name": ColumnSpec("str", required=False, nullable=True),
    "gross": ColumnSpec("money"),
    "hours": ColumnSpec("decimal", required=False, nullable=True),
    "pay_date": ColumnSpec("date"),
    "count": ColumnSpec("int", required=False, nullable=True),
    "active": ColumnSpec("bool", required=False, nullable=True),
}


def _workbook(
    path: Path, rows: int, *, write_only: bool, gap_every: int = 37, offset_columns: int = 0
) -> Path:
    """Shared strings (a normal workbook) or inline strings (write-only), dates, booleans, bad
    cells, empty rows and runs of absent rows, a second sheet."""
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("Register")
    pad: list[Any] = [None] * offset_columns
    ws.append([*pad, "employee_id", "name", "gross", "hours", "pay_date", "count", "active"])
    for i in range(rows):
        if i % gap_every == 5:
            ws.append([])  # an empty row (write-only: a <row> with no cell)
        bad = i % 101 == 7
        ws.append(
            [
                *pad,
                f"E{i:05d}" if i % 211 != 3 else f"E{i - 1:05d}",  # a repeated key now and then
                f"Name {i % 13}" if i % 17 else None,
                "n/a" if bad else round(1000 + i * 1.25, 2),
                i % 45,
                date(2024, 1, 1 + i % 28) if i % 19 else datetime(2024, 2, 1, 8, 30),
                i if i % 5 else None,
                bool(i % 2),
            ]
        )
    other = wb.create_sheet("Notes")
    other.append(["a note"])
    wb.save(path)
    return path if write_only else _shared_strings(path)


_INLINE = re.compile(rb'<c ([^>]*?)t="inlineStr"([^>]*)><is><t[^>]*>(.*?)</t></is></c>', re.DOTALL)


def _shared_strings(path: Path) -> Path:
    """The workbook with its text cells in a sharedStrings part, as Excel writes them (openpyxl
    writes inline strings)."""
    table: dict[bytes, int] = {}

    def shared(m: re.Match[bytes]) -> bytes:
        index = table.setdefault(m.group(3), len(table))
        return b"<c " + m.group(1) + b't="s"' + m.group(2) + b"><v>" + str(index).encode() + b"</v></c>"

    with zipfile.ZipFile(path) as zin:
        parts = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    for name in [n for n in parts if n.startswith("xl/worksheets/")]:
        parts[name] = _INLINE.sub(shared, parts[name])
    sst = b"".join(b"<si><t>" + text + b"</t></si>" for text in table)
    parts["xl/sharedStrings.xml"] = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
        % (len(table), len(table))
        + sst
        + b"</sst>"
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    return path


def _rows(path: Path, **kwargs: Any) -> list[tuple[int, dict[str, Any], list[str]]]:
    return [
        (r.number, {k: (type(v), v) for k, v in r.items()}, [str(e) for e in r.errors])
        for r in read_table(path, COLUMNS, key="employee_id", on_error="collect", **kwargs)
    ]


def _sliced(monkeypatch: pytest.MonkeyPatch, slice_bytes: int) -> list[Any]:
    """Read every sheet in slices of ``slice_bytes``; returns the row sources opened."""
    monkeypatch.setattr(sources, "SLICED_SHEET_BYTES", 0)
    monkeypatch.setattr(sources, "SLICE_BYTES", slice_bytes)
    opened: list[Any] = []
    real = sources._sliced_gen

    def spy(*args: Any) -> Any:
        opened.append(args)
        return real(*args)

    monkeypatch.setattr(sources, "_sliced_gen", spy)
    return opened


@pytest.mark.parametrize("write_only", [True, False], ids=["inline-strings", "shared-strings"])
@pytest.mark.parametrize("offset_columns", [0, 2])
def test_slices_read_as_the_whole_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_only: bool, offset_columns: int
) -> None:
    path = _workbook(tmp_path / "r.xlsx", 1500, write_only=write_only, offset_columns=offset_columns)
    whole = _rows(path, sheet="Register")
    assert len(whole) == 1500 and any(errors for _, _, errors in whole)
    with zipfile.ZipFile(path) as zf:
        shared = any(n.endswith("sharedStrings.xml") for n in zf.namelist())
    assert shared is not write_only
    assert whole[0][:2] == (2, {"employee_id": (str, "E00000"), "name": (type(None), None),
        "gross": (Decimal, Decimal("1000.00")), "hours": (Decimal, Decimal("0")),
        "pay_date": (date, date(2024, 2, 1)), "count": (type(None), None), "active": (bool, False)})  # fmt: skip
    opened = _sliced(monkeypatch, 3000)  # a few dozen rows a slice
    assert _rows(path, sheet="Register") == whole
    assert opened, "the sheet was read in slices"


def _rewrite(src: Path, dst: Path, fn: Callable[[bytes], bytes]) -> Path:
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, fn(data) if info.filename == member else data)
    return dst


def test_absent_rows_between_slices_keep_the_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _workbook(tmp_path / "b.xlsx", 400, write_only=True)

    def renumber(xml: bytes) -> bytes:  # every data row 10 rows further down than the one before
        def row(m: re.Match[bytes]) -> bytes:
            n = int(m.group(1))
            new = n if n == 1 else 1 + (n - 1) * 10
            return re.sub(rb'r="([A-Z]+)' + m.group(1) + rb'"', lambda c: b'r="' + c.group(1) + str(new).encode() + b'"',
                          m.group(0).replace(b'<row r="' + m.group(1) + b'"', b'<row r="' + str(new).encode() + b'"', 1))  # fmt: skip

        return re.sub(rb'<row r="(\d+)".*?</row>', row, xml, flags=re.DOTALL)

    spread = _rewrite(base, tmp_path / "spread.xlsx", renumber)
    whole = _rows(spread, sheet="Register")
    assert whole[0][0] == 11 and whole[1][0] == 21
    _sliced(monkeypatch, 2000)
    assert _rows(spread, sheet="Register") == whole
    # a header row given by number: an absent row between slices is an empty row, as in the whole read
    with pytest.raises(InputError) as whole_err:
        list(read_table(spread, COLUMNS, sheet="Register", header_row=3905))
    monkeypatch.setattr(sources, "SLICED_SHEET_BYTES", 1 << 40)
    with pytest.raises(InputError) as sliced_err:
        list(read_table(spread, COLUMNS, sheet="Register", header_row=3905))
    assert str(sliced_err.value) == str(whole_err.value)


def test_a_row_without_its_number_reads_the_sheet_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _workbook(tmp_path / "b.xlsx", 200, write_only=True)
    unnumbered = _rewrite(base, tmp_path / "u.xlsx", lambda xml: xml.replace(b'<row r="50">', b"<row>", 1))
    with zipfile.ZipFile(unnumbered) as zf:
        member = sources._sheet_parts(zf)["Register"]
        assert not sources.scan_sheet(zf, member).sliceable
    whole = _rows(unnumbered, sheet="Register")
    opened = _sliced(monkeypatch, 2000)
    assert _rows(unnumbered, sheet="Register") == whole
    assert not opened


def test_broken_xml_in_a_slice_is_a_corrupt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _workbook(tmp_path / "b.xlsx", 300, write_only=True)
    broken = _rewrite(base, tmp_path / "x.xlsx", lambda xml: xml.replace(b"</sheetData>", b""))
    _sliced(monkeypatch, 2000)
    with pytest.raises(InputError, match="corrupt xlsx while reading rows"):
        list(read_table(broken, COLUMNS, sheet="Register", on_error="collect"))
