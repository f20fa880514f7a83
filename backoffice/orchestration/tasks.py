"""Prefect glue: one flow per bot run, one task per batch (never one per item).

Call :func:`run_bot_flow` inside a ``@flow`` (:func:`backoffice.orchestration.flows.bot_flow` builds
that flow from a bot); it runs the bot's ``open`` in a task, streams ``bot.read(state)`` into batches of ``settings.batch_size`` and processes each batch in one
``process-batch`` task. Task arguments are passed through ``quote()``: otherwise Prefect walks
every argument looking for futures, which for a state of 200,000 look-ups costs seconds per
task call. Tasks are not retried by Prefect: the runner retries a transient failure of
``bot.act`` itself (:mod:`backoffice.retry`, the one retry policy) and queues what still fails as
a system exception, so a transient error never leaves ``process_batch``; what does (a store
failure, a defect) is not worth retrying, and a retried batch would repeat the runner's retries.
A rerun of the flow is harmless (idempotency keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from backoffice.change_control.records import running_bot
from backoffice.contract import Bot, Inputs, State
from backoffice.pii import install_log_masking
from backoffice.runner import Run, RunSummary, batched, process_batch, reprocess
from backoffice.runner.runs import bot_run
from backoffice.store import Store

__all__ = ["reprocess_flow_body", "run_bot_flow"]

T = TypeVar("T")


def _opaque(value: T) -> T:
    """``value`` wrapped so Prefect hands it to the task as is, without walking it for futures."""
    return cast(T, quote(value))


@task(name="open", cache_policy=NO_CACHE, persist_result=False)
def _open(bot: Bot[Any, Any], inputs: Inputs, run: Run) -> State[Any]:
    return bot.open(inputs, run)


@task(name="process-batch", cache_policy=NO_CACHE, persist_result=False)
def _batch(bot: Bot[Any, Any], batch: list[Any], state: State[Any]) -> RunSummary:
    return process_batch(bot, batch, state)


@task(name="finish", cache_policy=NO_CACHE, persist_result=False)
def _finish(bot: Bot[Any, Any], state: State[Any], summary: RunSummary) -> dict[str, Any]:
    return dict(bot.finish(state, summary) or {})


def run_bot_flow(
    bot: Bot[Any, Any],
    inputs: Inputs,
    *,
    batch_size: int | None = None,
    store: Store | None = None,
    rule_params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of a bot's flow (call it inside a ``@flow``). Returns the run summary as a dict.

    The bot runs with the params in force (its approved record's, change control), changed by
    ``rule_params`` (PARAM -> text, typed by the bot's params model) when given: the run's
    rule-set version is then that of the changed params, which production mode runs only when
    it is approved (:func:`~backoffice.runner.start_run`)."""
    install_log_masking()  # workers started by Prefect, not our CLI, mask logs too
    store = store or Store.open()
    bot = running_bot(store, bot, rule_params)
    logger = get_run_logger()

    def opener(values: Inputs, run: Run) -> State[Any]:
        return _open(_opaque(bot), _opaque(values), _opaque(run))

    with bot_run(bot, inputs, store, opener=opener) as (state, summary):
        size = batch_size or store.settings.batch_size
        for n, batch in enumerate(batched(bot.read(state), size), start=1):
            part = _batch.with_options(task_run_name=f"batch-{n}")(
                _opaque(bot), _opaque(batch), _opaque(state)
            )
            summary.add(part)
            logger.info(
                "batch %d: %d items, %d done, %d queued, %d skipped",
                n,
                part.total,
                part.done,
                part.queued + part.system,
                part.skipped,
            )
        summary.extra.update(_finish(_opaque(bot), _opaque(state), _opaque(summary)))
    return summary.to_dict()


@task(name="reprocess", cache_policy=NO_CACHE, persist_result=False)
def _reprocess(bot: Bot[Any, Any], store: Store) -> RunSummary:
    return reprocess(bot, store=store)


def reprocess_flow_body(bots: list[Bot[Any, Any]], store: Store | None = None) -> dict[str, Any]:
    """Body of the reprocess flow: every resolved item goes back through its bot."""
    install_log_masking()
    store = store or Store.open()
    return {bot.name: _reprocess(_opaque(bot), _opaque(store)).to_dict() for bot in bots}
