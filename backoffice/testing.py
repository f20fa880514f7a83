"""Test helpers for bot authors (also a pytest plugin: ``pip install backoffice`` gives the fixtures).

Fixtures:
- ``bo_store``: a fresh store (SQLite file) under ``tmp_path`` with ``BACKOFFICE_HOME`` pointing there.
- ``bo_users``: one user per role (``associate``, ``team_lead``, ``approver``, ``qa``, ``compliance``,
  ``admin``, ``expert``, plus ``associate2``) in ``bo_store``.

Helpers:
- :class:`FakeLedger`: an idempotent target system with failure switches (``fail_rate``,
  ``fail_times``, ``slow_ms``) for testing a bot's ``act`` without the real system.
- :func:`queue_items`: put items in the exception queue the way production does, through the
  runner (:func:`backoffice.runner.process_batch`), so tests exercise the real path.
- :func:`queued`, :func:`done`: items of a bot by status.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from backoffice.contract import Bot, Inputs, State
from backoffice.data_classes import DataClass
from backoffice.errors import TransientError
from backoffice.items import Item, Kind, SourceRef
from backoffice.lifecycle import QUEUED
from backoffice.queue import Queue, QueueItem
from backoffice.rules import RuleSet, Violation
from backoffice.runner import RunSummary, finish_run, process_batch, start_run
from backoffice.schema import items as items_table
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.users import add_user

__all__ = ["FakeLedger", "bo_store", "bo_users", "done", "open_store", "queue_items", "queued"]

TEST_USERS = {
    "associate": "associate",
    "associate2": "associate",
    "team_lead": "team_lead",
    "approver": "approver",
    "qa": "qa_analyst",
    "compliance": "compliance",
    "admin": "admin",
    "expert": "rpa_expert",
}


def open_store(home: Path, monkeypatch: pytest.MonkeyPatch | None = None, **env: str) -> Store:
    """Point BACKOFFICE_HOME at ``home`` and open a fresh store there."""
    values = {"BACKOFFICE_HOME": str(home), **{f"BACKOFFICE_{k.upper()}": v for k, v in env.items()}}
    for k, v in values.items():
        if monkeypatch is not None:
            monkeypatch.setenv(k, v)
        else:
            import os

            os.environ[k] = v
    if monkeypatch is not None:
        monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    reset_settings()
    Store.close_all()
    return Store.open()


@pytest.fixture
def bo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    store = open_store(tmp_path / "home", monkeypatch)
    yield store
    Store.close_all()
    reset_settings()


@pytest.fixture
def bo_users(bo_store: Store) -> dict[str, str]:
    for name, role in TEST_USERS.items():
        add_user(bo_store, name, role, password=f"{name}-password")
    return dict(TEST_USERS)


class _AnyPayload(BaseModel):
    model_config = ConfigDict(extra="allow")


class _QueueingBot(Bot[Inputs, State[Inputs]]):
    """The bot behind :func:`queue_items`: no inputs, reads nothing; the items it is handed carry
    their violations, so the runner queues them as it queues unreadable input."""

    Inputs = Inputs
    model = _AnyPayload


def _queueing_bot(name: str, ruleset: RuleSet | None, amount_class: DataClass | None) -> Bot[Any, Any]:
    attrs = {"name": name, "ruleset": ruleset or RuleSet(name, []), "amount_class": amount_class}
    return type("QueueingBot", (_QueueingBot,), attrs)()


def queue_items(
    store: Store,
    items: int | Iterable[Item] = 1,
    *,
    codes: Sequence[str] = ("TEST-EXCEPTION",),
    amount: str | Decimal | None = "100.00",
    bot: str = "test",
    kind: Kind = "business",
    start: int = 0,
    ruleset: RuleSet | None = None,
    amount_class: DataClass | None = None,
    batch_size: int = 1000,
) -> list[int]:
    """Queue items through the production path and return their ids, in input order.

    ``items``: the items to queue (each with at least one blocking violation), or a number of
    generated ones for the bot ``bot`` (keys ``k{start}``, ``k{start+1}``..., of kind ``kind``,
    one violation per code in ``codes`` on ``amount``). For each bot named by the items, a bot of
    that name with ``ruleset`` (owner, SLA, approver-only of each code) and ``amount_class`` runs
    them through :func:`backoffice.runner.process_batch` in one run, ``batch_size`` at a time
    (items are streamed: 100,000 are fine): registered, recorded and audited exactly as a real
    run queues its exceptions (as unreadable input: the rules are not run). Keys already known
    are left alone, as a rerun would, and return no id.
    """
    if isinstance(items, int):
        money = Decimal(amount) if amount is not None else None
        batch: Iterable[Item] = (
            Item(
                bot=bot,
                key=f"k{i}",
                payload={"ref": f"R{i}", "amount": None if money is None else str(money)},
                source=SourceRef(file="test.csv", locator=f"row {i + 2}"),
                amount=money,
                currency="EUR",
                kind=kind,
                violations=[
                    Violation(code=c, message=f"{c} (test)", field="amount", actual=str(money)) for c in codes
                ],
            )
            for i in range(start, start + items)
        )
    else:
        batch = items
    runs: dict[str, tuple[Bot[Any, Any], State[Any], RunSummary]] = {}
    pending: dict[str, list[Item]] = {}
    order: list[tuple[str, str]] = []

    def flush(name: str) -> None:
        qbot, state, summary = runs[name]
        summary.add(process_batch(qbot, pending.pop(name), state))

    try:
        for it in batch:
            if not any(v.blocking for v in it.violations):
                raise ValueError(f"item {it.key!r} has no blocking violation: it would not be queued")
            if it.bot not in runs:
                qbot = _queueing_bot(it.bot, ruleset, amount_class)
                inputs = qbot.parse_inputs({})
                run = start_run(qbot, inputs, store)
                runs[it.bot] = (qbot, qbot.open(inputs, run), RunSummary(run.run_id, it.bot))
            order.append((it.bot, it.key))
            pending.setdefault(it.bot, []).append(it)
            if len(pending[it.bot]) >= batch_size:
                flush(it.bot)
        for name in list(pending):
            flush(name)
    except BaseException:
        for _, state, summary in runs.values():
            finish_run(state.run, summary, status="failed")
        raise
    for _, state, summary in runs.values():
        finish_run(state.run, summary)
    queued_ids: dict[tuple[str, str], int] = {}
    t = items_table.c
    with store.read() as conn:
        for name, (_, state, _) in runs.items():
            q = select(t.id, t.key).where(t.bot == name, t.run_id == state.run.run_id, t.status.in_(QUEUED))
            queued_ids.update({(name, str(k)): int(i) for i, k in conn.execute(q)})
    return [queued_ids.pop(k) for k in order if k in queued_ids]


def queued(store: Store, bot: str | None = None) -> list[QueueItem]:
    return Queue(store).list(status="queued", bot=bot, limit=None, sort="id")


def done(store: Store, bot: str | None = None) -> list[QueueItem]:
    return Queue(store).list(status="done", bot=bot, limit=None, sort="id")


class FakeLedger:
    """A JSON-lines ledger that refuses duplicates by key, with failure switches.

    ``fail_rate``: share of ``post`` calls that raise TransientError (seeded, repeatable);
    ``fail_times``: the first N calls fail; ``slow_ms``: delay per call.
    """

    def __init__(
        self, path: Path, *, fail_rate: float = 0.0, fail_times: int = 0, slow_ms: int = 0, seed: int = 7
    ) -> None:
        self.path = path
        self.fail_rate = fail_rate
        self.fail_times = fail_times
        self.slow_ms = slow_ms
        self.calls = 0
        self._rng = random.Random(seed)

    def keys(self) -> list[str]:
        if not self.path.exists():
            return []
        return [json.loads(line)["key"] for line in self.path.read_text().splitlines() if line.strip()]

    def post(self, key: str, record: dict[str, Any]) -> bool:
        """Append ``record`` unless ``key`` is there already; returns True if written."""
        self.calls += 1
        if self.slow_ms:
            time.sleep(self.slow_ms / 1000)
        if self.calls <= self.fail_times or self._rng.random() < self.fail_rate:
            raise TransientError(f"ledger unavailable (simulated, call {self.calls})")
        if key in set(self.keys()):
            return False
        with self.path.open("a") as fh:
            fh.write(json.dumps({"key": key, **record}) + "\n")
            fh.flush()
        return True
