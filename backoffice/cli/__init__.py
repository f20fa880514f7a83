"""The ``backoffice`` command. Exit codes: 0 ok, 1 failure or failed check, 2 usage, 3 permission denied."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import click
import typer

from backoffice.cli import (
    audit,
    deploy,
    engagements,
    incidents,
    new,
    owners,
    queue,
    report,
    rules,
    tokens,
    users,
)
from backoffice.cli import queue_work as _queue_work  # noqa: F401 (its commands join the queue group)
from backoffice.cli._common import console, err_console, print_json, readable_help
from backoffice.cli.inbox import inbox as inbox_command
from backoffice.cli.lifetime import reap_orphaned_servers, terminate_as_interrupt
from backoffice.contract import Bot
from backoffice.errors import BackofficeError, InputError, PermissionDenied, UsageError
from backoffice.plugins import command_names, load_command, registry
from backoffice.settings import get_settings
from backoffice.store import use_engagement

app = typer.Typer(
    help="backoffice: RPA bots, a human exception queue and a tamper-evident audit log. "
    "--engagement NAME, anywhere on a command line (or BACKOFFICE_ENGAGEMENT), works in that "
    "engagement's (client's) store; default: the default engagement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(queue.app, name="queue")
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(new.app, name="new")
app.add_typer(rules.app, name="rules")
app.add_typer(owners.app, name="owners")
app.add_typer(incidents.app, name="incidents")
app.add_typer(report.app, name="report")
app.add_typer(engagements.app, name="engagements")
app.command("inbox")(inbox_command)
app.command("deploy")(deploy.command)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def run(
    ctx: typer.Context,
    bot: Annotated[str | None, typer.Argument(help="The bot to run; without it, the installed bots.")] = None,
) -> None:
    """Run a bot on its inputs (one Prefect flow run). `backoffice run BOT --help` shows its options."""
    from backoffice.cli.run import run_command

    reg = registry()
    names = reg.names()
    if bot is None or bot in ("--help", "-h"):
        console.print("usage: backoffice run BOT [OPTIONS]   (BOT --help for its options)")
        for name in names:
            console.print(f"  {name}")
        return
    if bot not in names:
        raise typer.BadParameter(f"no bot {bot!r}; installed: {', '.join(names) or 'none'}")
    command = run_command(reg.get(bot))
    rv = command.main(args=list(ctx.args), prog_name=f"backoffice run {bot}", standalone_mode=False)
    if isinstance(rv, int) and rv:
        raise typer.Exit(rv)


@app.command()
def reprocess(
    bot: Annotated[str | None, typer.Option(help="Only this bot.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Send resolved items back through their bots (the reprocess flow)."""
    from backoffice.cli.tables import reprocess_table
    from backoffice.orchestration.maintenance import reprocess_resolved

    result = reprocess_resolved(bots=[bot] if bot else None)
    if json_:
        print_json(result)
        return
    console.print(reprocess_table(result))


@app.command()
def escalate(json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Escalate overdue items to the next tier (the escalation flow)."""
    from backoffice.cli.tables import escalate_table
    from backoffice.orchestration.maintenance import escalate_overdue

    result = escalate_overdue()
    if json_:
        print_json(result)
        return
    console.print(escalate_table(result))


@app.command()
def bots(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Installed bots: inputs, record class, data classes, rule-set versions and rule codes."""
    out = [describe_bot(b) for b in registry().bots()]
    if json_:
        print_json(out)
        return
    from backoffice.cli.tables import Col, table

    for entry in out:
        console.print(
            f"[bold]{entry['name']}[/] {entry['ruleset_version']}  (records: {entry['record_class']})"
        )
        t = table("code", "owner", Col("SLA", justify="right"), Col("what", text=True))
        for code, spec in entry["rules"].items():
            t.add_row(code, spec["owner_role"], f"{spec['sla_hours']:g} h", spec["description"])
        console.print(t)


def describe_bot(b: Bot[Any, Any]) -> dict[str, Any]:
    """What `backoffice bots --json` says of one bot."""
    from backoffice.data_classes import declared

    return {
        "name": b.name,
        "description": b.description,
        "ruleset_version": b.ruleset.version,
        "record_class": b.record_class,
        "title_field": b.title_field,
        "inputs": {
            name: {"required": f.is_required(), "description": f.description or ""}
            for name, f in b.Inputs.model_fields.items()
        },
        "data_classes": {path: str(cls) for path, cls in declared(b.model).items()},
        "rules": {
            code: {
                "owner_role": s.owner_role,
                "sla_hours": s.sla.total_seconds() / 3600,
                "approver_only": s.approver_only,
                "description": s.description,
            }
            for code, s in b.ruleset.codes().items()
        },
    }


@app.command()
def config(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The effective settings (secrets hidden) with their descriptions."""
    from backoffice.settings import Settings, get_settings

    s = get_settings()
    rows = []
    for name, f in Settings.model_fields.items():
        value = getattr(s, name)
        shown = "(set)" if value is not None and "secret" in type(value).__name__.lower() else value
        rows.append({"env": f"BACKOFFICE_{name.upper()}", "value": shown, "description": f.description})
    if json_:
        print_json(rows)
        return
    for r in rows:
        console.print(f"[bold]{r['env']}[/] = {r['value']}\n    {r['description']}")


def _quiet_logs() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The embedded Prefect server can take 10-60 s to start on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    logging.getLogger("backoffice").setLevel(logging.WARNING)
    from backoffice.pii import install_log_masking

    install_log_masking()  # IBANs and password=... never reach a log


def main(argv: list[str] | None = None) -> int:
    """Entry point: typed errors become one clear line and an exit code, never a traceback."""
    _quiet_logs()
    terminate_as_interrupt()  # SIGTERM unwinds like SIGINT: Prefect's embedded server is stopped
    reap_orphaned_servers(get_settings().prefect_home)  # what a kill -9 of an earlier run left
    try:
        argv, engagement = take_engagement(sys.argv[1:] if argv is None else list(argv))
        _mount_plugins(argv)
        with use_engagement(engagement):
            command = typer.main.get_command(app)
            try:
                command = readable_help(command)
            except (AttributeError, TypeError):  # typer internals moved: plain help, commands unharmed
                command = typer.main.get_command(app)
            rv = command.main(args=argv, prog_name="backoffice", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except (click.exceptions.Exit, typer.Exit) as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err_console.print("aborted")
        return 1
    except (click.ClickException, typer.TyperException) as exc:  # typer >= 0.20 vendors its own click
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"error: {exc}")
        return int(getattr(exc, "exit_code", 2) or 2)
    except PermissionDenied as exc:
        err_console.print(f"[red]permission denied:[/] {exc}")
        return 3
    except UsageError as exc:
        err_console.print(f"[red]usage:[/] {exc}")
        return 2
    except InputError as exc:
        err_console.print(f"[red]bad input:[/] {exc}")
        return 2 if exc.code == "USAGE" else 1
    except BackofficeError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # a defect or an environment problem: one line here, details in the log
        log_path = _log_unexpected()
        err_console.print(f"[red]unexpected error:[/] {type(exc).__name__}: {exc}\n(details in {log_path})")
        return 1


def take_engagement(argv: list[str]) -> tuple[list[str], str | None]:
    """``argv`` without its ``--engagement NAME`` (or ``--engagement=NAME``, ``-e NAME``), and NAME.

    The option may stand anywhere before a ``--``: every command works in one engagement's store,
    so it is taken here, once, rather than declared by each command."""
    out: list[str] = []
    name: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg in ("--engagement", "-e"):
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs an engagement name", field="engagement")
            name = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--engagement="):
            name = arg.split("=", 1)[1]
        else:
            out.append(arg)
        i += 1
    return out, name


_CORE_COMMANDS = frozenset(
    {
        "run",
        "reprocess",
        "escalate",
        "bots",
        "config",
        "queue",
        "audit",
        "users",
        "inbox",
        "deploy",
        "new",
        "engagements",
    }
)
_mounted: set[str] = set()


def _mount_plugins(argv: list[str]) -> None:
    """Add the bots' own command groups and the `backoffice.commands` entry points, only when the
    command line may name one (so `backoffice queue ...` does not import every bot). Groups of the
    same name from several plugins (each bot's ``extract``) are merged into one group."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in _CORE_COMMANDS:
        return
    found: dict[str, list[Any]] = {}
    for name in command_names():
        if name not in _mounted and (first is None or first == name):
            found.setdefault(name, []).append(load_command(name))
    for b in registry().bots():
        for name, sub in b.commands().items():
            if name not in _mounted and (first is None or first == name):
                found.setdefault(name, []).append(sub)
    for name, subs in found.items():
        _mounted.add(name)
        _add(name, _merged(subs))


def _merged(subs: list[Any]) -> Any:
    """One typer group holding the commands and sub-groups of every group given (first one wins a
    name), with the first group's help and callback; a single contribution is used as it is."""
    groups = [s for s in subs if isinstance(s, typer.Typer)]
    if len(subs) == 1 or len(groups) != len(subs):
        return subs[0]
    merged = typer.Typer(no_args_is_help=True)
    merged.info = groups[0].info
    merged.registered_callback = groups[0].registered_callback
    seen: set[str] = set()
    for g in groups:
        for cmd in g.registered_commands:
            key = cmd.name or (cmd.callback.__name__.replace("_", "-") if cmd.callback else "")
            if key not in seen:
                seen.add(key)
                merged.registered_commands.append(cmd)
        for grp in g.registered_groups:
            if grp.name not in seen:
                seen.add(grp.name or "")
                merged.registered_groups.append(grp)
    return merged


def _add(name: str, obj: Any) -> None:
    if isinstance(obj, typer.Typer):
        app.add_typer(obj, name=name)
    else:
        app.command(name)(obj)


def _log_unexpected() -> str:
    import traceback

    from backoffice.pii import mask_text
    from backoffice.settings import get_settings
    from backoffice.store import utcnow

    logs = get_settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "cli-errors.log"
    with path.open("a") as fh:
        fh.write(mask_text(f"--- {utcnow().isoformat()} {' '.join(sys.argv)}\n{traceback.format_exc()}\n"))
    return str(path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
