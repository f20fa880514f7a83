"""``backoffice engagements``: the clients the provider serves, each with a store of its own.

``add NAME --by ADMIN`` (an admin of the provider's store) creates the engagement's store and makes
ADMIN its first admin; ``list --user U`` shows them (admins and compliance); ``review --user C``
(the provider's compliance) checks every engagement's audit chain and counts, audited in each. Users are given a role
in an engagement with ``backoffice users assign USER --engagement NAME --role ROLE --by ADMIN``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from backoffice import engagements as eng
from backoffice.cli._common import console, print_json
from backoffice.cli.tables import Col
from backoffice.cli.tables import table as new_table
from backoffice.errors import UsageError

app = typer.Typer(help="Engagements (clients), each with a store of its own.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="2-40 of a-z, 0-9, - and _; a letter first.")],
    by: Annotated[str, typer.Option("--by", help="An admin of the provider's (default) store.")],
    title: Annotated[str | None, typer.Option("--title", help="The client's name as people read it.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Add an engagement: its store is created and BY becomes its first admin."""
    e = eng.add_engagement(eng.provider_store(), name, by=by, title=title)
    if json_:
        print_json(e.to_dict())
        return
    console.print(
        f"engagement {e.name} added ({e.title}); {by} is its admin. Next: "
        f"`backoffice users assign USER --engagement {e.name} --role ROLE --by {by}`"
    )


@app.command("list")
def list_(
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", envvar="BACKOFFICE_USER", help="Who reads (admin, compliance)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """The engagements, the default one first."""
    if not user:
        raise UsageError("name who reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    found = eng.list_engagements(eng.provider_store(), user)
    if json_:
        print_json([e.to_dict() for e in found])
        return
    table = new_table("name", Col("title", text=True), "added", "by", title="engagements")
    for e in found:
        added = e.created_at.strftime("%Y-%m-%d %H:%M") if e.created_at else "-"
        table.add_row(e.name, e.title, added, e.created_by)
    console.print(table)


@app.command()
def review(
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", envvar="BACKOFFICE_USER", help="A compliance officer of the provider."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Every engagement's audit chain verified, its open items and users counted (the one read
    across engagements: the provider's compliance role, audited in each engagement's log).
    Exit 1 when a chain does not verify."""
    if not user:
        raise UsageError("name who reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    rows = eng.review(eng.provider_store(), user)
    if json_:
        print_json(rows)
    else:
        table = new_table(
            "engagement",
            "chain",
            Col("entries", justify="right"),
            Col("items by status", text=True),
            Col("users by role", text=True),
            title="engagements reviewed",
        )
        for r in rows:
            chain = "ok" if r["chain_ok"] else f"BAD at #{r['first_bad_seq']}"
            counts = ", ".join(f"{k} {v}" for k, v in r["items"].items()) or "-"
            roles = ", ".join(f"{k} {v}" for k, v in r["users"].items()) or "-"
            table.add_row(r["engagement"], chain, str(r["chain_entries"]), counts, roles)
        console.print(table)
    if not all(r["chain_ok"] for r in rows):
        raise typer.Exit(1)
