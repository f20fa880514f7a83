"""The circuit breaker for targets: a system that is down stops the run instead of flooding the queue.

One HTTP 500 at a target's login, or a release that renamed the form's elements, turns every item
of a run into a system exception that someone must approve one by one, after each has waited
through its retries. The breaker stops the run at the first sign instead:

- a bot raises :class:`~backoffice.errors.TargetDown` (its login was refused or failed after
  retries; from ``open``, ``read`` or ``act``), or
- ``settings.breaker_failures`` items in a row end as *system* failures (an :class:`Outcome` of
  kind ``system``, or a whole ``act`` call that failed for a system reason): :func:`observe` counts
  them on the run's handle (:attr:`~backoffice.runner.handle.Run.system_streak`, across batches;
  any other outcome ends the streak) and raises TargetDown when the streak is long enough.

Then :func:`trip` writes ONE ``run.incident`` audit entry (kind ``target-down``, via
:mod:`~backoffice.runner.incidents`, as rule storms do) with the reason, the counts and the last
failure's evidence; the items of the streak and the items not acted on yet get no outcome, so they
stay ``new`` (owned by a failed run: the next run takes them over, searching the target first as
always, so nothing is entered twice); the outcomes before the streak are recorded as usual, and
:func:`stop_if_down` (after the batch is recorded) raises the TargetDown so the run finishes as
``failed`` and the CLI exits 1. No per-item exception is queued for a system that is down.

The breaker sees outcomes as a bot's ``act`` yields them: a bot whose ``act`` is a generator is
stopped mid-batch (the rest of its items are never tried); a bot that returns a list is stopped
after that call.
"""

from __future__ import annotations

import logging
from typing import Any

from backoffice.contract import Outcome
from backoffice.errors import TargetDown
from backoffice.runner.handle import Run
from backoffice.runner.incidents import record_incident

__all__ = ["observe", "observe_failed_call", "stop_if_down", "trip"]

log = logging.getLogger("backoffice.runner")


def _streak_error(run: Run, last: str) -> TargetDown:
    n = len(run.system_streak)
    return TargetDown(f"{n} system failures in a row (limit {run.settings.breaker_failures}); last: {last}")


def observe(run: Run, outcome: Outcome) -> None:
    """Count one outcome; TargetDown once ``settings.breaker_failures`` system failures are in a row."""
    if outcome.ok or outcome.kind != "system":
        run.system_streak.clear()
        return
    run.system_streak.append(outcome.key)
    if len(run.system_streak) >= run.settings.breaker_failures:
        last = outcome.violations[0].message if outcome.violations else "system failure"
        raise _streak_error(run, last)


def observe_failed_call(run: Run, keys: list[str], exc: BaseException) -> None:
    """A whole ``act`` call failed for a system reason: each of its items counts as one failure."""
    run.system_streak.extend(keys)
    if len(run.system_streak) >= run.settings.breaker_failures:
        raise _streak_error(run, f"{type(exc).__name__}: {exc}") from exc


def trip(
    run: Run,
    exc: TargetDown,
    *,
    left: int = 0,
    acted: int = 0,
    last: Outcome | None = None,
) -> None:
    """Record the run's one ``target-down`` incident (a second call for the same run records
    nothing) and mark the run down; :func:`stop_if_down` raises ``exc`` once the batch is recorded.

    ``left``: items of the batch left ``new`` (the streak and those not acted on yet); ``acted``:
    items of the batch whose outcomes are recorded; ``last``: the last failure, whose violations
    and evidence the incident names."""
    if run.down is not None:
        return
    run.down = exc
    data: dict[str, Any] = {
        "reason": str(exc),
        "error": type(exc.__cause__ or exc).__name__,
        "consecutive_failures": len(run.system_streak),
        "breaker_failures": run.settings.breaker_failures,
        "left_new": left,
        "recorded": acted,
    }
    if exc.target:
        data["target"] = exc.target
    evidence: list[str] = list(exc.evidence)
    if last is not None:
        data["last_failure"] = [v.model_dump(mode="json") for v in last.violations]
        evidence = [e.sha256 for e in last.evidence]
    record_incident(run, "target-down", data, evidence=evidence)
    log.error("%s: run %s stopped, target down: %s", run.bot, run.run_id, exc)


def stop_if_down(run: Run) -> None:
    """Raise the TargetDown that tripped the breaker, if it did (call after recording a batch)."""
    if run.down is not None:
        raise run.down
