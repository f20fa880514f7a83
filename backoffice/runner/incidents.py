"""The one way a run records a system incident (``rule-storm``, ``target-down``, ``bot-defect``):
in one transaction, the run's ``run.incident`` audit entry (subject ``run:<id>``, outcome
``stopped``, with the figures that stopped it and the incident's id) and a first-class incident
(:func:`backoffice.incidents.open_incident`: opened, escalated to the team lead tier, its own
timeline under ``incident:<id>``). Used by :mod:`~backoffice.runner.storm`,
:mod:`~backoffice.runner.breaker` and :mod:`~backoffice.runner.runs` (bot defects)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backoffice.audit import AuditEntry, append
from backoffice.incidents import Incident, incident_notice, open_incident
from backoffice.notify import notify
from backoffice.runner.handle import Run

__all__ = ["record_incident"]

_SUMMARIES = {
    "target-down": "target down: {reason}",
    "rule-storm": "rule storm: {exceptions} exceptions of {checked} checked items",
    "bot-defect": "bot defect: {error}: {message}",
}


def _summary(kind: str, data: dict[str, Any]) -> str:
    try:
        return _SUMMARIES[kind].format(**data)
    except (KeyError, IndexError):
        return kind


def record_incident(run: Run, kind: str, data: dict[str, Any], *, evidence: Iterable[str] = ()) -> Incident:
    """Write the run's incident entry ``{"kind": kind, "incident": id, **data}`` (with evidence
    hashes if any) and open the incident it names; then notify it (event ``incident``)."""
    proofs = list(evidence)
    with run.store.write() as conn:
        incident = open_incident(
            conn,
            run.store,
            kind=kind,
            bot=run.bot,
            run_id=run.run_id,
            summary=_summary(kind, data),
            data=data,
            actor=run.actor,
            ruleset_version=run.ruleset_version,
            evidence=proofs,
        )
        append(
            conn,
            run.store,
            AuditEntry(
                actor=run.actor,
                role="bot",
                action="run.incident",
                subject=f"run:{run.run_id}",
                bot=run.bot,
                data={"kind": kind, "incident": incident.id, **data},
                ruleset_version=run.ruleset_version,
                evidence=proofs,
                outcome="stopped",
            ),
        )
    notify(run.store, [incident_notice(incident)])
    return incident
