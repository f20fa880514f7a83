"""Runs a bot over items in batches: validate, apply rules, act, record.

A bot implements :class:`backoffice.contract.Bot`. For each batch the runner

1. registers the items by idempotency key; keys already ``done`` or queued are skipped, so a
   rerun after a crash never processes an item twice and never loses one;
2. validates each payload with the bot's pydantic model and runs every rule;
3. hands the straight-through items to ``bot.act`` (transient errors are retried per
   :mod:`backoffice.retry`; after ``settings.retries`` they are queued as *system* exceptions);
4. records the outcome of every item and its audit entry in one transaction.

Status changes go through :mod:`backoffice.lifecycle` (register, finish, queue, close, reprocess).

Items that break a rule go to the queue as *business* exceptions. :func:`reprocess` takes
items a human resolved back through the bot.

Plain Python; :mod:`backoffice.orchestration` wraps it in Prefect tasks. Modules:
:mod:`~backoffice.runner.handle` (Run, RunSummary), :mod:`~backoffice.runner.runs` (start/finish), :mod:`~backoffice.runner.ownership`
(registration, leases, takeover), :mod:`~backoffice.runner.checks` (model and rules),
:mod:`~backoffice.runner.acting` (act with retries), :mod:`~backoffice.runner.recording`
(outcomes and audit), :mod:`~backoffice.runner.batches` (one batch), :mod:`~backoffice.runner.direct`
(run_bot) and :mod:`~backoffice.runner.reprocessing`.
"""

from __future__ import annotations

from backoffice.runner.batches import batched, process_batch
from backoffice.runner.direct import run_bot
from backoffice.runner.handle import Run, RunSummary
from backoffice.runner.reprocessing import reprocess
from backoffice.runner.runs import finish_run, run_inputs, start_run

__all__ = [
    "Run",
    "RunSummary",
    "batched",
    "finish_run",
    "process_batch",
    "reprocess",
    "run_bot",
    "run_inputs",
    "start_run",
]
