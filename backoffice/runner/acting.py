"""Handing the items that passed to ``bot.act``: transient failures retried per
:mod:`backoffice.retry` (a retry hands over only the items that have no outcome yet), then, like
terminal failures, queued as system exceptions; any other error is a bot defect that must not
lose the batch. Outcomes are consumed as the bot yields them and counted by the circuit breaker
(:mod:`backoffice.runner.breaker`): a target that is down stops the batch, its items not acted
on are left ``new`` and no exception is queued for them."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from backoffice.contract import Bot, Outcome, State
from backoffice.errors import TargetDown
from backoffice.items import Item
from backoffice.retry import RetryPolicy, classify, retry
from backoffice.rules import Violation
from backoffice.runner.breaker import observe, observe_failed_call, trip
from backoffice.runner.runs import Run

__all__ = ["act_with_retries"]

log = logging.getLogger("backoffice.runner")


def act_with_retries(
    bot: Bot[Any, Any], todo: list[Item], state: State[Any], run: Run
) -> tuple[dict[str, Outcome], dict[str, Violation]]:
    """Call bot.act; transient failures are retried (backoffice.retry, policy from the settings)
    for the items without an outcome yet, then each of them is a system failure; a terminal one
    at once; any other error is a bot defect. When the breaker trips (TargetDown raised by the bot
    or after ``settings.breaker_failures`` system failures in a row) the incident is recorded and
    the items of the failing streak and those not acted on get no outcome (they stay ``new``);
    :func:`backoffice.runner.breaker.stop_if_down` stops the run once the batch is recorded."""
    attempts = 0
    results: dict[str, Outcome] = {}

    def act() -> None:
        nonlocal attempts
        attempts += 1
        pending = [it for it in todo if it.key not in results]
        for outcome in bot.act(pending, state):
            results[outcome.key] = outcome
            observe(run, outcome)

    def warn(attempt: int, exc: BaseException) -> None:
        log.warning("%s: transient failure (attempt %d), retrying: %s", run.bot, attempt, exc)

    try:
        try:
            retry(act, RetryPolicy.from_settings(run.settings), on_retry=warn)
        except TargetDown:
            raise
        except Exception as exc:
            remaining = [it for it in todo if it.key not in results]
            kind = classify(exc)
            if kind == "other":  # a bot defect must not lose the batch
                tb = traceback.format_exc(limit=5)
                log.error("%s: act failed: %s", run.bot, tb)
                v = Violation(code="BOT-DEFECT", message=f"{type(exc).__name__}: {exc}", actual=tb[-1500:])
            else:
                observe_failed_call(run, [it.key for it in remaining], exc)
                if kind == "transient":
                    v = Violation(code="SYSTEM-TRANSIENT", message=f"failed after {attempts} attempts: {exc}")
                else:
                    v = Violation(code="SYSTEM-TERMINAL", message=str(exc))
            return results, {it.key: v for it in remaining}
    except TargetDown as down:
        streak = set(run.system_streak)
        kept = {k: o for k, o in results.items() if k not in streak}
        failures = [o for k, o in results.items() if k in streak]
        last = failures[-1] if failures else None
        trip(run, down, left=len(todo) - len(kept), acted=len(kept), last=last)
        return kept, {}
    missing = {
        it.key: Violation(code="BOT-DEFECT", message="the bot returned no outcome for this item")
        for it in todo
        if it.key not in results
    }
    return results, missing
