"""Raw row sources: ``(row number, cell values)`` streamed from an xlsx sheet or a CSV file.

xlsx is opened by openpyxl in read-only mode after :func:`check_xlsx`; CSV encoding (UTF-8 or
cp1252) and delimiter (``,`` ``;`` tab ``|``) are sniffed from the first 64 KiB unless given.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from connectors.excel.file_checks import OLE_MAGIC, XLSX_MAGIC, TableLimits, check_xlsx, file_error

__all__ = ["csv_rows", "xlsx_rows"]


def xlsx_rows(
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
        raise file_error(p, f"corrupt xlsx: {type(exc).__name__}: {exc}") from exc
    try:
        if sheet is None:
            ws = wb.worksheets[0] if wb.worksheets else None
            if ws is None:
                raise file_error(p, "workbook has no worksheets")
        else:
            if sheet not in wb.sheetnames:
                wb.close()
                raise file_error(p, f"no sheet named {sheet!r}; sheets are {wb.sheetnames}")
            ws = wb[sheet]
        title = ws.title
        if not hasattr(ws, "reset_dimensions"):
            raise file_error(p, f"sheet {title!r} is a chartsheet, not a table", sheet=title)
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
