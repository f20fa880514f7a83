"""``backoffice deploy``: register the flows as deployments in a Prefect work pool (process type)."""

from __future__ import annotations

from typing import Annotated

import typer

from backoffice.cli._common import console, print_json
from backoffice.errors import UsageError

__all__ = ["command"]


def command(
    pool: Annotated[
        str, typer.Option("--pool", help="Work pool (type process); created if missing.")
    ] = "backoffice",
    name: Annotated[
        str,
        typer.Option("--name", help="Deployment name: runs are FLOW/NAME, e.g. my-bot/backoffice."),
    ] = "backoffice",
    schedules: Annotated[
        bool,
        typer.Option(
            "--schedules/--no-schedules",
            help="Schedule the maintenance flows (reprocess every 10 min, escalate every 15 min).",
        ),
    ] = True,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Deploy only this flow (repeatable), e.g. my-bot."),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="KEY=VALUE set in every flow run's environment (repeatable)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Extra tag on every deployment.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the deployments as JSON.")] = False,
) -> None:
    """Register the bot flows and the maintenance flows as deployments (needs PREFECT_API_URL).

    With --engagement NAME they run in that engagement's store, deployed as FLOW/NAME."""
    from backoffice.orchestration.deploy import deploy_all

    variables: dict[str, str] = {}
    for pair in env or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--env takes KEY=VALUE, got {pair!r}", field="env")
        variables[key.strip()] = value
    from backoffice.store import DEFAULT_ENGAGEMENT, current_engagement

    engagement = current_engagement()
    if engagement != DEFAULT_ENGAGEMENT and name == "backoffice":
        name = engagement  # one set of deployments per engagement: FLOW/ENGAGEMENT
    deployed = deploy_all(
        pool, name=name, schedules=schedules, only=only, env=variables, tags=tag, engagement=engagement
    )
    if json_:
        print_json([d.to_dict() for d in deployed])
        return
    from backoffice.cli.tables import Col
    from backoffice.cli.tables import table as new_table

    table = new_table(
        "deployment",
        "kind",
        Col("entrypoint", optional=True),  # in --json; left out when it does not fit
        "schedule",
        title=f"deployments in work pool {pool!r}",
    )
    for d in deployed:
        every = f"every {d.schedule_seconds / 60:g} min" if d.schedule_seconds else "-"
        table.add_row(d.full_name, d.kind, d.entrypoint, every)
    console.print(table)
    console.print(
        f"start workers with: prefect worker start --pool {pool}   "
        f"(run one with: prefect deployment run '{deployed[0].full_name if deployed else 'FLOW/' + name}')"
    )
