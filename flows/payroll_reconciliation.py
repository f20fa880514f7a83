"""Flow and CLI command for the payroll reconciliation bot.

    backoffice run payroll-reconciliation --register R.xlsx --hr HR.csv --timesheets T.csv \\
        --bank-file PAY.xml [--statement CAMT.xml] [--gl GL.csv] [--previous PREV.xlsx] \\
        [--vendors V.csv] --out REPORT.xlsx [--json]

One Prefect flow run per reconciliation; the runner processes the register in batches (one task
per batch, never one per employee). Exit code 0 when the reconciliation ran (breaks are queued,
not failures), 1 when the inputs could not be read or register rows were unreadable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from prefect import flow

from backoffice.errors import InputError
from backoffice.flowkit import run_bot_flow
from bots.payroll_reconciliation.bot import bot

__all__ = ["command", "payroll_reconciliation"]


@flow(name="payroll-reconciliation")
def payroll_reconciliation(
    payroll_register: str,
    hr: str,
    timesheets: str | None = None,
    bank_file: str | None = None,
    statement: str | None = None,
    gl: str | None = None,
    previous: str | None = None,
    vendors: str | None = None,
    out: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Reconcile one payroll register against its sources; returns the run summary."""
    inputs = {
        "register": payroll_register,
        "hr": hr,
        "timesheets": timesheets,
        "bank_file": bank_file,
        "statement": statement,
        "gl": gl,
        "previous": previous,
        "vendors": vendors,
        "out": out,
    }
    return run_bot_flow(bot, {k: v for k, v in inputs.items() if v}, batch_size=batch_size)


def _file(path: Path | None, option: str) -> str | None:
    from backoffice.cli.runs import existing

    return None if path is None else existing(path, option)


def command(
    register: Annotated[
        Path, typer.Option("--register", help="Payroll register for the period (xlsx or CSV).")
    ],
    hr: Annotated[Path, typer.Option("--hr", help="HR master data (xlsx or CSV).")],
    timesheets: Annotated[Path, typer.Option("--timesheets", help="Weekly timesheets (xlsx or CSV).")],
    bank_file: Annotated[
        Path, typer.Option("--bank-file", help="Salary payment file: pain.001 XML, NACHA or CSV.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the reconciliation workbook (.xlsx).")],
    statement: Annotated[
        Path | None, typer.Option("--statement", help="Bank statement: camt.053 XML (or zip) or MT940.")
    ] = None,
    gl: Annotated[
        Path | None, typer.Option("--gl", help="General ledger payroll totals (xlsx or CSV).")
    ] = None,
    previous: Annotated[
        Path | None, typer.Option("--previous", help="Previous period's payroll register (xlsx or CSV).")
    ] = None,
    vendors: Annotated[
        Path | None,
        typer.Option("--vendors", help="Vendor master with bank accounts (ghost-employee check)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> int:
    """Reconcile a payroll register with HR, timesheets, bank file, statement and ledger."""
    from backoffice.cli._common import console, print_json
    from backoffice.cli.runs import quiet_prefect

    if out.suffix.lower() != ".xlsx":
        raise InputError("--out must name an .xlsx file", file=str(out), field="out", code="USAGE")
    args = {
        "register": _file(register, "register"),
        "hr": _file(hr, "hr"),
        "timesheets": _file(timesheets, "timesheets"),
        "bank_file": _file(bank_file, "bank_file"),
        "statement": _file(statement, "statement"),
        "gl": _file(gl, "gl"),
        "previous": _file(previous, "previous"),
        "vendors": _file(vendors, "vendors"),
        "out": str(out.resolve()),
    }
    with quiet_prefect():
        result = payroll_reconciliation(payroll_register=args.pop("register"), **args)  # type: ignore[arg-type]
    if json_:
        print_json(result)
    else:
        _print(console, result)
    return 1 if result.get("input_errors") else 0


def _print(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"[bold]payroll-reconciliation[/] run {result['run_id']}: {result.get('employees', 0)} employees, "
        f"{result['done']} reconciled, {result['queued']} to the exception queue, "
        f"{result.get('system_exceptions', 0)} system exceptions, {result['skipped']} already known"
    )
    if result.get("codes"):
        table = Table("rule code", "items", title="Breaks queued")
        for code, n in result["codes"].items():
            table.add_row(code, str(n))
        console.print(table)
    if result.get("input_errors"):
        console.print(f"[red]{result['input_errors']} register rows could not be read[/] (queued as INPUT)")
    if result.get("report"):
        console.print(f"report: {result['report']}")
