"""``backoffice tokens ...``: personal API tokens for ``backoffice queue --server URL``.

A token is made by its user with the user's password (``create`` prompts for it, or reads one
line on standard input), is shown once, stored as a hash, expires, and can be revoked by its user
(or an admin). Put it in ``BACKOFFICE_TOKEN``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from backoffice import users as u
from backoffice.authn import authenticated
from backoffice.cli._common import console, print_json, store
from backoffice.cli.remote import make_remote
from backoffice.cli.tables import Col, table
from backoffice.errors import InputError
from backoffice.settings import get_settings

app = typer.Typer(help="Personal API tokens (for --server).", no_args_is_help=True)

ServerOpt = Annotated[
    str | None, typer.Option("--server", help="The inbox's URL (else the local store is used).")
]


def _password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True))
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise InputError("no password on standard input", field="password")
    return line


@app.command()
def create(
    user: Annotated[str, typer.Option("--user", "-u", help="Your user name.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for (e.g. laptop).")] = "cli",
    days: Annotated[int | None, typer.Option(help="Lifetime in days (1-365; default from settings).")] = None,
    server: ServerOpt = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a token for yourself (asks for your password); it is printed once."""
    password = _password()
    remote = make_remote(server)
    if remote is not None:
        body = {"user": user, "password": password, "name": name, "days": days}
        got = remote.call("POST", "/tokens", json=body, auth=False)
        secret, info = got.pop("token"), got
    else:
        s = store()
        who = u.check_password(s, user, password)
        token, secret = u.create_token(
            s, who.name, name, days=days or int(get_settings().token_days), auth="password"
        )
        info = token.to_dict()
    if json_:
        print_json({"token": secret, **info})
        return
    console.print(f"token {info['id']} for {info['user']} until {info['expires_at'][:10]} (shown once):")
    sys.stdout.write(secret + "\n")


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Whose tokens (local store).")] = None,
    server: ServerOpt = None,
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Your tokens (with --server: the token's user's), never their secrets."""
    remote = make_remote(server)
    if remote is not None:
        rows = remote.call("GET", "/tokens")
    else:
        if not user:
            raise InputError("name the user with --user (or use --server with a token)", field="user")
        rows = [t.to_dict() for t in u.list_tokens(store(), user)]
    if json_:
        print_json(rows)
        return
    t = table(
        Col("id", justify="right"), "name", "created", "expires", "last used", "state", shrink={"name": 12}
    )
    for r in rows:
        state = "revoked" if r["revoked_at"] else ("active" if r["active"] else "expired")
        t.add_row(
            r["id"],
            r["name"],
            r["created_at"][:10],
            r["expires_at"][:10],
            (r["last_used_at"] or "-")[:16],
            state,
        )
    console.print(t)


@app.command()
def revoke(
    token_id: str,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who revokes (local store).")] = None,
    server: ServerOpt = None,
) -> None:
    """Revoke a token at once (its user or an admin)."""
    remote = make_remote(server)
    if remote is not None:
        remote.call("DELETE", f"/tokens/{token_id}")
    else:
        if not user:
            raise InputError("name who revokes with --user (or use --server with a token)", field="user")
        with authenticated("local"):
            u.revoke_token(store(), token_id, by=user, auth="local")
    console.print(f"token {token_id} revoked")
