from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backoffice import audit
from backoffice.queue import Queue
from backoffice.runner import reprocess, run_bot
from backoffice.testing import FakeLedger, done, queued
from tests.core.toybot import bot, write_orders

REPO = Path(__file__).resolve().parents[2]


def _inputs(tmp_path, n=50, **kw):
    orders = write_orders(tmp_path / "orders.csv", n, bad_rows=kw.pop("bad", ()), big=kw.pop("big", ()))
    return {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl"), **kw}


def test_straight_through_business_and_input_exceptions(bo_store, tmp_path):
    inputs = _inputs(tmp_path, 40, bad=[3], big=[5, 6], blocked=["C2"])
    s = run_bot(bot, inputs, store=bo_store, batch_size=7)
    assert s.total == 40
    blocked = sum(1 for i in range(1, 41) if i % 7 == 2 and i not in (3, 5, 6))
    assert s.queued == 3 + blocked
    assert s.done == 40 - s.queued
    assert s.codes["INPUT"] == 1 and s.codes["TOY-LIMIT"] == 2 and s.codes["TOY-BLOCKED"] == blocked
    ledger = FakeLedger(Path(inputs["ledger"]))
    assert len(ledger.keys()) == s.done == len(set(ledger.keys()))
    bad = next(q for q in queued(bo_store) if "INPUT" in q.to_dict()["codes"])
    assert "row 4" in bad.violations[0].message and bad.violations[0].field == "amount"
    assert audit.verify(bo_store).ok


def test_rerun_skips_everything_already_finished(bo_store, tmp_path):
    inputs = _inputs(tmp_path, 20, big=[2])
    run_bot(bot, inputs, store=bo_store)
    again = run_bot(bot, inputs, store=bo_store)
    assert again.skipped == 20 and again.done == 0 and again.queued == 0
    assert len(FakeLedger(Path(inputs["ledger"])).keys()) == 19


def test_transient_failures_are_retried_then_queued_as_system(bo_store, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_RETRY_BACKOFF_SECONDS", "0")
    from backoffice.settings import reset_settings

    reset_settings()
    bo_store.settings = bo_store.settings.model_copy(update={"retry_backoff_seconds": 0, "retries": 2})
    ok = run_bot(bot, _inputs(tmp_path, 5, fail_times=2), store=bo_store)
    assert ok.done == 5  # two failures, then the retry succeeds
    other = tmp_path / "b"
    other.mkdir()
    failing = _inputs(other, 5, fail_times=99, big=[1])  # other content: other keys
    s = run_bot(bot, failing, store=bo_store)
    sys_items = [q for q in queued(bo_store) if q.row["kind"] == "system"]
    assert s.system == 4 and len(sys_items) == 4 and s.queued == 1
    assert sys_items[0].violations[0].code == "SYSTEM-TRANSIENT"


def test_crash_mid_batch_then_rerun_loses_nothing_and_posts_nothing_twice(bo_store, tmp_path):
    inputs = _inputs(tmp_path, 30, big=[4])
    script = (
        "import json,sys; from backoffice.runner import run_bot; from tests.core.toybot import bot;"
        "run_bot(bot, json.loads(sys.argv[1]), batch_size=10)"
    )
    env = {
        **os.environ,
        "BACKOFFICE_HOME": str(bo_store.home),
        "TOY_CRASH_AFTER": "6",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(inputs)], env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 17  # killed mid-batch, right after posting the 6th order of batch 1
    ledger = FakeLedger(Path(inputs["ledger"]))
    assert len(ledger.keys()) == 6
    assert done(bo_store) == []  # nothing was recorded as done: the batch did not commit
    s = run_bot(bot, inputs, store=bo_store, batch_size=10)
    keys = ledger.keys()
    assert len(keys) == len(set(keys)) == 29  # every straight-through order posted exactly once
    assert len(done(bo_store)) == 29 and len(queued(bo_store)) == 1
    assert s.total == 30
    assert audit.verify(bo_store).ok


def test_reprocess_resolved_items(bo_store, bo_users, tmp_path):
    inputs = _inputs(tmp_path, 10, big=[1, 2, 3], bad=[4])
    run_bot(bot, inputs, store=bo_store)
    q = Queue(bo_store)
    by_row = {it.row["source"]["locator"]: it.row["id"] for it in queued(bo_store)}
    a, b, c, d = by_row["row 2"], by_row["row 3"], by_row["row 4"], by_row["row 5"]
    for i in (a, b, c, d):
        q.claim(i, "associate")
    q.resolve(a, "associate", "correct", "customer sent the right amount", changes={"amount": "50.00"})
    q.resolve(b, "associate", "correct", "still too high", changes={"amount": "2000.00"})
    q.resolve(c, "associate", "approve", "agreed with the customer")
    q.resolve(c, "approver", "approve", "ok")
    q.resolve(d, "associate", "reject", "order cancelled")
    s = reprocess(bot, store=bo_store)
    assert s.done == 2 and s.queued == 1 and s.closed == 1
    assert q.get(a).status == "done" and q.get(c).status == "done" and q.get(d).status == "closed"
    back = q.get(b)
    assert back.status == "open" and back.violations[0].actual == "2000.00"
    posted = {
        json.loads(line)["order_id"]: json.loads(line)
        for line in Path(inputs["ledger"]).read_text().splitlines()
    }
    assert posted["O00001"]["amount"] == "50.00"
    assert audit.verify(bo_store).ok


def test_flow_runs_batches_as_tasks(bo_store, tmp_path, prefect_harness):
    from backoffice.orchestration.flows import bot_flow

    toy_flow = bot_flow(bot)  # parameters: the Inputs fields, plus batch_size
    result = toy_flow(**_inputs(tmp_path, 60, big=[7]), batch_size=25)
    assert result["total"] == 60 and result["done"] == 59 and result["queued"] == 1


def test_each_run_has_its_own_state_and_ledger(bo_store, tmp_path, monkeypatch):
    from backoffice.runner import Run

    opened: list = []
    real_open = type(bot).open

    def spy(self, inputs, run: Run):
        state = real_open(self, inputs, run)
        opened.append(state)
        return state

    monkeypatch.setattr(type(bot), "open", spy)
    bo_store.settings = bo_store.settings.model_copy(update={"retry_backoff_seconds": 0, "retries": 2})
    inputs = _inputs(tmp_path, 5, fail_times=2)
    assert run_bot(bot, inputs, store=bo_store).done == 5  # the run's ledger counts its failures
    other = tmp_path / "b"
    other.mkdir()
    assert run_bot(bot, _inputs(other, 6, fail_times=2), store=bo_store).done == 6  # counted afresh
    first, second = opened
    assert first is not second and first.ledger is not second.ledger
    assert (first.ledger.calls, second.ledger.calls) == (7, 8)  # 2 failed calls each, then the posts
    assert first.run.run_id != second.run.run_id and first.inputs.fail_times == 2


def test_overlapping_runs_over_the_same_input_act_on_each_item_once(bo_store, tmp_path):
    from collections import Counter

    inputs = _inputs(tmp_path, 200, big=[3])
    script = (
        "import json,sys; from backoffice.runner import run_bot; from tests.core.toybot import bot;"
        "print(json.dumps(run_bot(bot, json.loads(sys.argv[1]), batch_size=20).to_dict()))"
    )
    env = {**os.environ, "BACKOFFICE_HOME": str(bo_store.home), "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(inputs)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    summaries = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    posted = Counter(e["subject"] for e in audit.entries(bo_store, action="order.posted"))
    assert len(posted) == 199 and max(posted.values()) == 1
    assert sum(s["done"] for s in summaries) == 199 and sum(s["queued"] for s in summaries) == 1
    assert len(done(bo_store)) == 199 and len(queued(bo_store)) == 1
    assert audit.verify(bo_store).ok
