"""Flow and CLI command for the invoice-matching bot.

    backoffice run invoice-matching --invoices DIR --pos FILE --receipts FILE --vendors FILE \\
        [--ledger OUT.xlsx] [--fx CUR=RATE ...] [--json]

One Prefect flow run per call; the runner processes the invoices in batches (one task per
batch). Exit code 0 when the run completed (exceptions are queued, not failures), 1 when an
input file could not be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from prefect import flow

from backoffice.errors import InputError
from backoffice.flowkit import run_bot_flow
from bots.invoice_matching.bot import bot

__all__ = ["command", "invoice_matching"]


@flow(name="invoice-matching")
def invoice_matching(
    invoices: str,
    pos: str,
    receipts: str,
    vendors: str,
    ledger: str | None = None,
    fx: dict[str, str] | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Match a directory of invoice PDFs against POs and receipts; returns the run summary."""
    inputs: dict[str, Any] = {"invoices": invoices, "pos": pos, "receipts": receipts, "vendors": vendors}
    if ledger:
        inputs["ledger"] = ledger
    if fx:
        inputs["fx"] = fx
    return run_bot_flow(bot, inputs, batch_size=batch_size)


@contextmanager
def _quiet_prefect() -> Iterator[None]:
    """Input errors are reported once by the CLI, not as Prefect tracebacks."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "prefect",
            "prefect.flow_runs",
            "prefect.task_runs",
            "prefect.flow_engine",
            "prefect.task_engine",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _existing(path: Path, option: str, *, directory: bool = False) -> str:
    ok = path.is_dir() if directory else path.is_file()
    if not ok:
        raise InputError(
            "directory not found" if directory else "file not found", file=str(path), field=option
        )
    return str(path.resolve())


def _parse_fx(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        cur, sep, rate = pair.partition("=")
        try:
            value = Decimal(rate)
        except InvalidOperation:
            value = Decimal(0)
        if not sep or len(cur.strip()) != 3 or value <= 0:
            raise InputError(f"--fx takes CUR=RATE (e.g. USD=0.92), got {pair!r}", field="fx", code="USAGE")
        out[cur.strip().upper()] = str(value)
    return out


def command(
    invoices: Annotated[Path, typer.Option("--invoices", help="Directory of invoice PDFs.")],
    pos: Annotated[Path, typer.Option("--pos", help="Purchase order lines (xlsx or CSV).")],
    receipts: Annotated[Path, typer.Option("--receipts", help="Goods receipts (xlsx or CSV).")],
    vendors: Annotated[
        Path, typer.Option("--vendors", help="Vendor master with bank accounts (xlsx or CSV).")
    ],
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Output ledger (.xlsx) for posted invoices; default BACKOFFICE_HOME/invoice_ledger.xlsx.",
        ),
    ] = None,
    fx: Annotated[
        list[str] | None,
        typer.Option(
            "--fx", help="Rate to the company currency for absolute limits, e.g. --fx USD=0.92 (repeatable)."
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> int:
    """Match invoices (PDF / Factur-X) against purchase orders and goods receipts; post or queue each."""
    from rich.table import Table

    from backoffice.cli._common import console, print_json

    if ledger is not None and ledger.suffix.lower() != ".xlsx":
        raise InputError("--ledger must name an .xlsx file", file=str(ledger), field="ledger", code="USAGE")
    args: dict[str, Any] = {
        "invoices": _existing(invoices, "invoices", directory=True),
        "pos": _existing(pos, "pos"),
        "receipts": _existing(receipts, "receipts"),
        "vendors": _existing(vendors, "vendors"),
        "ledger": str(ledger.resolve()) if ledger else None,
        "fx": _parse_fx(fx or []) or None,
    }
    with _quiet_prefect():
        summary = invoice_matching(**args)
    if json_:
        print_json(summary)
        return 0
    table = Table(title=f"invoice-matching run {summary['run_id']}")
    table.add_column("invoices", justify="right")
    table.add_column("posted", justify="right")
    table.add_column("queued", justify="right")
    table.add_column("system", justify="right")
    table.add_column("already done", justify="right")
    table.add_row(
        str(summary["total"]),
        str(summary["done"]),
        str(summary["queued"]),
        str(summary["system_exceptions"]),
        str(summary["skipped"]),
    )
    console.print(table)
    if summary["codes"]:
        codes = Table(title="exceptions by rule")
        codes.add_column("code")
        codes.add_column("count", justify="right")
        for code, n in summary["codes"].items():
            codes.add_row(code, str(n))
        console.print(codes)
    console.print(
        f"rule set {summary['ruleset_version']}; `backoffice queue list --bot invoice-matching` shows the queue"
    )
    return 0
