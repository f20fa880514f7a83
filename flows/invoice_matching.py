"""Flow and CLI command for the invoice-matching bot.

    backoffice run invoice-matching --invoices DIR --pos FILE --receipts FILE --vendors FILE \\
        [--ledger OUT.xlsx] [--fx CUR=RATE ...] [--json]

One Prefect flow run per call; the runner processes the invoices in batches (one task per
batch). Exit code 0 when the run completed (exceptions are queued, not failures), 1 when an
input file could not be read.
"""

from __future__ import annotations

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
    from backoffice.cli.runs import existing, print_run_summary, quiet_prefect

    if ledger is not None and ledger.suffix.lower() != ".xlsx":
        raise InputError("--ledger must name an .xlsx file", file=str(ledger), field="ledger", code="USAGE")
    args: dict[str, Any] = {
        "invoices": existing(invoices, "invoices", directory=True),
        "pos": existing(pos, "pos"),
        "receipts": existing(receipts, "receipts"),
        "vendors": existing(vendors, "vendors"),
        "ledger": str(ledger.resolve()) if ledger else None,
        "fx": _parse_fx(fx or []) or None,
    }
    with quiet_prefect():
        summary = invoice_matching(**args)
    print_run_summary(summary, bot="invoice-matching", labels=("invoices", "posted"), json_=json_)
    return 0
