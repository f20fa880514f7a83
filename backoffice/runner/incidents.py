"""The one way a run records a system incident: one ``run.incident`` audit entry (subject
``run:<id>``, outcome ``stopped``) naming its ``kind`` (``rule-storm``, ``target-down``) and the
figures that stopped it. Used by :mod:`~backoffice.runner.storm` and
:mod:`~backoffice.runner.breaker`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backoffice.runner.handle import Run

__all__ = ["record_incident"]


def record_incident(run: Run, kind: str, data: dict[str, Any], *, evidence: Iterable[str] = ()) -> None:
    """Write the run's incident entry: ``{"kind": kind, **data}``, with evidence hashes if any."""
    run.audit(
        "run.incident", f"run:{run.run_id}", {"kind": kind, **data}, evidence=evidence, outcome="stopped"
    )
