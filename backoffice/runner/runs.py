"""A run of a bot: its handle (:class:`Run`: ids, inputs, store, evidence and audit helpers),
its summary (:class:`RunSummary`), and the ``runs`` rows and audit entries that start and end it."""

from __future__ import annotations

import gc
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert, select, update

from backoffice.audit import AuditEntry, append
from backoffice.change_control.records import check_start, params_of
from backoffice.contract import Bot, State
from backoffice.errors import BackofficeError, NotFound, TargetDown
from backoffice.inputs import Inputs
from backoffice.notify import notify, run_notice
from backoffice.runner.breaker import trip
from backoffice.runner.handle import Run, RunSummary
from backoffice.runner.incidents import record_incident
from backoffice.schema import runs
from backoffice.store import Store, utcnow

__all__ = ["Run", "RunSummary", "bot_run", "finish_run", "run_inputs", "start_run"]

Opener = Callable[[Inputs, Run], State[Any]]


def start_run(bot: Bot[Any, Any], inputs: Inputs, store: Store, *, reprocess: bool = False) -> Run:
    """Record and audit the start of a run; in production mode a bot whose rule-set version has no
    approved change-control record is refused here (:func:`~backoffice.change_control.check_start`)."""
    control = check_start(store, bot)
    run = Run(
        run_id=uuid.uuid4().hex[:12],
        bot=bot.name,
        inputs=inputs,
        store=store,
        ruleset_version=bot.ruleset.version,
        reprocess=reprocess,
        approval=control.approval,
    )
    with store.write() as conn:
        conn.execute(
            insert(runs).values(
                id=run.run_id,
                bot=bot.name,
                actor=run.actor,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=utcnow(),
                status="running",
                inputs=run.inputs_json,
                ruleset_version=run.ruleset_version,
            )
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=run.actor,
                role="bot",
                action="run.reprocess_started" if reprocess else "run.started",
                subject=f"run:{run.run_id}",
                bot=bot.name,
                data={"inputs": run.inputs_json, **control.to_dict(), "params": params_of(bot)},
                ruleset_version=run.ruleset_version,
            ),
        )
    return run


def finish_run(run: Run, summary: RunSummary, status: str = "finished") -> None:
    with run.store.write() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run.run_id)
            .values(finished_at=utcnow(), status=status, summary=summary.to_dict())
        )
        append(
            conn,
            run.store,
            AuditEntry(
                actor=run.actor,
                role="bot",
                action="run.finished" if status == "finished" else "run.failed",
                subject=f"run:{run.run_id}",
                bot=run.bot,
                data=summary.to_dict(),
                ruleset_version=run.ruleset_version,
                outcome=status,
            ),
        )


@contextmanager
def bot_run(
    bot: Bot[Any, Any], inputs: Inputs, store: Store, *, reprocess: bool = False, opener: Opener | None = None
) -> Iterator[tuple[State[Any], RunSummary]]:
    """One run from start to end: the run is recorded and audited, the bot's state opened
    (``opener``: how, e.g. inside a Prefect task; default ``bot.open``), and whatever happens in
    the block, the state is closed and the run finished, as ``failed`` if the block raised.

    The one place that drives a run's lifecycle, for :func:`~backoffice.runner.run_bot`, the
    Prefect flow body and reprocessing."""
    run = start_run(bot, inputs, store, reprocess=reprocess)
    summary = RunSummary(run.run_id, bot.name, ruleset_version=run.ruleset_version)
    summary.extra.update(engagement=store.engagement, mode=store.settings.mode, approval=run.approval)
    state: State[Any] | None = None
    frozen = False
    try:
        state = (opener or bot.open)(inputs, run)
        # The look-ups ``open`` built live as long as the run: moved out of the collector's reach
        # (gc.freeze) so the full passes the batches' allocations trigger do not walk them again
        # and again (payroll at 50k rows: 17 % of the run's CPU). Unfrozen when the run ends.
        gc.freeze()
        frozen = True
        yield state, summary
    except BaseException as exc:
        if isinstance(exc, TargetDown):  # from open or read: one incident (acting records its own)
            trip(run, exc)
        elif isinstance(exc, Exception) and not isinstance(exc, BackofficeError):  # a bot defect
            record_incident(run, "bot-defect", {"error": type(exc).__name__, "message": str(exc)[:500]})
        finish_run(run, summary, status="failed")
        if isinstance(exc, Exception):  # not an operator's Ctrl-C
            notify(store, [run_notice(run.run_id, bot.name, exc, summary.to_dict())])
        raise
    finally:
        if frozen:
            gc.unfreeze()
        if state is not None:
            bot.close(state)
    finish_run(run, summary)


def run_inputs(store: Store, run_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(select(runs.c.inputs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return dict(row.inputs)
