"""``backoffice incidents``: system failures that stopped a run (list, show, decide, ack, resolve).

The system opens an incident and escalates it to the team lead tier; the client (an approver)
decides whether stakeholders are notified (``decide ID --notify yes|no --reason ...``); the
provider acknowledges and resolves it. ``--engagement NAME`` (anywhere on the command line) picks
the engagement whose incidents these are.
"""

from __future__ import annotations

from typing import Annotated

import typer

from backoffice import incidents as inc
from backoffice.authn import authenticated
from backoffice.cli._common import console, print_json, store
from backoffice.errors import UsageError

app = typer.Typer(help="Incidents: system failures that stopped a run.", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user", "-u", envvar="BACKOFFICE_USER", help="Who acts or reads (default $BACKOFFICE_USER)."
    ),
]
IdArg = Annotated[int, typer.Argument(metavar="ID", help="The incident's id.")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note for the timeline.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.callback()
def _group(ctx: typer.Context) -> None:
    """Incidents: system failures that stopped a run."""
    ctx.with_resource(authenticated("local"))


def _who(user: str | None) -> str:
    if not user:
        raise UsageError("name who acts or reads with --user NAME (or set BACKOFFICE_USER)", field="user")
    return user


_DETAILS = ("to", "notify", "reason", "note", "kind")


def _line(i: inc.Incident) -> str:
    notify = f"notify={i.notify}" if i.notify else "notification undecided"
    return f"incident {i.id} ({i.kind}, {i.bot}) is {i.status}; {notify}"


@app.command("list")
def list_(
    user: UserOpt = None,
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged, resolved or unresolved (default: all).")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """The incidents, newest first."""
    rows = inc.list_incidents(store(), _who(user), status=status)
    if json_:
        print_json([i.to_dict() for i in rows])
        return
    console.print(f"{len(rows)} incidents" + (f" ({status})" if status else ""))
    for i in rows:
        console.print(
            f"#{i.id}  {i.opened_at:%Y-%m-%d %H:%M}  {i.kind}  {i.bot}  {i.status}  "
            f"to {i.escalated_to or '-'}  notify: {i.notify or 'undecided'}  run {i.run_id or '-'}",
            soft_wrap=True,
        )


@app.command()
def show(incident_id: IdArg, user: UserOpt = None, json_: JsonOpt = False) -> None:
    """One incident and its timeline (its audit entries)."""
    who = _who(user)
    s = store()
    incident = inc.get_incident(s, who, incident_id)
    steps = inc.timeline(s, who, incident_id)
    if json_:
        print_json({**incident.to_dict(), "timeline": steps})
        return
    console.print(_line(incident))
    console.print(
        f"opened {incident.opened_at.isoformat()} by run {incident.run_id or '-'}: {incident.summary}"
    )
    console.print(f"escalated to {incident.escalated_to or '-'}; notification owner {incident.owner or '-'}")
    console.print("timeline:")
    for e in steps:
        details = ", ".join(f"{k}={v}" for k, v in e["data"].items() if k in _DETAILS)
        console.print(
            f"  {e['at'][:19]}  {e['actor']}  {e['action']}" + (f"  ({details})" if details else ""),
            soft_wrap=True,
        )


@app.command()
def decide(
    incident_id: IdArg,
    notify: Annotated[str, typer.Option("--notify", help="yes or no: are stakeholders notified?")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the timeline).")],
    user: UserOpt = None,
) -> None:
    """The client's decision (an approver): notify stakeholders of the incident, yes or no."""
    if notify not in ("yes", "no"):
        raise UsageError(f"--notify takes yes or no, got {notify!r}", field="notify")
    console.print(_line(inc.decide(store(), incident_id, _who(user), notify=notify == "yes", reason=reason)))


@app.command()
def ack(incident_id: IdArg, user: UserOpt = None, note: NoteOpt = None) -> None:
    """Acknowledge an incident (provider: rpa_expert or team lead)."""
    console.print(_line(inc.acknowledge(store(), incident_id, _who(user), note=note)))


@app.command()
def resolve(incident_id: IdArg, user: UserOpt = None, note: NoteOpt = None) -> None:
    """Resolve an incident (provider: rpa_expert or team lead)."""
    console.print(_line(inc.resolve(store(), incident_id, _who(user), note=note)))
