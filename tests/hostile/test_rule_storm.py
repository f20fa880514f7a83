"""Rule storms: a run whose rules block too many items stops, records one incident, is marked
failed, and leaves the rest of its items for a rerun (which processes each exactly once)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from backoffice.runner import run_bot
from backoffice.runner.storm import RuleStorm
from backoffice.schema import audit, items, runs
from backoffice.settings import reset_settings
from backoffice.store import Store
from tests.core.toybot import ToyBot, write_orders

N = 3000


def reopen(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> Store:
    """The store again, with settings read from the environment changed by ``env``."""
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(f"BACKOFFICE_{k.upper()}", raising=False)
        else:
            monkeypatch.setenv(f"BACKOFFICE_{k.upper()}", v)
    reset_settings()
    Store.close_all()
    return Store.open()


def statuses(store: Store) -> Counter[str]:
    with store.read() as conn:
        return Counter(r.status for r in conn.execute(select(items.c.status).where(items.c.bot == "toy")))


def incidents(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        rows = conn.execute(select(audit.c.data).where(audit.c.action == "run.incident"))
        return [json.loads(r.data) if isinstance(r.data, str) else dict(r.data) for r in rows]


def test_wrong_file_stops_at_the_rate_bound(
    bo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = reopen(monkeypatch, storm_max_rate="0.5", storm_min_items="1000")
    orders = write_orders(tmp_path / "orders.csv", N, big=range(1, N + 1))  # every order over the limit
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    with pytest.raises(RuleStorm, match="rule storm"):
        run_bot(ToyBot(), inputs, store=store, batch_size=500)
    # batch 1 (500 checked) is below the sample size and queued; batch 2 crosses the rate: left new
    assert statuses(store) == {"open": 500, "new": 500}
    [incident] = incidents(store)
    assert incident["checked"] == 1000 and incident["exceptions"] == 1000 and incident["kind"] == "rule-storm"
    with store.read() as conn:
        assert [r.status for r in conn.execute(select(runs.c.status))] == ["failed"]

    # the file was right after all (or the bound raised): the rerun takes over the rest, once each
    store = reopen(monkeypatch, storm_max_rate="1")
    summary = run_bot(ToyBot(), inputs, store=store, batch_size=500)
    assert summary.skipped == 500 and summary.queued == N - 500
    assert statuses(store) == {"open": N}
    assert len(incidents(store)) == 1


def test_count_bound_and_a_normal_run(
    bo_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = reopen(monkeypatch, storm_max_exceptions="250")
    orders = write_orders(tmp_path / "orders.csv", 2000, big=range(1, 2000, 3))  # a third over the limit
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    with pytest.raises(RuleStorm, match=r"exceptions \(limit 250\)"):
        run_bot(ToyBot(), inputs, store=store, batch_size=500)
    assert statuses(store)["new"] == 500 and len(incidents(store)) == 1
    store = reopen(monkeypatch, storm_max_exceptions=None)
    summary = run_bot(ToyBot(), inputs, store=store, batch_size=500)
    assert summary.queued + summary.done + summary.skipped == 2000
    assert statuses(store)["new"] == 0 and len(incidents(store)) == 1
