"""``backoffice audit ...``: verify the chain, list entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.cli._common import console, err_console, print_json, store
from backoffice.errors import InputError

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def parse_when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date or time: {text!r} (use YYYY-MM-DD or ISO 8601)", field=name) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@app.command()
def verify(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the whole hash chain; exit 1 naming the first bad entry if anything was changed."""
    s = store()
    result = audit.verify(s)
    with s.write() as conn:
        audit.append(
            conn,
            s,
            AuditEntry(
                actor="cli",
                action="audit.verified",
                data=result.to_dict(),
                outcome="ok" if result.ok else "failed",
            ),
        )
    if json_:
        print_json(result.to_dict())
    elif result.ok:
        console.print(
            f"[green]audit chain intact[/]: {result.checked} entries, head #{result.head_seq} {result.head_hash[:16]}…"
        )
    else:
        err_console.print(f"[red]audit chain broken at entry {result.first_bad_seq}[/]: {result.reason}")
    if not result.ok:
        raise typer.Exit(1)


@app.command("list")
def list_(
    subject: Annotated[str | None, typer.Option(help="e.g. item:42, run:abc, user:alice")] = None,
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option()] = None,
    bot: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD or ISO time (UTC)")] = None,
    limit: Annotated[int, typer.Option()] = 200,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Audit entries, newest last."""
    rows = audit.entries(
        store(),
        subject=subject,
        actor=actor,
        action=action,
        bot=bot,
        since=parse_when(since, "since"),
        until=parse_when(until, "until"),
        limit=limit,
        descending=True,
    )[::-1]
    if json_:
        print_json(rows)
        return
    t = Table()
    for col in ("seq", "at", "actor", "action", "subject", "outcome"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["seq"]), r["at"][:19], r["actor"], r["action"], r["subject"] or "", r["outcome"] or ""
        )
    console.print(t)
