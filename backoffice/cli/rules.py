"""``backoffice rules``: change control for rule sets (propose, preview, approve, reject, list, show).

An RPA expert proposes a rule-set version of a bot (its installed code with params changed by
``--set PARAM=VALUE``); ``preview`` re-checks the bot's last decided items with it; the client
approver (never the proposer) approves or rejects it. Runs then use the approved params, and in
production mode (BACKOFFICE_MODE=production) refuse a version without an approved record.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from backoffice import change_control as cc
from backoffice.authn import authenticated
from backoffice.change_control.preview import Preview, preview
from backoffice.cli._common import console, parse_pairs, print_json, store
from backoffice.cli.tables import Col
from backoffice.cli.tables import table as new_table
from backoffice.errors import UsageError
from backoffice.plugins import registry

app = typer.Typer(help="Change control for rule sets: propose, preview, approve.", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user", "-u", envvar="BACKOFFICE_USER", help="Who acts or reads (default $BACKOFFICE_USER)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.callback()
def _group(ctx: typer.Context) -> None:
    """Change control for rule sets: propose, preview, approve."""
    ctx.with_resource(authenticated("local"))


def _who(user: str | None) -> str:
    if not user:
        raise UsageError("name who acts or reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    return user


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _changes(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {c['from']} -> {c['to']}" for k, c in sorted(changes.items())) or "(code only)"


def _print_record(rec: cc.RuleVersion) -> None:
    table = new_table(
        "field", Col("value", text=True), title=f"rule-set version #{rec.id}", show_header=False
    )
    decided = f"{rec.decided_by} at {rec.decided_at:%Y-%m-%d %H:%M} UTC" if rec.decided_at else "-"
    for k, v in (
        ("bot", rec.bot),
        ("version", rec.version),
        ("code", rec.code_version),
        ("status", rec.status),
        ("changes", _changes(rec.changes)),
        ("params", _params(rec.params)),
        ("proposer", f"{rec.proposer} at {rec.proposed_at:%Y-%m-%d %H:%M} UTC"),
        ("reason", rec.reason or "-"),
        ("decided", decided),
        ("decision reason", rec.decision_reason or "-"),
    ):
        table.add_row(k, v)
    console.print(table)


@app.command()
def propose(
    bot: Annotated[str, typer.Argument(help="The bot whose rule set changes.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="PARAM=VALUE, typed by the bot's params (repeatable; none/null: no limit)."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the change.")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Propose the bot's installed rules with the params in force changed by --set (RPA expert)."""
    rec = cc.propose(
        store(),
        registry().get(bot),
        _who(user),
        parse_pairs(set_ or [], "--set", "PARAM=VALUE"),
        reason=reason,
    )
    if json_:
        print_json(rec.to_dict())
        return
    _print_record(rec)
    console.print(
        f"proposed #{rec.id}: `backoffice rules preview {rec.id} --user U` shows the items it changes; "
        f"`backoffice rules approve {rec.id} --user APPROVER` approves it"
    )


def preview_table(result: Preview) -> Table:
    """The items whose outcome changes (fits 80 columns)."""
    table = new_table(
        Col("item", justify="right"),
        Col("title", max_width=18),
        Col("before", text=True),
        Col("after", text=True),
        title=f"#{result.proposal.id} {result.proposal.version} vs {result.baseline_version} ({result.baseline})",
    )
    for r in result.changed:
        table.add_row(
            str(r.item_id),
            r.title,
            r.before.label() if r.before else "-",
            r.after.label() if r.after else "-",
        )
    return table


@app.command("preview")
def preview_command(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The proposal.")],
    last: Annotated[
        int, typer.Option("--last", min=1, help="How many of the bot's last decided items.")
    ] = 50,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Which of the bot's last decided items would change outcome under a proposed version."""
    s = store()
    rec = cc.get_version(s, _who(user), version_id)
    result = preview(s, registry().get(rec.bot), version_id, _who(user), last=last)
    if json_:
        print_json(result.to_dict())
        return
    data = result.to_dict()
    if result.changed:
        console.print(preview_table(result))
    console.print(
        f"{data['changed']} of {data['checked']} decided items change outcome"
        + (f"; {data['errors']} could not be re-checked" if data["errors"] else "")
    )
    for r in result.rows:
        if r.error:
            console.print(f"  item {r.item_id}: {r.error}")


@app.command()
def approve(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The proposal.")],
    reason: Annotated[str | None, typer.Option("--reason", help="A note with the approval.")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Approve a proposed version (client approver, not its proposer); runs then use it."""
    rec = cc.approve(store(), version_id, _who(user), reason=reason)
    if json_:
        print_json(rec.to_dict())
        return
    console.print(f"approved #{rec.id}: {rec.bot} runs {rec.version} from now on")


@app.command()
def reject(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The proposal.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required).")] = "",
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Reject a proposed version (client approver, not its proposer), with a reason."""
    rec = cc.reject(store(), version_id, _who(user), reason=reason)
    if json_:
        print_json(rec.to_dict())
        return
    console.print(f"rejected #{rec.id} ({rec.version})")


@app.command("list")
def list_command(
    bot: Annotated[str | None, typer.Option("--bot", help="Only this bot's versions.")] = None,
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Rule-set versions, newest first, with their status."""
    recs = cc.list_versions(store(), _who(user), bot)
    if json_:
        print_json([r.to_dict() for r in recs])
        return
    table = new_table(
        Col("id", justify="right"),
        "version",
        "status",
        Col("changes", text=True),
        Col("by", text=True),
        title="rule-set versions",
        shrink={"version": 22},
    )
    for r in recs:
        by = r.proposer + (f" / {r.decided_by}" if r.decided_by else "")
        table.add_row(str(r.id), r.version, r.status, _changes(r.changes), by)
    console.print(table)


@app.command()
def show(
    version_id: Annotated[int, typer.Argument(metavar="ID", help="The version.")],
    user: UserOpt = None,
    json_: JsonOpt = False,
) -> None:
    """One rule-set version: params, changes, proposer, decision."""
    rec = cc.get_version(store(), _who(user), version_id)
    if json_:
        print_json(rec.to_dict())
        return
    _print_record(rec)
