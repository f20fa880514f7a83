"""Register the bot flows and the maintenance flows as deployments in a Prefect work pool.

``backoffice deploy`` (see :mod:`backoffice.cli.deploy`) calls :func:`deploy_all`, which deploys
what :func:`discover` finds:

- bot flows: one per installed bot (the plugin registry), built from the bot's ``Inputs``
  (:func:`backoffice.orchestration.flows.bot_flow`), entrypoint
  ``backoffice.orchestration.bot_flows.<name>``; plus the extra flows a bot offers
  (``Bot.flows()``, e.g. a run split into parts), by their own module path;
- maintenance flows (:mod:`backoffice.orchestration.maintenance`), on an interval schedule unless
  ``schedules=False``, at most one run of each at a time.

Deployments point at their flows by *module path*, so a process worker on any machine where
backoffice and the bots are installed can run them: no image, no code storage. The work pool
(type ``process``) is created if missing. Workers on every machine need the same
``BACKOFFICE_DATABASE_URL`` (and a shared ``BACKOFFICE_HOME`` for evidence files).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from backoffice.errors import ConfigError, UsageError
from backoffice.plugins import registry
from backoffice.store import DEFAULT_ENGAGEMENT, Store

__all__ = [
    "DeployedFlow",
    "FlowTarget",
    "deploy_all",
    "discover",
    "ensure_work_pool",
]

log = logging.getLogger("backoffice.deploy")


@dataclass
class FlowTarget:
    """A flow to deploy: its Prefect flow object, module-path entrypoint and role."""

    flow: Any  # prefect.Flow
    kind: str  # "bot" | "maintenance" | "scale-out"
    interval: timedelta | None = None

    @property
    def name(self) -> str:
        return str(self.flow.name)

    @property
    def entrypoint(self) -> str:
        return f"{self.flow.fn.__module__}.{self.flow.fn.__name__}"


@dataclass
class DeployedFlow:
    flow: str
    deployment: str
    id: str
    kind: str
    entrypoint: str
    schedule_seconds: float | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.flow}/{self.deployment}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.full_name,
            "flow": self.flow,
            "deployment": self.deployment,
            "id": self.id,
            "kind": self.kind,
            "entrypoint": self.entrypoint,
            "schedule_seconds": self.schedule_seconds,
            "tags": self.tags,
        }


def discover() -> list[FlowTarget]:
    """Every flow to deploy: bot flows (the registry), the bots' extra flows, maintenance flows."""
    from backoffice.orchestration.flows import bot_flow
    from backoffice.orchestration.maintenance import SCHEDULES

    targets: list[FlowTarget] = []
    for bot in registry().bots():
        targets.append(FlowTarget(bot_flow(bot), "bot"))
        targets.extend(FlowTarget(f, "scale-out") for f in bot.flows())
    targets.extend(FlowTarget(f, "maintenance", every) for f, every in SCHEDULES.values())
    names = [t.name for t in targets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two flows are named {', '.join(twice)}: flow names must be unique")
    return targets


def ensure_work_pool(name: str) -> bool:
    """Create the process work pool ``name`` unless it exists. Returns True if it was created."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            pass
        else:
            if pool.type != "process":
                raise ConfigError(
                    f"work pool {name!r} exists with type {pool.type!r}; backoffice needs 'process'"
                )
            return False
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    description="backoffice bots and maintenance flows",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:  # another `backoffice deploy` created it meanwhile
            return False
    return True


def _check_api() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is not set: point it at your Prefect server, "
            "e.g. export PREFECT_API_URL=http://prefect-host:4200/api"
        )
    return str(url)


def deploy_all(
    pool: str = "backoffice",
    *,
    name: str = "backoffice",
    schedules: bool = True,
    only: list[str] | None = None,
    env: dict[str, str] | None = None,
    tags: list[str] | None = None,
    engagement: str = DEFAULT_ENGAGEMENT,
) -> list[DeployedFlow]:
    """Create the work pool if needed and create or update one deployment per flow.

    ``only`` limits it to these flow names; ``env`` goes into every flow run's environment
    (job variables), on top of the worker's own. ``engagement``: the flow runs work in that
    engagement's store (BACKOFFICE_ENGAGEMENT in their environment, and the bot flows' parameter),
    and carry its name as a tag; deploy once per engagement, each under a name of its own.
    """
    from prefect.deployments.runner import EntrypointType

    _check_api()
    targets = discover()
    if only:
        unknown = sorted(set(only) - {t.name for t in targets})
        if unknown:
            raise UsageError(
                f"no flow named {', '.join(unknown)}; flows: {', '.join(t.name for t in targets)}",
                field="only",
            )
        targets = [t for t in targets if t.name in only]
    ensure_work_pool(pool)
    env = dict(env or {})
    if engagement != DEFAULT_ENGAGEMENT:
        Store.open(engagement=engagement)  # it exists (NotFound names the command that adds it)
        env["BACKOFFICE_ENGAGEMENT"] = engagement
    out: list[DeployedFlow] = []
    for t in targets:
        t_tags = ["backoffice", t.kind, f"engagement:{engagement}", *(tags or [])]
        interval = t.interval if schedules else None
        kwargs: dict[str, Any] = {
            "name": name,
            "entrypoint_type": EntrypointType.MODULE_PATH,
            "tags": t_tags,
            "description": (t.flow.description or "").strip() or None,
            "job_variables": {"env": dict(env)} if env else None,
        }
        if interval is not None:
            kwargs["interval"] = interval
        if t.kind != "maintenance" and engagement != DEFAULT_ENGAGEMENT:
            kwargs["parameters"] = {"engagement": engagement}
        if t.kind == "maintenance":
            kwargs["concurrency_limit"] = 1  # a slow run never overlaps the next scheduled one
        deployment = t.flow.to_deployment(**kwargs)
        deployment.entrypoint = t.entrypoint
        deployment_id = deployment.apply(work_pool_name=pool)
        out.append(
            DeployedFlow(
                flow=t.name,
                deployment=name,
                id=str(deployment_id),
                kind=t.kind,
                entrypoint=t.entrypoint,
                schedule_seconds=interval.total_seconds() if interval else None,
                tags=t_tags,
            )
        )
    return out
