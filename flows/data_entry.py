"""Flow and CLI command for the data-entry bot.

    backoffice run data-entry --input invoices.xlsx --target http://erp.example \\
        [--credentials-block NAME] [--batch-size N] [--headed] [--json]

Credentials come from BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD or from a Prefect Secret
block (``--credentials-block``); there is deliberately no option to pass them on the command line
(they would land in shell history and process listings). One Prefect flow run per call; rows are
typed in batches, one browser and one Prefect task per batch. Exit code 0 when the run completed
(exceptions are queued, not failures), 1 when the input could not be read or the target refused
the login, 2 for a usage or configuration error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from prefect import flow

from backoffice.errors import InputError
from backoffice.flowkit import run_bot_flow
from bots.data_entry.bot import bot, normalise_target, resolve_credentials

__all__ = ["command", "data_entry"]


@flow(name="data-entry")
def data_entry(
    input: str,
    target: str,
    credentials_block: str | None = None,
    batch_size: int | None = None,
    headless: bool = True,
) -> dict[str, Any]:
    """Type the rows of ``input`` (xlsx) into the back-office app at ``target``; returns the run summary."""
    inputs: dict[str, Any] = {"input": input, "target": normalise_target(target), "headless": headless}
    if credentials_block:
        inputs["credentials_block"] = credentials_block  # the block's name, never its value
    return run_bot_flow(bot, inputs, batch_size=batch_size)


@contextmanager
def _quiet_prefect() -> Iterator[None]:
    """Errors are reported once by the CLI, not as Prefect tracebacks."""
    names = (
        "prefect",
        "prefect.flow_runs",
        "prefect.task_runs",
        "prefect.flow_engine",
        "prefect.task_engine",
    )
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def command(
    input: Annotated[Path, typer.Option("--input", help="Workbook (.xlsx) of invoices, one per row.")],
    target: Annotated[
        str, typer.Option("--target", help="Base URL of the back-office app, e.g. http://erp:8000.")
    ],
    credentials_block: Annotated[
        str | None,
        typer.Option(
            "--credentials-block",
            help="Prefect Secret block holding {'user': ..., 'password': ...}; "
            "default: BACKOFFICE_ERP_USER / BACKOFFICE_ERP_PASSWORD.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Rows per browser session and Prefect task.")
    ] = None,
    headed: Annotated[bool, typer.Option("--headed", help="Show the browser window.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> int:
    """Type invoices from a spreadsheet into a back-office web app; read back, screenshot, or queue each."""
    from rich.table import Table

    from backoffice.cli._common import console, print_json

    if not input.is_file():
        raise InputError("file not found", file=str(input), field="input")
    url = normalise_target(target)
    resolve_credentials(credentials_block)  # fail before the run starts, with a clear message
    with _quiet_prefect():
        summary = data_entry(
            input=str(input.resolve()),
            target=url,
            credentials_block=credentials_block,
            batch_size=batch_size,
            headless=not headed,
        )
    if json_:
        print_json(summary)
        return 0
    table = Table(title=f"data-entry run {summary['run_id']} -> {url}")
    for col in ("rows", "entered", "queued", "system", "already done"):
        table.add_column(col, justify="right")
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
        f"rule set {summary['ruleset_version']}; `backoffice queue list --bot data-entry` shows the queue"
    )
    return 0
