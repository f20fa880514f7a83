"""connectors.excel: typed streaming reads of xlsx/CSV, hostile files, formatted reports."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from backoffice.errors import InputError
from connectors.excel import (
    ColumnSpec,
    ReportColumn,
    Sheet,
    TableLimits,
    neutralise_formula,
    read_table,
    write_report,
)

COLUMNS = {
    "employee_id": ColumnSpec("str", aliases=("emp id",)),
    "gross": ColumnSpec("money"),
    "hours": ColumnSpec("decimal", required=False, nullable=True),
    "pay_date": ColumnSpec("date"),
    "count": ColumnSpec("int", required=False, nullable=True),
}


def make_xlsx(path: Path, rows: list[list[object]], title: str = "Register") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_reads_typed_rows_from_xlsx_with_alias_and_blank_rows(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [
            [None],
            ["Emp ID", "Gross", "Pay_Date", "Hours", "Extra"],
            [1001, 5000.1, datetime(2024, 1, 31), 160, "x"],
            [None, None, None, None, None],
            ["E-2", "1.234,50", "2024-01-31", "12.5", None],
        ],
    )
    rows = list(read_table(f, COLUMNS))
    assert [r.number for r in rows] == [3, 5]
    assert rows[0]["employee_id"] == "1001"
    assert rows[0]["gross"] == Decimal("5000.10")
    assert rows[0]["pay_date"] == date(2024, 1, 31)
    assert rows[0]["hours"] == Decimal("160")
    assert rows[0]["count"] is None
    assert rows[1]["gross"] == Decimal("1234.50")
    assert rows[1]["hours"] == Decimal("12.5")
    assert rows[1].sheet == "Register"
    assert dict(rows[1])["employee_id"] == "E-2"


def test_reads_csv_with_semicolons_and_bom(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("\ufeffemployee_id;gross;pay_date\nA1;1.000,00;31.01.2024\nA2;(12,30);2024-02-01\n", "utf-8")
    rows = list(read_table(f, COLUMNS))
    assert [(r["employee_id"], r["gross"], r["pay_date"]) for r in rows] == [
        ("A1", Decimal("1000.00"), date(2024, 1, 31)),
        ("A2", Decimal("-12.30"), date(2024, 2, 1)),
    ]
    assert rows[0].number == 2


def test_cp1252_csv_is_read(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_bytes("employee_id,gross,pay_date\nMüller,1,2024-01-01\n".encode("cp1252"))
    assert next(read_table(f, COLUMNS))["employee_id"] == "Müller"


def test_missing_column_names_file_sheet_and_suggests_rename(tmp_path: Path) -> None:
    f = make_xlsx(tmp_path / "r.xlsx", [["employee_id", "gross_pay", "pay_date"], ["1", 1, "2024-01-01"]])
    with pytest.raises(InputError) as ei:
        list(read_table(f, COLUMNS))
    err = ei.value
    assert err.file == str(f) and err.sheet == "Register" and err.row == 1 and err.column == "gross"
    assert "missing required column" in str(err) and "gross pay" in str(err)


def test_text_in_money_column_names_row_and_column(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [["employee_id", "gross", "pay_date"], ["1", 10, "2024-01-01"], ["2", "ten euros", "2024-01-01"]],
    )
    with pytest.raises(InputError) as ei:
        list(read_table(f, COLUMNS))
    assert (ei.value.row, ei.value.column, ei.value.sheet) == (3, "gross", "Register")
    assert "expected an amount" in str(ei.value) and "ten euros" in str(ei.value)


def test_collect_mode_yields_bad_rows_with_errors(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [
            ["employee_id", "gross", "pay_date", "count"],
            ["1", 10, "2024-01-01", 1.5],
            ["2", 20, "not a date", 2],
            ["3", 30, "2024-01-01", None],
        ],
    )
    rows = list(read_table(f, COLUMNS, on_error="collect"))
    assert [r.ok for r in rows] == [False, False, True]
    assert rows[0].errors[0].column == "count" and "whole number" in rows[0].errors[0].message
    assert rows[1].errors[0].column == "pay_date" and rows[1]["pay_date"] is None
    assert rows[2]["gross"] == Decimal("30.00")


def test_empty_required_cell_is_an_error(tmp_path: Path) -> None:
    f = make_xlsx(tmp_path / "r.xlsx", [["employee_id", "gross", "pay_date"], ["1", None, "2024-01-01"]])
    with pytest.raises(InputError, match="empty cell") as ei:
        list(read_table(f, COLUMNS))
    assert ei.value.column == "gross"


def test_duplicate_key_names_both_rows(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [
            ["employee_id", "gross", "pay_date"],
            ["7", 1, "2024-01-01"],
            ["8", 1, "2024-01-01"],
            [7, 2, "2024-01-01"],
        ],
    )
    with pytest.raises(InputError) as ei:
        list(read_table(f, COLUMNS, key="employee_id"))
    assert ei.value.row == 4 and "first seen in row 2" in str(ei.value) and ei.value.code == "INPUT-DUPLICATE"
    rows = list(read_table(f, COLUMNS, key="employee_id", on_error="collect"))
    assert [r.ok for r in rows] == [True, True, False]


def test_formula_cells_are_refused(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx", [["employee_id", "gross", "pay_date"], ["1", "=SUM(A1:A3)", "2024-01-01"]]
    )
    with pytest.raises(InputError, match="formula") as ei:
        list(read_table(f, COLUMNS))
    assert (ei.value.row, ei.value.column) == (2, "gross")
    assert next(read_table(f, {"gross": ColumnSpec("str")}, formulas="allow"))["gross"] == "=SUM(A1:A3)"


def test_formula_like_text_in_csv_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text('employee_id,gross,pay_date\n"=HYPERLINK(""http://x"")",1,2024-01-01\n')
    with pytest.raises(InputError, match="formula") as ei:
        list(read_table(f, COLUMNS))
    assert ei.value.column == "employee_id"


def test_not_a_zip_xlsx(tmp_path: Path) -> None:
    f = tmp_path / "r.xlsx"
    f.write_text("employee_id,gross\n1,2\n")
    with pytest.raises(InputError, match="not a zip") as ei:
        list(read_table(f, COLUMNS))
    assert ei.value.file == str(f)


def test_encrypted_or_legacy_workbook(tmp_path: Path) -> None:
    f = tmp_path / "r.xlsx"
    f.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    with pytest.raises(InputError, match="encrypted"):
        list(read_table(f, COLUMNS))


def test_truncated_zip(tmp_path: Path) -> None:
    good = make_xlsx(tmp_path / "g.xlsx", [["employee_id", "gross", "pay_date"], ["1", 1, "2024-01-01"]])
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(good.read_bytes()[:300])
    with pytest.raises(InputError, match="corrupt"):
        list(read_table(bad, COLUMNS))


def test_zip_without_workbook(tmp_path: Path) -> None:
    f = tmp_path / "r.xlsx"
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(InputError, match=r"xl/workbook\.xml"):
        list(read_table(f, COLUMNS))


def test_zip_bomb_is_refused_before_openpyxl(tmp_path: Path) -> None:
    f = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(InputError, match="zip bomb") as ei:
        list(read_table(f, COLUMNS))
    assert "sheet1.xml" in str(ei.value)
    with pytest.raises(InputError, match="zip bomb"):
        list(read_table(f, COLUMNS, limits=TableLimits(max_member_ratio=10**6, max_uncompressed_bytes=1024)))


def test_file_size_and_row_limits(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("employee_id,gross,pay_date\n" + "1,1,2024-01-01\n2,1,2024-01-01\n3,1,2024-01-01\n")
    with pytest.raises(InputError, match="too large"):
        list(read_table(f, COLUMNS, limits=TableLimits(max_file_bytes=10)))
    with pytest.raises(InputError, match="too many rows") as ei:
        list(read_table(f, COLUMNS, limits=TableLimits(max_rows=2)))
    assert ei.value.row == 4


def test_binary_csv_missing_file_and_empty_sheet(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_bytes(b"a,b\x00c\n")
    with pytest.raises(InputError, match="NUL"):
        list(read_table(f, COLUMNS))
    with pytest.raises(InputError, match="not found"):
        list(read_table(tmp_path / "nope.csv", COLUMNS))
    e = make_xlsx(tmp_path / "e.xlsx", [])
    with pytest.raises(InputError, match="empty"):
        list(read_table(e, COLUMNS))


def test_duplicate_header_and_unknown_sheet(tmp_path: Path) -> None:
    f = make_xlsx(tmp_path / "r.xlsx", [["employee_id", "Gross", "gross", "pay_date"]])
    with pytest.raises(InputError, match="appears twice"):
        list(read_table(f, COLUMNS))
    with pytest.raises(InputError, match="no sheet named 'X'"):
        list(read_table(f, COLUMNS, sheet="X"))


def test_wrong_dimension_tag_does_not_truncate(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [["employee_id", "gross", "pay_date"]] + [[str(i), i, "2024-01-01"] for i in range(50)],
    )
    # rewrite the sheet's <dimension> to claim a single cell, as some exporters do
    src = zipfile.ZipFile(f)
    out = tmp_path / "dim.xlsx"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:C51"/>', b'<dimension ref="A1"/>')
            dst.writestr(info, data)
    src.close()
    assert len(list(read_table(out, COLUMNS))) == 50


def test_neutralise_formula() -> None:
    assert neutralise_formula("=1+2") == "'=1+2"
    assert neutralise_formula("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_formula("+49 30") == "'+49 30"
    assert neutralise_formula("\uff1dcmd") == "'\uff1dcmd"
    assert neutralise_formula("ok\x07bell") == "ok\ufffdbell"
    assert neutralise_formula("Jane Doe") == "Jane Doe"


def test_write_report_formats_and_is_safe(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.xlsx"
    rows = [
        ["E1", "=cmd|' /C calc'!A0", Decimal("1234.5"), date(2024, 1, 31)],
        ["E2", "ok", Decimal("-1"), None],
    ]
    summary = Sheet(
        "Summary",
        None,
        [["Control totals"], ["Register gross", Decimal("10.00")]],
        freeze=None,
        bold_rows=frozenset({0}),
    )
    write_report(
        out,
        [
            summary,
            Sheet(
                "Exceptions",
                [
                    ReportColumn("Employee"),
                    ReportColumn("Message"),
                    ReportColumn("Amount", "money"),
                    ReportColumn("Date", "date"),
                ],
                rows,
            ),
        ],
    )
    wb = load_workbook(out)
    ws = wb["Exceptions"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:D3"
    assert ws["A1"].font.bold
    assert ws["B2"].value == "'=cmd|' /C calc'!A0" and ws["B2"].data_type == "s"
    assert ws["C2"].value == 1234.5 and ws["C2"].number_format.startswith("#,##0.00")
    assert ws["D2"].number_format == "yyyy-mm-dd"
    assert ws.column_dimensions["B"].width > 10
    s = wb["Summary"]
    assert s["A1"].font.bold and s["B2"].number_format.startswith("#,##0.00")
    assert not list(tmp_path.joinpath("sub").glob(".~*"))


def test_write_report_leaves_nothing_when_rows_fail(tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"

    def rows():
        yield ["a"]
        raise InputError("source broke", file="x.csv", row=9)

    with pytest.raises(InputError):
        write_report(out, [Sheet("T", [ReportColumn("A")], rows())])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_datetime_written_as_utc(tmp_path: Path) -> None:
    out = write_report(
        tmp_path / "r.xlsx",
        [Sheet("T", [ReportColumn("When", "datetime")], [[datetime(2024, 1, 1, 12, tzinfo=UTC)]])],
    )
    assert load_workbook(out)["T"]["A2"].value == datetime(2024, 1, 1, 12)


# ---------------------------------------------------------------- python-calamine and its fallbacks


def _rewrite_member(src: Path, dst: Path, member: str, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, edit(data) if info.filename == member else data)
    return dst


def _spy_sources(monkeypatch: pytest.MonkeyPatch) -> list:
    """Capture the row sources read_table opens (to count the cells they hand out)."""
    from connectors.excel import reading

    opened: list = []
    real = reading.xlsx_rows

    def spy(*args, **kwargs):
        title, rows = real(*args, **kwargs)
        opened.append(rows)
        return title, rows

    monkeypatch.setattr(reading, "xlsx_rows", spy)
    return opened


def test_wide_rows_cost_no_more_than_narrow_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 20_000
    narrow = make_xlsx(
        tmp_path / "narrow.xlsx",
        [["employee_id", "gross", "pay_date"]] + [[f"E{i}", i + 0.5, "2024-01-31"] for i in range(n)],
    )
    import re

    def add_xfd(xml: bytes) -> bytes:  # a stray cell in the last column (XFD) of every data row
        return re.sub(
            rb'(<row r="(\d+)"[^>]*>.*?)</row>',
            lambda m: (
                m.group(1)
                + (
                    b'<c r="XFD' + m.group(2) + b'" t="inlineStr"><is><t>x</t></is></c>'
                    if m.group(2) != b"1"
                    else b""
                )
                + b"</row>"
            ),
            xml,
            flags=re.DOTALL,
        )

    wide = _rewrite_member(narrow, tmp_path / "wide.xlsx", "xl/worksheets/sheet1.xml", add_xfd)
    with zipfile.ZipFile(wide) as zf:
        assert zf.read("xl/worksheets/sheet1.xml").count(b'r="XFD') == n
    opened = _spy_sources(monkeypatch)
    rows_narrow = [(r.number, dict(r)) for r in read_table(narrow, COLUMNS)]
    rows_wide = [(r.number, dict(r)) for r in read_table(wide, COLUMNS)]
    assert rows_wide == rows_narrow and len(rows_wide) == n
    assert rows_narrow[0] == (2, {"employee_id": "E0", "gross": Decimal("0.50"), "hours": None,
                                  "pay_date": date(2024, 1, 31), "count": None})  # fmt: skip
    cells_narrow, cells_wide = (src.cells for src in opened)
    assert cells_narrow == 3 * (n + 1)
    assert cells_wide <= cells_narrow + 16_384  # only the header row is seen at full width


def test_a_cell_far_out_does_not_make_a_dense_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = make_xlsx(tmp_path / "g.xlsx", [["employee_id", "gross", "pay_date"], ["1", 1, "2024-01-01"]])
    far = _rewrite_member(
        good,
        tmp_path / "far.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(
            b"</sheetData>",
            b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
        ),
    )
    from connectors.excel.sources import scan_sheet

    with zipfile.ZipFile(far) as zf:
        scan = scan_sheet(zf, "xl/worksheets/sheet1.xml")
    assert (scan.max_column, scan.max_row) == (16_384, 1_048_576)  # 17 billion cells if read densely
    opened = _spy_sources(monkeypatch)
    rows = list(read_table(far, COLUMNS, on_error="collect"))
    assert [r.number for r in rows] == [2] and rows[0]["gross"] == Decimal("1.00")
    assert opened[0].cells <= 3 * 1_048_576  # the empty rows up to the far one, each at the header's width


def test_calamine_values_match_what_openpyxl_gave(tmp_path: Path) -> None:
    """Numbers, dates, text, a sheet starting at column C and below row 1: same values and numbers."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Register"
    ws["C3"], ws["D3"], ws["E3"], ws["F3"], ws["G3"] = "employee_id", "gross", "hours", "pay_date", "count"
    ws["C4"], ws["D4"], ws["E4"], ws["F4"], ws["G4"] = 1001, 5000.1, 160, datetime(2024, 1, 31), 7
    ws["C5"], ws["D5"], ws["E5"], ws["F5"] = "E-2", 12, 12.5, date(2024, 2, 1)
    wb.save(tmp_path / "r.xlsx")
    rows = list(read_table(tmp_path / "r.xlsx", COLUMNS))
    assert [r.number for r in rows] == [4, 5]
    assert dict(rows[0]) == {"employee_id": "1001", "gross": Decimal("5000.10"), "hours": Decimal("160"),
                             "pay_date": date(2024, 1, 31), "count": 7}  # fmt: skip
    assert str(rows[0]["hours"]) == "160" and str(rows[1]["hours"]) == "12.5"
    assert rows[1]["gross"] == Decimal("12.00") and rows[1].sheet == "Register"
    ws["D6"], ws["C6"], ws["F6"] = "x", "E-3", "2024-01-01"
    ws["C7"], ws["D7"], ws["F7"] = "E-4", "y", "z"
    ws["C3"] = "gross"
    wb.save(tmp_path / "dup.xlsx")
    with pytest.raises(InputError, match=r"appears twice \(columns 3 and 4\)"):
        list(read_table(tmp_path / "dup.xlsx", COLUMNS))


def test_date_and_error_cells_keep_their_messages(tmp_path: Path) -> None:
    f = make_xlsx(
        tmp_path / "r.xlsx",
        [
            ["employee_id", "gross", "pay_date", "count"],
            ["1", datetime(2024, 1, 31), "2024-01-01", datetime(2024, 1, 31)],
        ],
    )
    rows = list(read_table(f, COLUMNS, on_error="collect"))
    messages = [str(e).rsplit(": ", 1)[-1] for e in rows[0].errors]
    assert "expected an amount, got datetime 2024-01-31 00:00:00" in messages  # not "date 2024-01-31"
    assert "expected a whole number, got datetime" in messages
    wb = Workbook()
    ws = wb.active
    ws.append(["employee_id", "gross", "pay_date"])
    ws.append(["1", "#N/A", "2024-01-01"])
    assert ws["B2"].data_type == "e"  # an error cell, which calamine would give as ''
    wb.save(tmp_path / "e.xlsx")
    with pytest.raises(InputError, match="expected an amount, got text '#N/A'"):
        list(read_table(tmp_path / "e.xlsx", COLUMNS))


def test_strict_ooxml_workbook_is_named(tmp_path: Path) -> None:
    good = make_xlsx(tmp_path / "g.xlsx", [["employee_id", "gross", "pay_date"], ["1", 1, "2024-01-01"]])
    strict = _rewrite_member(
        good,
        tmp_path / "strict.xlsx",
        "xl/workbook.xml",
        lambda xml: xml.replace(
            b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
            b"http://purl.oclc.org/ooxml/spreadsheetml/main",
        ),
    )
    with pytest.raises(InputError, match=r"strict OOXML.*save it as a normal \.xlsx") as ei:
        list(read_table(strict, COLUMNS))
    assert ei.value.file == str(strict)


def test_chartsheet_and_first_worksheet(tmp_path: Path) -> None:
    from openpyxl.chart import BarChart

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["employee_id", "gross", "pay_date"])
    ws.append(["1", 2, "2024-01-01"])
    cs = wb.create_chartsheet("Chart", 0)
    cs.add_chart(BarChart())
    wb.save(tmp_path / "c.xlsx")
    assert [r["employee_id"] for r in read_table(tmp_path / "c.xlsx", COLUMNS)] == ["1"]
    with pytest.raises(InputError, match="chartsheet"):
        list(read_table(tmp_path / "c.xlsx", COLUMNS, sheet="Chart"))


def test_repeated_values_are_read_once_and_shared_and_bad_cells_stay_bad(tmp_path: Path) -> None:
    """A column's numbers and dates are remembered by the raw cell for one read (one object per
    distinct value): the values are the ones each cell reads as, a bad cell fails every time it
    appears with its own message, and values that compare equal but differ (1.0 and TRUE, 40
    and 40.0) are never mixed up."""
    f = tmp_path / "r.csv"
    f.write_text(
        "employee_id,gross,hours,pay_date\n"
        "E1,100.50,40,2024-01-31\n"
        "E2,100.50,40.0,2024-01-31\n"
        "E3,abc,40,2024-01-31\n"
        "E4,abc,40,31.01.2024\n",
        encoding="utf-8",
    )
    rows = list(read_table(f, COLUMNS, on_error="collect"))
    assert [str(r["hours"]) for r in rows] == ["40", "40.0", "40", "40"]
    assert rows[0]["hours"] is rows[2]["hours"]  # one Decimal for every "40" cell
    assert rows[0]["pay_date"] is rows[1]["pay_date"] == date(2024, 1, 31) == rows[3]["pay_date"]
    assert rows[0]["gross"] == rows[1]["gross"] == Decimal("100.50")
    messages = [[str(e).split(": ", 1)[1] for e in r.errors] for r in rows]
    assert messages == [[], [], *[["expected an amount, got text 'abc'", "empty cell"]] * 2]
    assert [e.row for r in rows[2:] for e in r.errors] == [4, 4, 5, 5]

    x = make_xlsx(tmp_path / "b.xlsx", [["employee_id", "gross", "hours", "pay_date"]])
    wb = load_workbook(x)
    ws = wb.active
    ws.append(["E1", 10, 1.0, datetime(2024, 1, 31)])
    ws.append(["E2", 10, True, datetime(2024, 1, 31)])
    wb.save(x)
    got = list(read_table(x, COLUMNS, on_error="collect"))
    assert got[0]["hours"] == Decimal(1) and not got[0].errors
    assert got[1]["hours"] is None and "expected an amount" in str(got[1].errors[0])
