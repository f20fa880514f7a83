"""The circuit breaker for targets (backoffice.runner.breaker): a target that is down stops the run
with one incident, no per-item exception, and the items not acted on left ``new`` for a rerun."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import select

from backoffice.contract import Bot, Inputs, Outcome, State
from backoffice.errors import TargetDown, TransientError
from backoffice.items import Item, SourceRef, make_key
from backoffice.rules import RuleSet, Violation
from backoffice.runner import Run, run_bot
from backoffice.schema import audit, items, runs
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.testing import open_store


class Row(BaseModel):
    n: int


class DownInputs(Inputs):
    rows: int = Field(description="How many items.")
    fail_from: int = Field(
        default=0, description="Items from this number on fail as system failures (0: none)."
    )
    heal_at: int = Field(default=0, description="From this item on the target works again (0: never).")
    login_down: bool = Field(default=False, description="The target refuses the login in open.")
    act_down: bool = Field(default=False, description="act raises TargetDown before the first item.")
    whole_call: bool = Field(default=False, description="act fails as a whole with a transient error.")


class DownState(State[DownInputs]):
    def __init__(self, inputs: DownInputs, run: Run) -> None:
        super().__init__(inputs, run)
        self.tried: list[int] = []


class DownBot(Bot[DownInputs, DownState]):
    """Items 1..rows; the target fails them from ``fail_from`` on (a yielding act)."""

    name = "down"
    Inputs = DownInputs
    model = Row
    ruleset = RuleSet("down", [])

    def open(self, inputs: DownInputs, run: Run) -> DownState:
        if inputs.login_down:
            raise TargetDown("login at http://target refused: HTTP 500", target="http://target")
        return DownState(inputs, run)

    def read(self, state: DownState) -> Iterable[Item]:
        for n in range(1, state.inputs.rows + 1):
            src = SourceRef(file="rows", locator=f"row {n}")
            yield Item(bot=self.name, key=make_key("rows", str(n)), payload={"n": n}, source=src)

    def act(self, items: list[Item], state: DownState) -> Iterator[Outcome]:
        i = state.inputs
        if i.act_down:
            raise TargetDown("the target's login page answers HTTP 500")
        if i.whole_call:
            raise TransientError("connection refused")
        for it in items:
            n = it.payload["n"]
            state.tried.append(n)
            failing = i.fail_from and n >= i.fail_from and not (i.heal_at and n >= i.heal_at)
            if failing:
                v = Violation(code="X-SYSTEM", message=f"element #save not found (row {n})")
                yield Outcome(key=it.key, ok=False, kind="system", violations=[v])
            else:
                yield Outcome(key=it.key, ok=True)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    s = open_store(
        tmp_path / "home", monkeypatch, retries="2", retry_backoff_seconds="0", breaker_failures="3"
    )
    yield s
    Store.close_all()
    reset_settings()


def statuses(store: Store) -> Counter[str]:
    with store.read() as conn:
        return Counter(r.status for r in conn.execute(select(items.c.status).where(items.c.bot == "down")))


def incidents(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        rows = conn.execute(select(audit.c.data).where(audit.c.action == "run.incident"))
        return [json.loads(r.data) if isinstance(r.data, str) else dict(r.data) for r in rows]


def run_statuses(store: Store) -> list[str]:
    with store.read() as conn:
        return [r.status for r in conn.execute(select(runs.c.status).order_by(runs.c.started_at))]


def test_consecutive_system_failures_stop_the_batch_and_leave_the_rest_new(store: Store) -> None:
    bot = DownBot()
    with pytest.raises(TargetDown, match="3 system failures in a row"):
        run_bot(bot, {"rows": 30, "fail_from": 5}, store=store, batch_size=10)
    # items 1-4 done; 5, 6, 7 failed in a row: the breaker stops; nothing queued, the rest stays new
    assert statuses(store) == {"done": 4, "new": 6}  # batch 2 and 3 never read
    [incident] = incidents(store)
    assert incident["kind"] == "target-down" and incident["consecutive_failures"] == 3
    assert incident["left_new"] == 6 and incident["recorded"] == 4
    assert "element #save not found (row 7)" in json.dumps(incident["last_failure"])
    assert run_statuses(store) == ["failed"]
    # the target is back: the rerun takes over the items left new and does each once
    summary = run_bot(bot, {"rows": 30}, store=store, batch_size=10)
    assert (summary.done, summary.skipped, summary.queued, summary.system) == (26, 4, 0, 0)
    assert statuses(store) == {"done": 30} and len(incidents(store)) == 1


def test_isolated_system_failures_are_queued_and_the_streak_resets(store: Store) -> None:
    # items 5 and 6 fail, 7 works again: two in a row is below the limit of 3
    summary = run_bot(DownBot(), {"rows": 10, "fail_from": 5, "heal_at": 7}, store=store)
    assert (summary.done, summary.system) == (8, 2) and incidents(store) == []
    assert run_statuses(store) == ["finished"]


def test_target_down_at_login_in_open_records_one_incident_and_reads_nothing(store: Store) -> None:
    with pytest.raises(TargetDown, match="HTTP 500"):
        run_bot(DownBot(), {"rows": 30, "login_down": True}, store=store)
    assert statuses(store) == {} and run_statuses(store) == ["failed"]
    [incident] = incidents(store)
    assert incident["kind"] == "target-down" and incident["target"] == "http://target"


def test_target_down_raised_by_act_leaves_the_whole_batch_new(store: Store) -> None:
    with pytest.raises(TargetDown):
        run_bot(DownBot(), {"rows": 30, "act_down": True}, store=store, batch_size=500)
    assert statuses(store) == {"new": 30} and len(incidents(store)) == 1
    assert incidents(store)[0]["left_new"] == 30


def test_a_whole_call_failing_counts_each_item(store: Store) -> None:
    with pytest.raises(TargetDown, match="TransientError: connection refused"):
        run_bot(DownBot(), {"rows": 5, "whole_call": True}, store=store)
    assert statuses(store) == {"new": 5} and len(incidents(store)) == 1
    # a smaller call than the limit is queued as before
    assert run_bot(DownBot(), {"rows": 2, "whole_call": True}, store=store).system == 2
