"""``backoffice owners``: the ownership register of an engagement (show, check, apply, approve,
reject, list).

``check FILE`` validates a register file against the store's users and reports it with its diff
against the register in force; ``apply FILE`` proposes it (provider: rpa_expert or team lead);
the engagement's client approver (never the proposer) approves or rejects the proposal. Until
then the register in force stays in force. ``--engagement NAME`` (anywhere on the command line) picks the engagement; ``default`` when none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from backoffice import ownership as own
from backoffice.authn import authenticated
from backoffice.cli._common import console, print_json, store
from backoffice.cli.tables import Col
from backoffice.cli.tables import table as new_table
from backoffice.errors import InputError, NotFound, UsageError
from backoffice.store import DEFAULT_ENGAGEMENT

app = typer.Typer(
    help="The ownership register: who delivers, decides and backs up, per bot and rule.", no_args_is_help=True
)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user", "-u", envvar="BACKOFFICE_USER", help="Who acts or reads (default $BACKOFFICE_USER)."
    ),
]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="The register file (TOML).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.callback()
def _group(ctx: typer.Context) -> None:
    """The ownership register: who delivers, decides and backs up, per bot and rule."""
    ctx.with_resource(authenticated("local"))


def _who(user: str | None) -> str:
    if not user:
        raise UsageError("name who acts or reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    return user


def _load(path: Path) -> own.Register:
    engagement = store().engagement
    reg = own.load_register(path, store=store())
    if reg.engagement != engagement:
        raise InputError(
            f"the file is the register of engagement {reg.engagement!r}, not {engagement!r} (--engagement)",
            file=path.name,
            field="engagement",
        )
    return reg


def rows_table(reg: own.Register, title: str) -> Table:
    table = new_table(
        "bot",
        "code",
        "delivery",
        "decision",
        "backup",
        Col("respond", justify="right"),
        Col("escalate", text=True),
        Col("path", text=True),
        title=title,
        shrink={"bot": 10, "code": 13},
    )
    for r in reg.rows:
        limits = (
            [f"> {r.escalate_amount} {reg.currency or ''}".strip()] if r.escalate_amount is not None else []
        )
        if r.escalate_age_hours:
            limits.append(f"> {r.escalate_age_hours} h")
        table.add_row(
            r.bot,
            r.code,
            r.delivery_owner,
            r.decision_owner,
            r.backup,
            f"{r.response_hours} h",
            ", ".join(limits) or "-",
            " -> ".join(r.path),
        )
    return table


def _summary(row: dict[str, Any]) -> str:
    return f"owner {row['decision_owner']}, backup {row['backup']}, {row['response_hours']} h"


def _cell(value: Any) -> str:
    return " -> ".join(value) if isinstance(value, list) else str(value if value is not None else "-")


def diff_table(changes: dict[str, Any], title: str) -> Table:
    """Rows added (+), removed (-) and changed (~), field by field."""
    table = new_table(
        "",
        "bot",
        "code",
        "what",
        Col("from", text=True),
        Col("to", text=True),
        title=title,
        shrink={"bot": 12},
    )
    for name, c in sorted(changes.get("settings", {}).items()):
        table.add_row("~", "-", "-", name, str(c["from"] or "-"), str(c["to"] or "-"))
    for r in changes.get("added", []):
        table.add_row("+", r["bot"], r["code"], "row", "-", _summary(r))
    for r in changes.get("removed", []):
        table.add_row("-", r["bot"], r["code"], "row", _summary(r), "-")
    for r in changes.get("changed", []):
        for field, c in sorted(r["changes"].items()):
            table.add_row("~", r["bot"], r["code"], field, _cell(c["from"]), _cell(c["to"]))
    return table


def _counts(changes: dict[str, Any]) -> str:
    return (
        f"{len(changes['added'])} added, {len(changes['removed'])} removed, {len(changes['changed'])} changed"
    )


@app.command()
def show(
    file: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="A register file; none: the one in force.")
    ] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The register in force (and the proposals waiting), or the register a FILE says."""
    if file is not None:
        reg = _load(file)
        if json_:
            print_json(reg.to_dict())
            return
        console.print(rows_table(reg, f"{file.name}: register of {reg.engagement} ({reg.version})"))
        return
    s = store()
    engagement = s.engagement
    pending = own.list_versions(s, _who(user), engagement, status="proposed")
    current = own.current_register(s, engagement)
    if json_:
        print_json(
            {
                "engagement": engagement,
                "in_force": current.to_dict() if current else None,
                "proposed": [p.to_dict() for p in pending],
            }
        )
        return
    if current is None:
        console.print(f"no register in force for {engagement}")
    else:
        title = f"register #{current.id} of {engagement} in force ({current.version})"
        console.print(rows_table(current, title))
        console.print(f"client approver: {current.client_approver}")
    for p in pending:
        console.print(diff_table(p.diff, f"proposed #{p.id} by {p.proposer}: {_counts(p.diff)}"))


@app.command()
def check(file: FileArg, json_: JsonOpt = False) -> None:
    """Validate a register file (users, roles, rows) and report it with its diff against the one in force."""
    reg = _load(file)
    changes = own.diff(own.current_register(store(), reg.engagement), reg)
    if json_:
        print_json({"ok": True, "register": reg.to_dict(), "diff": changes})
        return
    console.print(diff_table(changes, f"{file.name} against the register in force: {_counts(changes)}"))
    console.print(f"{file.name}: ok, {len(reg.rows)} rows, version {reg.version}")


@app.command()
def apply(
    file: FileArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the change.")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Propose the register a file says (rpa_expert or team lead); the client approver approves it."""
    reg = _load(file)
    rec = own.propose(store(), reg, _who(user), reason=reason)
    if json_:
        print_json(rec.to_dict())
        return
    console.print(diff_table(rec.diff, f"proposed #{rec.id}: {_counts(rec.diff)}"))
    where = "" if reg.engagement == DEFAULT_ENGAGEMENT else f" --engagement {reg.engagement}"
    console.print(  # a hint copied as printed decides in the register's own engagement
        f"the register in force stays until `backoffice owners approve {rec.id}{where} --user "
        f"{reg.client_approver}` (the client approver)"
    )


@app.command()
def approve(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The proposal.")],
    reason: Annotated[str | None, typer.Option("--reason", help="A note with the approval.")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Approve a proposed register (the client approver, not its proposer): it is in force from now on."""
    rec = own.approve(store(), version_id, _who(user), reason=reason)
    if json_:
        print_json(rec.to_dict())
        return
    console.print(f"approved #{rec.id}: the register of {rec.engagement} in force from now on")


@app.command()
def reject(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The proposal.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")] = "",
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Reject a proposed register (the client approver, not its proposer), with a reason."""
    if not reason.strip():
        raise UsageError("a rejection needs --reason", field="reason")
    rec = own.reject(store(), version_id, _who(user), reason=reason)
    if json_:
        print_json(rec.to_dict())
        return
    console.print(f"rejected #{rec.id}")


@app.command("list")
def list_command(user: UserOpt = None, json_: JsonOpt = False) -> None:
    """The register's versions, newest first, with their status."""
    engagement = store().engagement
    recs = own.list_versions(store(), _who(user), engagement)
    if json_:
        print_json([r.to_dict() for r in recs])
        return
    if not recs:
        raise NotFound(f"no register proposed for {engagement} (`backoffice owners apply FILE` proposes one)")
    table = new_table(
        Col("id", justify="right"),
        "status",
        "version",
        "proposer",
        Col("decided by", text=True),
        Col("changes", text=True),
        title=f"ownership registers of {engagement}",
    )
    for r in recs:
        table.add_row(str(r.id), r.status, r.version, r.proposer, r.decided_by or "-", _counts(r.diff))
    console.print(table)
