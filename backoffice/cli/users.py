"""``backoffice users ...``: add users, change roles (four-eyes: one admin requests, a second
confirms), set passwords, list them."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer

from backoffice import users as u
from backoffice.cli._common import console, print_json, store
from backoffice.cli.tables import Col, table
from backoffice.errors import InputError
from backoffice.ownership.absences import mark_away, mark_back

app = typer.Typer(help="Users and roles.", no_args_is_help=True)

ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="The admin making the change (required once an admin exists)."),
]


def _actor(by: str | None) -> str:
    s = store()
    if any(x.role == "admin" for x in u.list_users(s)):
        if not by:
            raise u.deny(s, "?", None, "manage_users", None, "an admin exists: name one with --by ADMIN")
        return u.require(s, by, u.Action.MANAGE_USERS).name
    return by or "bootstrap"


def _read_password(prompt: bool) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise InputError("no password on standard input", field="password")
    return line


@app.command()
def add(
    name: str,
    role: Annotated[str, typer.Option(help=" | ".join(u.ROLES))],
    by: ByOpt = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set an inbox password (prompted, or one line on stdin).")
    ] = False,
) -> None:
    """Add a user with a role."""
    actor = _actor(by)
    secret = _read_password(True) if password else None
    u.add_user(store(), name, role, by=actor, password=secret)
    console.print(f"user {name} added as {role}")


@app.command()
def assign(
    name: str,
    role: Annotated[str, typer.Option(help=" | ".join(u.ROLES))],
    by: Annotated[str, typer.Option("--by", help="An admin of the engagement.")],
    source: Annotated[
        str, typer.Option("--from", help="The engagement the user comes from (its account is copied).")
    ] = "default",
) -> None:
    """Give a user a role in the engagement named with --engagement NAME (its account is copied
    into the engagement's store; an existing member's role changes the four-eyes way)."""
    from backoffice.engagements import assign_user
    from backoffice.store import Store

    target = store()
    result = assign_user(target, name, role, by=by, source=Store.open(engagement=source))
    if isinstance(result, u.RoleChange):
        console.print(
            f"{name} is already in {target.engagement}: role change to {role} requested; a second admin "
            f"confirms it with `backoffice users confirm-role {name} --role {role} --engagement "
            f"{target.engagement} --by ADMIN`"
        )
    elif result is None:
        console.print(f"{name} is now {role} in {target.engagement} (no admin existed yet: bootstrap)")
    else:
        console.print(f"{name} assigned to {target.engagement} as {role}")


@app.command("set-role")
def set_role(
    name: str, role: Annotated[str, typer.Option(help=" | ".join(u.ROLES))], by: ByOpt = None
) -> None:
    """Request a change of a user's role; a second admin confirms it with `users confirm-role`."""
    change = u.set_role(store(), name, role, by=_actor(by))
    if change is None:
        console.print(f"{name} is now {role} (no admin exists yet: bootstrap)")
        return
    console.print(
        f"role change of {name} ({change.before} -> {role}) requested by {change.requested_by}; "
        f"a second admin confirms it with `backoffice users confirm-role {name} --role {role} --by ADMIN`"
    )


@app.command("confirm-role")
def confirm_role(
    name: str,
    role: Annotated[str, typer.Option(help="The role the pending change sets (must match it).")],
    by: ByOpt = None,
) -> None:
    """Confirm another admin's pending change of a user's role (four-eyes)."""
    u.confirm_role(store(), name, role, by=_actor(by))
    console.print(f"{name} is now {role}")


@app.command("cancel-role")
def cancel_role(
    name: str,
    by: ByOpt = None,
    reason: Annotated[str, typer.Option(help="Why the change is withdrawn or refused.")] = "",
) -> None:
    """Withdraw or refuse a pending change of a user's role."""
    change = u.cancel_role(store(), name, by=_actor(by), reason=reason)
    console.print(f"role change of {name} to {change.role} cancelled")


@app.command("set-password")
def set_password(name: str, by: ByOpt = None) -> None:
    """Set a user's inbox password (prompted, or one line on stdin)."""
    actor = _actor(by)
    u.set_password(store(), name, _read_password(True), by=actor)
    console.print(f"password set for {name}")


@app.command("list")
def list_(
    json_: Annotated[bool, typer.Option("--json")] = False,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            envvar="BACKOFFICE_USER",
            help="Who reads (admin, compliance; needed once an admin exists).",
        ),
    ] = None,
) -> None:
    """Users, roles and last login (of the engagement named with --engagement)."""
    s = store()
    rows = u.list_users(s)
    if any(x.role == "admin" for x in rows) or user:
        if not user:
            raise u.deny(s, "?", None, "read_users", None, "an admin exists: name who reads with --user NAME")
        u.require(s, user, u.Action.READ_USERS, "users")
    pending = {c.user: c for c in u.pending_role_changes(s)}
    if json_:
        print_json(
            [
                {
                    **r.to_dict(),
                    "pending_role_change": pending[r.name].to_dict() if r.name in pending else None,
                }
                for r in rows
            ]
        )
        return
    t = table("name", "role", "last login", "password", Col("pending role change", text=True))
    for r in rows:
        change = pending.get(r.name)
        t.add_row(
            r.name,
            r.role,
            r.last_login_at.isoformat()[:19] if r.last_login_at else "-",
            "yes" if r.has_password else "no",
            f"-> {change.role} (by {change.requested_by})" if change else "-",
        )
    console.print(t)


@app.command()
def deactivate(name: str, by: ByOpt = None) -> None:
    """Deactivate a user: its inbox sessions end and its API tokens are revoked at once. In the
    default (provider's) store, also in every engagement the user was assigned to from there."""
    s = store()
    if s.engagement == "default":
        from backoffice.engagements import deactivate_everywhere

        done = deactivate_everywhere(s, name, by=_actor(by))
        console.print(f"{name} deactivated in {', '.join(done)}")
        return
    u.deactivate_user(s, name, by=_actor(by))
    console.print(f"{name} deactivated in {s.engagement}")


def _until(text: str) -> datetime:
    """``--until``: an ISO time, or a date (away through that day: until the next midnight UTC)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"not a date or time: {text!r} (use YYYY-MM-DD or ISO 8601)", field="until"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@app.command()
def away(
    name: str,
    until: Annotated[str, typer.Option("--until", help="YYYY-MM-DD (through that day, UTC) or an ISO time.")],
    by: ByOpt = None,
) -> None:
    """Mark a user away: the backups of the ownership register get their items and approvals."""
    if not by:
        raise InputError("name the admin marking the absence with --by ADMIN", field="by")
    absence = mark_away(store(), name, _until(until), by=by)
    console.print(f"{name} away until {absence.until:%Y-%m-%d %H:%M} UTC: their backups take their items")


@app.command()
def back(name: str, by: ByOpt = None) -> None:
    """End a user's absence now: their items and approvals come back to them."""
    if not by:
        raise InputError("name the admin with --by ADMIN", field="by")
    mark_back(store(), name, by=by)
    console.print(f"{name} is back")
