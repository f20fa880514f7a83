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

from pathlib import Path
from typing import Annotated, Any

import typer
from prefect import flow

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
    from backoffice.cli.runs import existing, print_run_summary, quiet_prefect

    path = existing(input, "input")
    url = normalise_target(target)
    resolve_credentials(credentials_block)  # fail before the run starts, with a clear message
    with quiet_prefect():
        summary = data_entry(
            input=path,
            target=url,
            credentials_block=credentials_block,
            batch_size=batch_size,
            headless=not headed,
        )
    print_run_summary(
        summary,
        bot="data-entry",
        labels=("rows", "entered"),
        title=f"data-entry run {summary['run_id']} -> {url}",
        json_=json_,
    )
    return 0
