"""Reprocessing: items a human resolved go back through their bot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from backoffice import lifecycle
from backoffice.audit import append_many
from backoffice.change_control.records import in_force
from backoffice.contract import Bot, State
from backoffice.items import EvidenceRef, Item, SourceRef
from backoffice.lifecycle import Event
from backoffice.runner.acting import act_with_retries
from backoffice.runner.batches import process_batch
from backoffice.runner.breaker import stop_if_down
from backoffice.runner.recording import audit_entry, record_outcomes
from backoffice.runner.runs import RunSummary, bot_run, run_inputs
from backoffice.schema import items
from backoffice.store import Store, utcnow

__all__ = ["reprocess"]


def _item_from_row(row: Any) -> Item:
    return Item(
        bot=row.bot,
        key=row.key,
        payload=dict(row.payload),
        source=SourceRef.model_validate(row.source),
        amount=row.amount,
        currency=row.currency,
        evidence=[EvidenceRef.model_validate(e) for e in row.evidence or []],
        kind=row.kind,
    )


def reprocess(
    bot: Bot[Any, Any], *, store: Store | None = None, item_ids: Iterable[int] | None = None
) -> RunSummary:
    """Send resolved items back through their bot.

    reject -> ``closed``; approve -> ``act`` (business rules were overridden by two people);
    correct (and approved system exceptions) -> validated and checked by ALL rules again, then
    ``act`` or back to the queue.
    """
    store = store or Store.open()
    bot, _ = in_force(store, bot)  # with its approved params (change control)
    q = select(items).where(items.c.bot == bot.name, items.c.status == "resolved").order_by(items.c.id)
    wanted = set(item_ids) if item_ids is not None else None
    with store.read() as conn:
        rows = [r for r in conn.execute(q) if wanted is None or r.id in wanted]
    summary = RunSummary("-", bot.name, ruleset_version=bot.ruleset.version)
    if not rows:
        return summary
    by_run: dict[str | None, list[Any]] = {}
    for r in rows:
        by_run.setdefault(r.run_id, []).append(r)
    for run_id, group in by_run.items():
        inputs = bot.parse_inputs(run_inputs(store, run_id) if run_id else {})
        with bot_run(bot, inputs, store, reprocess=True) as (state, part):
            part.add(_reprocess_group(bot, group, state))
        summary.run_id = part.run_id
        summary.add(part)
    return summary


def _reprocess_group(bot: Bot[Any, Any], rows: list[Any], state: State[Any]) -> RunSummary:
    """Each row is taken with a conditional UPDATE (lifecycle: still ``resolved``?), so two
    reprocess runs at once never close, act on or re-check one item twice: the loser of a race
    skips it."""
    run = state.run
    summary = RunSummary(run.run_id, bot.name)
    summary.total = len(rows)
    now = utcnow()
    rejected = [r for r in rows if r.decision == "reject"]
    if rejected:
        with run.store.write() as conn:
            closed = lifecycle.apply_many(
                conn, Event.CLOSE, [int(r.id) for r in rejected], values={"closed_at": now, "updated_at": now}
            )
            entries = [
                audit_entry(
                    run, "item.closed", r.id, {"decision": "reject", "reason": r.reason}, [], "rejected"
                )
                for r in rejected
                if int(r.id) in closed
            ]
            summary.closed += len(entries)
            summary.skipped += len(rejected) - len(entries)
            append_many(conn, run.store, entries)
    # Back to "new", owned by this run, so registration and recording treat them as this run's work.
    lease = now + timedelta(minutes=run.settings.processing_lease_minutes)
    others = [int(r.id) for r in rows if r.decision != "reject"]
    with run.store.write() as conn:
        taken_ids = lifecycle.apply_many(
            conn,
            Event.REPROCESS,
            others,
            values={"run_id": run.run_id, "lease_until": lease, "updated_at": now},
        )
    summary.skipped += len(others) - len(taken_ids)
    mine = [r for r in rows if int(r.id) in taken_ids]
    approved = [r for r in mine if r.decision == "approve" and r.kind == "business"]
    rechecked = [r for r in mine if r not in approved]
    if rechecked:
        summary.add(process_batch(bot, [_item_from_row(r) for r in rechecked], state))
    if approved:
        todo = [_item_from_row(r) for r in approved]
        for it in todo:
            try:
                it._parsed = bot.model.model_validate(it.payload)
            except ValidationError:
                it._parsed = None
        outcomes, system = act_with_retries(bot, todo, state, run)
        part = RunSummary(run.run_id, bot.name)
        record_outcomes(run, bot.ruleset, todo, [], outcomes, system, {}, part)
        summary.add(part)
        stop_if_down(run)  # the target is down: the items not acted on stay ``new``
    summary.total = len(rows)
    return summary
