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

This module is plain Python; :mod:`backoffice.orchestration` wraps it in Prefect tasks.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, bindparam, insert, select, update

from backoffice import lifecycle
from backoffice.audit import AuditEntry, append, append_many, put_evidence, record
from backoffice.contract import Bot, Inputs, Outcome, State
from backoffice.errors import NotFound
from backoffice.items import EvidenceRef, Item, SourceRef
from backoffice.jsonutil import jsonable
from backoffice.lifecycle import Event
from backoffice.queue.routing import QUEUE_FIELD_NAMES, queue_fields
from backoffice.retry import RetryPolicy, classify, retry
from backoffice.rules import RuleSet, Violation, field_path
from backoffice.schema import items, runs
from backoffice.settings import Settings
from backoffice.store import Store, utcnow

__all__ = [
    "Run",
    "RunSummary",
    "batched",
    "finish_run",
    "process_batch",
    "reprocess",
    "run_bot",
    "start_run",
]

log = logging.getLogger("backoffice.runner")


@dataclass
class Run:
    """One run of a bot: ids, validated inputs, store, and helpers for evidence and audit."""

    run_id: str
    bot: str
    inputs: Inputs
    store: Store
    ruleset_version: str | None = None
    reprocess: bool = False

    @property
    def inputs_json(self) -> dict[str, Any]:
        """The inputs as stored with the run and in its audit entry."""
        return dict(self.inputs.model_dump(mode="json"))

    @property
    def settings(self) -> Settings:
        return self.store.settings

    @property
    def actor(self) -> str:
        return f"bot:{self.bot}/{self.run_id}"

    def store_evidence(
        self, data: bytes | Path, name: str, media_type: str = "application/octet-stream"
    ) -> EvidenceRef:
        return put_evidence(self.store, data, name, media_type)

    def audit(
        self,
        action: str,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        evidence: Iterable[str] = (),
        outcome: str | None = None,
    ) -> None:
        record(
            self.store,
            AuditEntry(
                actor=self.actor,
                role="bot",
                action=action,
                subject=subject,
                bot=self.bot,
                data=data or {},
                ruleset_version=self.ruleset_version,
                evidence=list(evidence),
                outcome=outcome,
            ),
        )


@dataclass
class RunSummary:
    run_id: str
    bot: str
    total: int = 0
    done: int = 0
    queued: int = 0
    system: int = 0
    skipped: int = 0
    closed: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    ruleset_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, other: RunSummary) -> None:
        self.total += other.total
        self.done += other.done
        self.queued += other.queued
        self.system += other.system
        self.skipped += other.skipped
        self.closed += other.closed
        self.codes.update(other.codes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "bot": self.bot,
            "total": self.total,
            "done": self.done,
            "queued": self.queued,
            "system_exceptions": self.system,
            "skipped": self.skipped,
            "closed": self.closed,
            "codes": dict(sorted(self.codes.items())),
            "ruleset_version": self.ruleset_version,
            **self.extra,
        }


def batched(iterable: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for it in iterable:
        batch.append(it)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- runs -------------------------------------------------------------------------------------------
def start_run(bot: Bot[Any, Any], inputs: Inputs, store: Store, *, reprocess: bool = False) -> Run:
    run = Run(
        run_id=uuid.uuid4().hex[:12],
        bot=bot.name,
        inputs=inputs,
        store=store,
        ruleset_version=bot.ruleset.version,
        reprocess=reprocess,
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
                data={"inputs": run.inputs_json},
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


def run_inputs(store: Store, run_id: str) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(select(runs.c.inputs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return dict(row.inputs)


# -- one batch --------------------------------------------------------------------------------------
def _live_runs(conn: Connection, run_ids: set[str], now: datetime) -> set[str]:
    """Which of these runs may still be working: running, and not a dead process on this host."""
    if not run_ids:
        return set()
    host = socket.gethostname()
    live: set[str] = set()
    q = select(runs.c.id, runs.c.status, runs.c.host, runs.c.pid).where(runs.c.id.in_(list(run_ids)))
    for r in conn.execute(q):
        if r.status != "running":
            continue
        if r.host == host and r.pid is not None and not _pid_alive(int(r.pid)):
            continue  # crashed on this machine: take its items over at once
        live.add(str(r.id))
    return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _register(conn: Connection, run: Run, batch: list[Item], *, personal: bool) -> list[Item]:
    """Take ownership of the batch's items; return the ones this run must process.

    Unknown keys are registered as ``new``, owned by this run with a processing lease. A key
    already ``new`` is taken over only when its owner cannot be working on it any more (the
    owning run finished, failed, died on this host, or its lease expired); otherwise it is
    left to its live owner, so overlapping runs never act on one item twice. Keys that are
    done or queued are skipped.
    """
    now = utcnow()
    lease = now + timedelta(minutes=run.settings.processing_lease_minutes)
    unique: dict[str, Item] = {}
    for it in batch:
        unique.setdefault(it.key, it)  # the same key twice in one input: the first wins
    keys = list(unique)
    rows = [
        {
            "bot": run.bot,
            "key": it.key,
            "run_id": run.run_id,
            "kind": it.kind,
            "payload": jsonable(it.payload),
            "source": it.source.model_dump(mode="json"),
            "amount": str(it.amount) if it.amount is not None else None,
            "personal": personal,
            "currency": it.currency,
            "violations": [],
            "codes": "",
            "evidence": [],
            "priority": 3,
            "approver_only": False,
            "attempts": 0,
            "escalations": 0,
            "lease_until": lease,
            "created_at": now,
            "updated_at": now,
        }
        for it in unique.values()
    ]
    lifecycle.register(conn, rows)
    existing: list[Any] = []
    for i in range(0, len(keys), 900):
        q = select(items.c.key, items.c.status, items.c.run_id, items.c.lease_until).where(
            items.c.bot == run.bot, items.c.key.in_(keys[i : i + 900]), items.c.status == "new"
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        existing.extend(conn.execute(q))
    owners = {str(r.run_id) for r in existing if r.run_id and r.run_id != run.run_id}
    live = _live_runs(conn, owners, now)
    mine: list[str] = []
    taken: list[str] = []  # owned by another run that cannot be working on it, or our lease lapsed
    for r in existing:
        expired = r.lease_until is None or r.lease_until < now
        if r.run_id == run.run_id or expired or r.run_id not in live:
            mine.append(r.key)
            if r.run_id != run.run_id or expired:
                taken.append(r.key)
    for i in range(0, len(taken), 900):  # rows this run just registered already carry its lease
        conn.execute(
            update(items)
            .where(items.c.bot == run.bot, items.c.key.in_(taken[i : i + 900]), items.c.status == "new")
            .values(run_id=run.run_id, lease_until=lease, updated_at=now)
        )
    owned = set(mine)
    return [unique[k] for k in keys if k in owned]


def _check(bot: Bot[Any, Any], it: Item, ctx: Any) -> tuple[BaseModel | None, list[Violation]]:
    if it.violations:
        return None, list(it.violations)
    try:
        model = bot.model.model_validate(it.payload)
    except ValidationError as exc:
        found = []
        for e in exc.errors():
            path = field_path(e["loc"], it.payload, missing=e["type"] == "missing")
            found.append(
                Violation(
                    code="INPUT",
                    message=f"{it.source}: {path or 'payload'}: {e['msg']}",
                    field=path,
                    actual=jsonable(e.get("input"))
                    if isinstance(e.get("input"), str | int | float | None)
                    else None,
                )
            )
        return None, found
    return model, bot.ruleset.check(model, ctx)


def _act_with_retries(
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


def process_batch(bot: Bot[Any, Any], batch: list[Item], state: State[Any]) -> RunSummary:
    """Process one batch end to end. Safe to call again with the same items (idempotent)."""
    run = state.run
    ctx = bot.rules_context(state)
    summary = RunSummary(run.run_id, run.bot)
    summary.total = len(batch)
    store = run.store
    with store.write() as conn:
        todo = _register(conn, run, batch, personal=bool(bot.amount_class and bot.amount_class.personal))
    summary.skipped = len(batch) - len(todo)

    checked: list[tuple[Item, list[Violation]]] = []
    passing: list[Item] = []
    info: dict[str, list[Violation]] = {}
    for it in todo:
        model, found = _check(bot, it, ctx)
        blocking = [v for v in found if v.blocking]
        info[it.key] = [v for v in found if not v.blocking]
        if blocking:
            checked.append((it, blocking))
        else:
            if model is not None:
                it._parsed = model
            passing.append(it)

    outcomes: dict[str, Outcome] = {}
    system: dict[str, Violation] = {}
    if passing:
        outcomes, system = _act_with_retries(bot, passing, state, run)
    _record(run, bot.ruleset, todo, checked, outcomes, system, info, summary)
    return summary


def _record(
    run: Run,
    ruleset: RuleSet,
    todo: list[Item],
    checked: list[tuple[Item, list[Violation]]],
    outcomes: dict[str, Outcome],
    system: dict[str, Violation],
    info: dict[str, list[Violation]],
    summary: RunSummary,
) -> None:
    """Write every item's final state and its audit entry in one transaction."""
    now = utcnow()
    fraction = run.settings.at_risk_fraction
    queued: list[tuple[Item, list[Violation], str, list[EvidenceRef]]] = [
        (it, vs, it.kind, list(it.evidence)) for it, vs in checked
    ]
    done: list[tuple[Item, Outcome]] = []
    for it in todo:
        if it.key in system:
            queued.append((it, [system[it.key]], "system", list(it.evidence)))
        elif it.key in outcomes:
            o = outcomes[it.key]
            if o.ok:
                done.append((it, o))
            else:
                queued.append((it, o.violations, o.kind, [*it.evidence, *o.evidence]))
    entries: list[AuditEntry] = []
    done_rows: list[dict[str, Any]] = []
    queued_rows: list[dict[str, Any]] = []
    with run.store.write() as conn:
        # Only items this run still owns: if our lease ran out and another run took an item over,
        # that run records it, not us.
        ids: dict[str, int] = {}
        keys = [it.key for it in todo]
        for i in range(0, len(keys), 900):
            ids.update(
                {
                    k: int(n)
                    for n, k in conn.execute(
                        select(items.c.id, items.c.key).where(
                            items.c.bot == run.bot,
                            items.c.key.in_(keys[i : i + 900]),
                            items.c.run_id == run.run_id,
                            items.c.status == "new",
                        )
                    )
                }
            )
        for it, o in done:
            if it.key not in ids:
                summary.skipped += 1
                continue
            evidence = [*it.evidence, *o.evidence]
            done_rows.append(
                {
                    "p_id": ids[it.key],
                    "p_payload": jsonable(it.payload),
                    "p_result": jsonable(o.result),
                    "p_evidence": [e.model_dump(mode="json") for e in evidence],
                    "p_violations": [v.model_dump(mode="json") for v in info.get(it.key, [])],
                }
            )
            data: dict[str, Any] = {
                "key": it.key,
                "source": it.source.model_dump(mode="json"),
                "result": o.result,
            }
            if info.get(it.key):
                data["recorded"] = [v.model_dump(mode="json") for v in info[it.key]]
            if run.reprocess:
                data["reprocessed"] = True
            entries.append(_entry(run, o.action, ids[it.key], data, evidence, "done"))
            summary.done += 1
        for it, vs, kind, evidence in queued:
            if it.key not in ids:
                summary.skipped += 1
                continue
            all_v = [*vs, *info.get(it.key, [])]
            fields = queue_fields(vs, ruleset, now, fraction)
            queued_rows.append(
                {
                    "p_id": ids[it.key],
                    "p_kind": kind,
                    "p_payload": jsonable(it.payload),
                    "p_violations": [v.model_dump(mode="json") for v in all_v],
                    "p_evidence": [e.model_dump(mode="json") for e in evidence],
                    **{f"p_{k}": v for k, v in fields.items()},
                }
            )
            for v in vs:
                summary.codes[v.code] += 1
            data = {
                "key": it.key,
                "kind": kind,
                "source": it.source.model_dump(mode="json"),
                "violations": [v.model_dump(mode="json") for v in all_v],
                "due_at": fields["due_at"].isoformat(),
            }
            entries.append(_entry(run, "item.queued", ids[it.key], data, evidence, "queued"))
            if kind == "system":
                summary.system += 1
            else:
                summary.queued += 1
        # One executemany per outcome instead of one UPDATE per item.
        lifecycle.apply_rows(
            conn,
            Event.FINISH,
            done_rows,
            values={
                "lease_until": None,
                "payload": bindparam("p_payload"),
                "result": bindparam("p_result"),
                "evidence": bindparam("p_evidence"),
                "violations": bindparam("p_violations"),
                "ruleset_version": run.ruleset_version,
                "closed_at": now,
                "updated_at": now,
            },
        )
        lifecycle.apply_rows(
            conn,
            Event.QUEUE,
            queued_rows,
            values={
                "kind": bindparam("p_kind"),
                "payload": bindparam("p_payload"),
                "violations": bindparam("p_violations"),
                "evidence": bindparam("p_evidence"),
                "ruleset_version": run.ruleset_version,
                "updated_at": now,
                "decision": None,
                "assignee": None,
                "lease_until": None,
                "resolved_at": None,
                **{name: bindparam(f"p_{name}") for name in QUEUE_FIELD_NAMES},
            },
        )
        append_many(conn, run.store, entries)


def _entry(
    run: Run,
    action: str,
    item_id: int | None,
    data: dict[str, Any],
    evidence: list[EvidenceRef],
    outcome: str,
) -> AuditEntry:
    return AuditEntry(
        actor=run.actor,
        role="bot",
        action=action,
        subject=f"item:{item_id}" if item_id is not None else None,
        bot=run.bot,
        data=data,
        ruleset_version=run.ruleset_version,
        evidence=[e.sha256 for e in evidence],
        outcome=outcome,
    )


# -- whole runs -------------------------------------------------------------------------------------
def run_bot(
    bot: Bot[Any, Any],
    inputs: Inputs | Mapping[str, Any],
    *,
    store: Store | None = None,
    batch_size: int | None = None,
) -> RunSummary:
    """Run a bot without Prefect (tests, scripts). Flows use backoffice.orchestration instead."""
    store = store or Store.open()
    parsed = inputs if isinstance(inputs, Inputs) else bot.parse_inputs(inputs)
    run = start_run(bot, parsed, store)
    summary = RunSummary(run.run_id, bot.name, ruleset_version=run.ruleset_version)
    state: State[Any] | None = None
    try:
        state = bot.open(parsed, run)
        for batch in batched(bot.read(state), batch_size or store.settings.batch_size):
            summary.add(process_batch(bot, batch, state))
        summary.extra.update(bot.finish(state, summary) or {})
    except BaseException:
        finish_run(run, summary, status="failed")
        raise
    finally:
        if state is not None:
            bot.close(state)
    finish_run(run, summary)
    return summary


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
        run = start_run(bot, inputs, store, reprocess=True)
        part = RunSummary(run.run_id, bot.name, ruleset_version=run.ruleset_version)
        state: State[Any] | None = None
        try:
            state = bot.open(inputs, run)
            part.add(_reprocess_group(bot, group, state))
        except BaseException:
            finish_run(run, part, status="failed")
            raise
        finally:
            if state is not None:
                bot.close(state)
        finish_run(run, part)
        summary.run_id = run.run_id
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
                _entry(run, "item.closed", r.id, {"decision": "reject", "reason": r.reason}, [], "rejected")
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
        outcomes, system = _act_with_retries(bot, todo, state, run)
        part = RunSummary(run.run_id, bot.name)
        _record(run, bot.ruleset, todo, [], outcomes, system, {}, part)
        summary.add(part)
    summary.total = len(rows)
    return summary
