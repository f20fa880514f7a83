"""A short run of bench/load_inbox.py: simulated associates and team leads decide items in the
inbox under locust while a toy-bot run writes; every confirmed decision is audited exactly once
and the chain verifies (slow); and the comparison itself, shown to find a lost and a doubled
decision. Latency is the bench's to report, not a test's to assert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.audit import AuditEntry, record
from backoffice.queue import Queue
from backoffice.testing import queue_items
from bench.load_inbox import check_decisions

ROOT = Path(__file__).resolve().parents[2]


def _load(backend: str) -> dict:
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "load_inbox.py"),
        "--backend",
        backend,
        "--users",
        "12",
        "--seconds",
        "20",
        "--seed",
        "300",
        "--bot-batch",
        "50",
        "--json",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=ROOT, check=False)
    assert res.stdout.strip(), res.stderr[-3000:]
    return json.loads(res.stdout)["results"][0]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_no_decision_lost_or_doubled_under_load(backend):
    if backend == "postgres":
        from tests.scale.pgcluster import PgUnavailable, find_pg_bin

        try:
            find_pg_bin()
        except PgUnavailable as exc:
            pytest.skip(str(exc))
    r = _load(backend)
    assert r["errors"] == 0, r["failures"]
    assert r["maker_decisions"] > 0 and r["checks"] > 0, r
    assert r["lost"] == 0 and r["doubled"] == 0, r
    assert r["item_columns_mismatched"] == 0, r
    assert r["audited"] == r["decisions"] + r["unconfirmed"]
    assert r["bot_error"] is None and r["bot_runs"] >= 1 and r["bot_items"] > 0, r
    assert r["audit_verify_exit"] == 0, r["audit_verify"]
    assert r["ok"] is True


def test_the_check_finds_a_lost_and_a_doubled_decision(bo_store, bo_users):
    """The comparison the load test relies on: client confirmations against the audit log."""
    first, second = queue_items(bo_store, 2, amount="500.00")
    q = Queue(bo_store)
    q.claim(first, "associate")
    q.resolve(first, "associate", "approve", "checked")
    q.resolve(first, "team_lead", "approve", "four eyes")
    seen = [
        {"item": first, "user": "associate", "step": "maker", "done": "approval_requested"},
        {"item": first, "user": "team_lead", "step": "checker", "done": "approved"},
    ]
    users = {"associate", "team_lead"}
    clean = check_decisions(bo_store, seen, users)
    assert (clean["decisions"], clean["audited"], clean["lost"], clean["doubled"]) == (2, 2, 0, 0)
    assert clean["item_columns_mismatched"] == 0 and clean["unconfirmed"] == 0

    # a confirmation the server never recorded is lost (and its item's maker column disagrees)
    lost = check_decisions(
        bo_store, [*seen, {"item": second, "user": "associate", "step": "maker", "done": "corrected"}], users
    )
    assert lost["lost"] == 1 and lost["item_columns_mismatched"] == 1

    # a second check of the same item in the log is a doubled decision, and unconfirmed
    record(bo_store, AuditEntry(actor="team_lead", action="item.approved", subject=f"item:{first}"))
    doubled = check_decisions(bo_store, seen, users)
    assert doubled["doubled"] == 1 and doubled["unconfirmed"] == 1 and doubled["lost"] == 0
