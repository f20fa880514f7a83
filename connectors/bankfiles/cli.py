"""``backoffice extract statement FILE...`` and ``backoffice extract payments FILE...``.

The bank-file readers as commands (contributed to the ``extract`` group by the payroll bot's
``commands()``, next to the invoice bot's ``extract invoice``). With ``--json`` each prints one
JSON object per file, one per line::

    {"file": ..., "format": "mt940" | "mt942" | "camt.052" | "camt.053" | "camt.054" | null,
     "statements": [{"id", "account", "currency", "opening", "closing", "opening_date",
                     "closing_date", "available", "balanced", "entries": [{"amount" (signed),
                     "currency", "booking_date", "value_date", "end_to_end_id", "counterparty",
                     "counterparty_account", "reference", "remittance", "reversal", "type", "line"}]}],
     "control": {"statements", "entries", "credits", "debits", "unbalanced"},
     "errors": [{"code", "message", "file", "line"}], "warnings": [{"code", "message", "file", "line"}]}

    {"file": ..., "format": "pain.001" | "nacha" | "csv" | null,
     "payments": [{"amount", "currency", "end_to_end_id", "name", "account", "employee_id",
                   "routing", "bic", "remittance", "line"}],
     "control": {"count", "total", "declared_count", "declared_total", "problems"},
     "errors": [...], "warnings": [...]}

Money is a string of the Decimal (``"-30.00"``), dates ``YYYY-MM-DD``, ``null`` where absent. A
file that cannot be read still gets its object, with its refusal in ``errors`` (code, message,
line); the exit code is 1 when any file was refused. A declared total that disagrees with the
content (a statement that does not balance, a payment file whose NbOfTxs/CtrlSum or NACHA control
totals are off) is a warning (``BALANCE-MISMATCH``, ``CONTROL-MISMATCH``), not a refusal.
Without ``--json``: a table per command, readable at 80 columns, then the errors and warnings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from backoffice.cli.tables import Col, table
from backoffice.errors import InputError
from connectors.bankfiles.accounts import mask_account
from connectors.bankfiles.detect import read_payment_file, read_statement
from connectors.bankfiles.notices import Notice
from connectors.bankfiles.payments import PaymentFile
from connectors.bankfiles.sniff import sniff
from connectors.bankfiles.statements import Statement

__all__ = ["app", "payments_record", "statement_record"]

app = typer.Typer(help="Extract structured data from documents.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Extract structured data from documents (``backoffice extract statement|payments ...``)."""


def _money(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _line(locator: str) -> int | None:
    tail = locator.rsplit(" ", 1)[-1]
    return int(tail) if locator.startswith(("line ", "row ")) and tail.isdigit() else None


def _error(exc: InputError, file: str) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "file": exc.file or file, "line": exc.row}


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")))
        else:
            out.append(p)
    return out


def _sniffed(path: Path) -> str | None:
    try:
        kind = sniff(path) if path.is_file() else None
    except OSError:
        return None
    return None if kind in (None, "xml", "zip") else kind


def _statement_json(st: Statement, show: Callable[[str], str]) -> dict[str, Any]:
    entries = []
    for e in st.entries:
        tx = e.transactions[0] if e.transactions else None
        entries.append(
            {
                "amount": _money(e.amount),
                "currency": e.currency,
                "booking_date": _day(e.booking_date),
                "value_date": _day(e.value_date),
                "end_to_end_id": tx.end_to_end_id if tx else None,
                "counterparty": tx.partner_name if tx else None,
                "counterparty_account": show(tx.partner_account) if tx and tx.partner_account else None,
                "reference": (tx.reference if tx else None) or e.acct_svcr_ref,
                "remittance": tx.remittance if tx else None,
                "reversal": e.reversal,
                "type": e.tx_type,
                "status": e.status,
                "line": _line(e.locator),
            }
        )
    return {
        "id": st.id,
        "account": show(st.account) if st.account else st.account,
        "currency": st.currency,
        "opening": _money(st.opening),
        "closing": _money(st.closing),
        "opening_date": _day(st.opening_date),
        "closing_date": _day(st.closing_date),
        "available": _money(st.available),
        "balanced": st.balanced,
        "entries": entries,
    }


def _notices(notices: list[Notice], file: str) -> list[dict[str, Any]]:
    return [n.to_dict(file) for n in notices]


def statement_record(path: Path, *, mask: bool = False) -> dict[str, Any]:
    """The JSON record of one statement file; a refused file gives the record with its error."""
    label = str(path)
    show = mask_account if mask else str
    record: dict[str, Any] = {"file": label, "format": None, "statements": [], "control": None}
    try:
        statements = read_statement(path)
    except InputError as exc:
        record.update(format=_sniffed(path), errors=[_error(exc, label)], warnings=[])
        return record
    warnings: list[dict[str, Any]] = []
    for st in statements:
        warnings.extend(_notices(st.warnings, st.file or label))
        if st.balanced is False:
            warnings.append(
                {
                    "code": "BALANCE-MISMATCH",
                    "message": f"statement {st.id!r}: opening {st.opening} + credits {st.credits} - debits "
                    f"{st.debits} is not the closing balance {st.closing} (off by {st.balance_difference()})",
                    "file": st.file or label,
                    "line": st.line,
                }
            )
    record.update(
        format=statements[0].kind if statements else None,
        statements=[_statement_json(st, show) for st in statements],
        control={
            "statements": len(statements),
            "entries": sum(len(st.entries) for st in statements),
            "credits": _money(sum((st.credits for st in statements), Decimal("0"))),
            "debits": _money(sum((st.debits for st in statements), Decimal("0"))),
            "unbalanced": [st.id for st in statements if st.balanced is False],
        },
        errors=[],
        warnings=warnings,
    )
    return record


def payments_record(path: Path, *, mask: bool = False) -> dict[str, Any]:
    """The JSON record of one payment file; a refused file gives the record with its error."""
    label = str(path)
    show = mask_account if mask else str
    record: dict[str, Any] = {"file": label, "format": None, "payments": [], "control": None}
    try:
        pf: PaymentFile = read_payment_file(path)
    except InputError as exc:
        record.update(format=_sniffed(path), errors=[_error(exc, label)], warnings=[])
        return record
    problems = pf.control_problems()
    record.update(
        format=pf.format,
        payments=[
            {
                "amount": _money(p.amount),
                "currency": p.currency,
                "end_to_end_id": p.end_to_end_id,
                "name": p.name,
                "account": show(p.account) if p.account else p.account,
                "employee_id": p.employee_id,
                "routing": p.routing,
                "bic": p.bic,
                "remittance": p.remittance,
                "line": _line(p.locator),
            }
            for p in pf.payments
        ],
        control={
            "count": pf.count,
            "total": _money(pf.total),
            "declared_count": pf.declared_count,
            "declared_total": _money(pf.declared_total),
            "problems": problems,
        },
        errors=[],
        warnings=[
            *_notices(pf.warnings, label),
            *({"code": "CONTROL-MISMATCH", "message": m, "file": label, "line": None} for m in problems),
        ],
    )
    return record


def _print_notes(console: Console, records: list[dict[str, Any]]) -> None:
    for rec in records:
        name = Path(rec["file"]).name
        for e in rec["errors"]:  # file names and messages quote the file: escaped, never markup
            where = f"{name}:{e['line']}" if e.get("line") else name
            note = escape(f"{where} [{e['code']}] {e['message']}")
            console.print(f"[red]refused[/] {note}")
        for w in rec["warnings"]:
            where = f"{Path(w['file']).name}:{w['line']}" if w.get("line") else Path(w["file"]).name
            note = escape(f"{where} [{w['code']}] {w['message']}")
            console.print(f"[yellow]warning[/] {note}")


def _emit(
    records: list[dict[str, Any]], as_json: bool, render: Callable[[list[dict[str, Any]]], Table]
) -> None:
    if as_json:
        for rec in records:
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    else:
        console = Console()
        console.print(render(records))
        _print_notes(console, records)
    if any(rec["errors"] for rec in records):
        raise typer.Exit(1)


def _statement_table(records: list[dict[str, Any]]) -> Table:
    t = table(
        "file",
        "format",
        "statement",
        Col("entries", justify="right"),
        Col("opening", justify="right"),
        Col("closing", justify="right"),
        "ok",
        shrink=[("statement", 10), ("file", 14)],
    )
    for rec in records:
        name = escape(Path(rec["file"]).name)  # names and ids are the file's text, never markup
        if rec["errors"]:
            t.add_row(name, rec["format"] or "?", "[red]refused[/]", "", "", "", "")
        for st in rec["statements"]:
            ok = {True: "yes", False: "[red]NO[/]", None: "-"}[st["balanced"]]
            t.add_row(
                name,
                rec["format"],
                escape(st["id"] or ""),
                str(len(st["entries"])),
                st["opening"] or "",
                st["closing"] or "",
                ok,
            )
    return t


def _payments_table(records: list[dict[str, Any]]) -> Table:
    t = table(
        "file",
        "format",
        Col("payments", justify="right"),
        Col("total", justify="right"),
        Col("declared", justify="right"),
        "controls",
        shrink=[("file", 14)],
    )
    for rec in records:
        name = escape(Path(rec["file"]).name)
        if rec["errors"]:
            t.add_row(name, rec["format"] or "?", "[red]refused[/]", "", "", "")
            continue
        c = rec["control"]
        ok = "ok" if not c["problems"] else f"[red]{len(c['problems'])} off[/]"
        t.add_row(name, rec["format"], str(c["count"]), c["total"], c["declared_total"] or "-", ok)
    return t


_PATHS = typer.Argument(..., help="Files or directories of them.")
_JSON = typer.Option(False, "--json", help="One JSON object per file and line (JSON Lines).")
_MASK = typer.Option(False, "--mask", help="Mask account numbers (last 4 characters shown).")


@app.command("statement")
def statement(paths: list[Path] = _PATHS, as_json: bool = _JSON, mask: bool = _MASK) -> None:
    """Read bank statements: MT940/MT942, camt.052/053/054 (XML or .zip)."""
    _emit([statement_record(p, mask=mask) for p in _expand(paths)], as_json, _statement_table)


@app.command("payments")
def payments(paths: list[Path] = _PATHS, as_json: bool = _JSON, mask: bool = _MASK) -> None:
    """Read payment files: pain.001, NACHA, payment CSV/xlsx."""
    _emit([payments_record(p, mask=mask) for p in _expand(paths)], as_json, _payments_table)
