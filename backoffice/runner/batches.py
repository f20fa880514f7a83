"""One batch end to end: register, check, act, record. Safe to repeat (idempotent by key)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from backoffice.collector import collector_paused
from backoffice.contract import Bot, Outcome, State
from backoffice.items import Item
from backoffice.rules import Violation
from backoffice.runner.acting import act_with_retries
from backoffice.runner.breaker import stop_if_down
from backoffice.runner.checks import check_item
from backoffice.runner.ownership import Registered, register
from backoffice.runner.recording import record_outcomes
from backoffice.runner.runs import RunSummary
from backoffice.runner.storm import guard

__all__ = ["batched", "process_batch"]


def batched(iterable: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """The items in lists of ``size`` (the last one shorter). Each list is filled with the
    cyclic garbage collector paused (:func:`backoffice.collector.collector_paused`: the bot's reading builds the
    batch's items, which all stay alive until the batch is recorded); it runs again before the
    list is handed on, so no pause outlasts the filling of one batch."""
    items = iter(iterable)
    while True:
        with collector_paused():
            batch = list(islice(items, max(size, 1)))
        if not batch:
            return
        yield batch


def process_batch(bot: Bot[Any, Any], batch: list[Item], state: State[Any]) -> RunSummary:
    """Process one batch end to end. Safe to call again with the same items (idempotent)."""
    with collector_paused():
        return _process_batch(bot, batch, state)


def _process_batch(bot: Bot[Any, Any], batch: list[Item], state: State[Any]) -> RunSummary:
    run = state.run
    ctx = bot.rules_context(state)
    summary = RunSummary(run.run_id, run.bot)
    summary.total = len(batch)
    store = run.store
    registered: dict[str, Registered] = {}
    with store.write() as conn:
        todo = register(
            conn,
            run,
            batch,
            personal=bool(bot.amount_class and bot.amount_class.personal),
            registered=registered,
        )
    summary.skipped = len(batch) - len(todo)

    checked: list[tuple[Item, list[Violation]]] = []
    passing: list[Item] = []
    info: dict[str, list[Violation]] = {}
    judged = blocked = 0  # by the rules (items read broken carry their violations already)
    for it in todo:
        judged += not it.violations
        model, found = check_item(bot, it, ctx)
        blocking = [v for v in found if v.blocking]
        info[it.key] = [v for v in found if not v.blocking]
        if blocking:
            blocked += not it.violations
            checked.append((it, blocking))
        else:
            if model is not None:
                it._parsed = model
            passing.append(it)

    guard(run, judged, blocked)  # a rule storm stops here: this batch stays ``new`` for a rerun
    for it, found in checked:  # what the rules compared, for the people who work the item
        have = {e.sha256 for e in it.evidence}
        it.evidence.extend(e for e in bot.evidence(it, found, state) if e.sha256 not in have)
    outcomes: dict[str, Outcome] = {}
    system: dict[str, Violation] = {}
    if passing:
        outcomes, system = act_with_retries(bot, passing, state, run)
    record_outcomes(run, bot.ruleset, todo, checked, outcomes, system, info, summary, registered)
    stop_if_down(run)  # a target that is down stops the run here: the items not acted on stay ``new``
    return summary
