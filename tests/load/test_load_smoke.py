"""A short run of bench/load_inbox.py: simulated associates and team leads decide items in the
inbox under locust while a toy-bot run writes; every confirmed decision is audited exactly once
and the chain verifies. Latency is the bench's to report, not a test's to assert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


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
