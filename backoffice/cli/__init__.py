"""The ``backoffice`` command. Exit codes: 0 ok, 1 failure or failed check, 2 usage, 3 permission denied."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import click
import typer

from backoffice.cli import audit, deploy, extract, queue, users
from backoffice.cli._common import console, err_console, print_json
from backoffice.cli.inbox import inbox as inbox_command
from backoffice.errors import BackofficeError, InputError, PermissionDenied
from backoffice.plugins import bot_names, load_bot, load_run_command, run_command_names

app = typer.Typer(
    help="backoffice: RPA bots, a human exception queue and a tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(queue.app, name="queue")
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="users")
app.command("inbox")(inbox_command)
app.add_typer(extract.app, name="extract")
app.command("deploy")(deploy.command)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
)
def run(
    ctx: typer.Context,
    bot: Annotated[str | None, typer.Argument(help="The bot to run; without it, the installed bots.")] = None,
) -> None:
    """Run a bot on its inputs (one Prefect flow run). `backoffice run BOT --help` shows its options."""
    commands = run_command_names()
    if bot is None or bot in ("--help", "-h"):
        console.print("usage: backoffice run BOT [OPTIONS]   (BOT --help for its options)")
        for name in commands:
            console.print(f"  {name}")
        return
    if bot not in commands:
        raise typer.BadParameter(f"no bot {bot!r}; installed: {', '.join(commands) or 'none'}")
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.command(name=bot)(load_run_command(bot))
    sub.command(name="-", hidden=True)(lambda: None)  # keeps typer from collapsing to a single command
    rv = sub(args=[bot, *ctx.args], prog_name="backoffice run", standalone_mode=False)
    if isinstance(rv, int) and rv:
        raise typer.Exit(rv)


@app.command()
def demo(
    json_: Annotated[bool, typer.Option("--json", help="Print the run summaries as JSON.")] = False,
) -> None:
    """Run all three bots on fixtures/ with the embedded store and Prefect's embedded mode."""
    from flows.demo import run_demo

    result = run_demo()
    if json_:
        print_json(result)


@app.command()
def reprocess(bot: Annotated[str | None, typer.Option(help="Only this bot.")] = None) -> None:
    """Send resolved items back through their bots (the reprocess flow)."""
    from flows.reprocess_resolved import reprocess_resolved

    result = reprocess_resolved(bots=[bot] if bot else None)
    print_json(result)


@app.command()
def escalate() -> None:
    """Escalate overdue items to the next tier (the escalation flow)."""
    from flows.escalate_overdue import escalate_overdue

    print_json(escalate_overdue())


@app.command()
def bots(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Installed bots, their rule-set versions and rule codes."""
    out: list[dict[str, Any]] = []
    for name in bot_names():
        b = load_bot(name)
        out.append(
            {
                "name": name,
                "ruleset_version": b.ruleset.version,
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
        )
    if json_:
        print_json(out)
        return
    for entry in out:
        console.print(f"[bold]{entry['name']}[/] {entry['ruleset_version']}")
        for code, spec in entry["rules"].items():
            console.print(
                f"  {code:<22} {spec['owner_role']:<10} SLA {spec['sla_hours']:g}h  {spec['description']}"
            )


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
    try:
        rv = app(args=argv, standalone_mode=False)
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
