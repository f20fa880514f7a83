"""``backoffice users ...``: add users, set roles and passwords, list them."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from backoffice import users as u
from backoffice.cli._common import console, print_json, store
from backoffice.errors import InputError

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


@app.command("set-role")
def set_role(
    name: str, role: Annotated[str, typer.Option(help=" | ".join(u.ROLES))], by: ByOpt = None
) -> None:
    """Change a user's role."""
    u.set_role(store(), name, role, by=_actor(by))
    console.print(f"{name} is now {role}")


@app.command("set-password")
def set_password(name: str, by: ByOpt = None) -> None:
    """Set a user's inbox password (prompted, or one line on stdin)."""
    actor = _actor(by)
    u.set_password(store(), name, _read_password(True), by=actor)
    console.print(f"password set for {name}")


@app.command("list")
def list_(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Users, roles and last login."""
    rows = u.list_users(store())
    if json_:
        print_json([r.to_dict() for r in rows])
        return
    t = Table()
    for col in ("name", "role", "last login", "password"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.name,
            r.role,
            r.last_login_at.isoformat()[:19] if r.last_login_at else "-",
            "yes" if r.has_password else "no",
        )
    console.print(t)


@app.command()
def deactivate(name: str, by: ByOpt = None) -> None:
    """Deactivate a user: its inbox sessions end and its API tokens are revoked at once."""
    u.deactivate_user(store(), name, by=_actor(by))
    console.print(f"{name} deactivated")
