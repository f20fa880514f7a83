"""``backoffice report``: the exception register and the governance report of an engagement.

``register --from D --to D --out F.xlsx|F.csv``: one row per exception per item round (owner,
decision, outcome, root cause, response time against the commitment). ``governance --from D --to D
--out F.xlsx``: SLA attainment per decision owner, straight-through rate, backlog age, QA-measured
accuracy, incidents and open changes, with charts. Both masked, formula-safe and audited
(``report.export`` with the file's sha256). ``--engagement NAME`` (anywhere on the command
line) picks the engagement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backoffice.authn import authenticated
from backoffice.cli._common import console, store
from backoffice.errors import UsageError
from backoffice.queue.trends import Period

app = typer.Typer(
    help="Governance reports: the exception register and the governance report.", no_args_is_help=True
)

UserOpt = Annotated[
    str | None,
    typer.Option("--user", "-u", envvar="BACKOFFICE_USER", help="Who reads (default $BACKOFFICE_USER)."),
]
FromOpt = Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")]
ToOpt = Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), included.")]


@app.callback()
def _group(ctx: typer.Context) -> None:
    """Governance reports: the exception register and the governance report."""
    ctx.with_resource(authenticated("local"))


def _who(user: str | None) -> str:
    if not user:
        raise UsageError("name who reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    return user


def _period(start: str, end: str) -> Period:
    return Period.parse(start, end, None)


@app.command()
def register(
    start: FromOpt,
    end: ToOpt,
    out: Annotated[Path, typer.Option("--out", help="The file to write: .xlsx or .csv.")],
    user: UserOpt = None,
) -> None:
    """The exception register: one row per exception per item round in the period."""
    from backoffice.reports import export_register

    report, digest = export_register(store(), _who(user), _period(start, end), out)
    console.print(f"{len(report.rows)} rows; {report.header[2]}", soft_wrap=True)
    console.print(f"wrote {out} (sha256 {digest})", soft_wrap=True)


@app.command("governance")
def governance_command(
    start: FromOpt,
    end: ToOpt,
    out: Annotated[Path, typer.Option("--out", help="The workbook to write (.xlsx).")],
    user: UserOpt = None,
) -> None:
    """The governance report: SLA per owner, straight-through, backlog, QA accuracy, incidents,
    open changes; a workbook with charts."""
    from backoffice.reports.governance import export_governance

    g, _, digest = export_governance(store(), _who(user), _period(start, end), out)
    for name, value in g.summary():
        console.print(f"{name}: {'-' if value is None else value}", soft_wrap=True)
    console.print(f"wrote {out} (sha256 {digest})", soft_wrap=True)
