"""Handing the items that passed to ``bot.act``: transient failures retried per
:mod:`backoffice.retry`, then, like terminal failures, queued as system exceptions; any other
error is a bot defect that must not lose the batch."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from backoffice.contract import Bot, Outcome, State
from backoffice.items import Item
from backoffice.retry import RetryPolicy, classify, retry
from backoffice.rules import Violation
from backoffice.runner.runs import Run

__all__ = ["act_with_retries"]

log = logging.getLogger("backoffice.runner")


def act_with_retries(
    bot: Bot[Any, Any], todo: list[Item], state: State[Any], run: Run
) -> tuple[dict[str, Outcome], dict[str, Violation]]:
    """Call bot.act; transient failures are retried (backoffice.retry, policy from the settings),
    then every item of the call is a system failure; a terminal one at once; any other error is a
    bot defect."""
    attempts = 0

    def act() -> list[Outcome]:
        nonlocal attempts
        attempts += 1
        return bot.act(todo, state)

    def warn(attempt: int, exc: BaseException) -> None:
        log.warning("%s: transient failure (attempt %d), retrying: %s", run.bot, attempt, exc)

    try:
        outcomes = retry(act, RetryPolicy.from_settings(run.settings), on_retry=warn)
    except Exception as exc:
        kind = classify(exc)
        if kind == "transient":
            v = Violation(code="SYSTEM-TRANSIENT", message=f"failed after {attempts} attempts: {exc}")
        elif kind == "terminal":
            v = Violation(code="SYSTEM-TERMINAL", message=str(exc))
        else:  # a bot defect must not lose the batch
            tb = traceback.format_exc(limit=5)
            log.error("%s: act failed: %s", run.bot, tb)
            v = Violation(code="BOT-DEFECT", message=f"{type(exc).__name__}: {exc}", actual=tb[-1500:])
        return {}, {it.key: v for it in todo}
    by_key = {o.key: o for o in outcomes}
    missing = {
        it.key: Violation(code="BOT-DEFECT", message="the bot returned no outcome for this item")
        for it in todo
        if it.key not in by_key
    }
    return by_key, missing
