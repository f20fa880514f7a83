"""A whole run without Prefect (tests, scripts): open, read in batches, finish, close."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backoffice.change_control.records import in_force
from backoffice.contract import Bot, Inputs
from backoffice.runner.batches import batched, process_batch
from backoffice.runner.runs import RunSummary, bot_run
from backoffice.store import Store

__all__ = ["run_bot"]


def run_bot(
    bot: Bot[Any, Any],
    inputs: Inputs | Mapping[str, Any],
    *,
    store: Store | None = None,
    batch_size: int | None = None,
) -> RunSummary:
    """Run a bot without Prefect (tests, scripts). Flows use backoffice.orchestration instead."""
    store = store or Store.open()
    bot, _ = in_force(store, bot)  # with its approved params (change control)
    parsed = inputs if isinstance(inputs, Inputs) else bot.parse_inputs(inputs)
    with bot_run(bot, parsed, store) as (state, summary):
        for batch in batched(bot.read(state), batch_size or store.settings.batch_size):
            summary.add(process_batch(bot, batch, state))
        summary.extra.update(bot.finish(state, summary) or {})
    return summary
