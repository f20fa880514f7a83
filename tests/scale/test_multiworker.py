"""Scale-out for real: PostgreSQL, ``prefect server start`` on it, two process workers, deployments.

The invoice-matching run over the fixtures is split into three flow runs that the two workers
share; every item must end done or queued exactly once, the audit chain must verify, no
invoice may be posted twice, and the decisions must equal a plain single run's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.runner import run_bot
from backoffice.schema import runs
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.testing import open_store
from bots.invoice_matching.bot import bot, invoice_files
from tests.scale.helpers import FIXTURES, REPO, check_exactly_once, fixture_inputs, outcomes
from tests.scale.pgcluster import PgCluster, PgUnavailable
from tests.scale.prefect_server import PrefectServer, prefect_exe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

POOL = "bo-scale"
PARTS = 3


@pytest.fixture(scope="module")
def stack() -> Iterator[dict]:
    """PostgreSQL with two databases (backoffice, prefect) and a Prefect server on the second."""
    try:
        pg = PgCluster.start()
    except PgUnavailable as exc:
        pytest.skip(f"no PostgreSQL for the scale-out test: {exc}")
    root = Path(tempfile.mkdtemp(prefix="bo-scale-"))
    server = None
    try:
        bo_url = pg.create_database("backoffice")
        server = PrefectServer.start(root / "prefect", pg.create_database("prefect", driver="asyncpg"))
        yield {"pg": pg, "server": server, "bo_url": bo_url, "root": root}
    finally:
        if server is not None:
            server.stop()
        Store.close_all()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _cli(server: PrefectServer, env: dict[str, str], *args: str, timeout: float = 240) -> str:
    res = subprocess.run(
        list(args), env=server.client_env(**env), capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    assert res.returncode == 0, (
        f"{args[:3]} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    )
    return res.stdout


def test_split_run_on_two_workers_posts_each_invoice_once(stack, tmp_path, monkeypatch):
    server: PrefectServer = stack["server"]
    home = stack["root"] / "backoffice-home"  # shared by the workers (one machine here; NFS across machines)
    ledger = stack["root"] / "ledger.xlsx"
    bo_env = {"BACKOFFICE_DATABASE_URL": stack["bo_url"], "BACKOFFICE_HOME": str(home)}

    backoffice = str(Path(sys.executable).with_name("backoffice"))
    deployed = json.loads(
        _cli(server, bo_env, backoffice, "deploy", "--pool", POOL, "--no-schedules", "--json")
    )
    names = {d["name"] for d in deployed}
    assert {
        "invoice-matching/backoffice",
        "invoice-matching-part/backoffice",
        "invoice-matching-split/backoffice",
        "reprocess-resolved/backoffice",
        "escalate-overdue/backoffice",
    } <= names

    # Two slots per worker, four flow runs (the parent and three parts): both workers must work.
    workers = [server.worker(POOL, f"w{i}", env=bo_env, limit=2) for i in (1, 2)]
    params = {**fixture_inputs(ledger), "parts": PARTS, "poll_seconds": 1}
    args = [prefect_exe(), "deployment", "run", "invoice-matching-split/backoffice"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    out = _cli(server, {}, *args, "--watch", "--watch-timeout", "300", timeout=330)
    assert "Completed" in out

    # who ran what: a worker logs each flow run it started (a run both workers grab starts once)
    started = {
        w.name: re.findall(r"Flow run '([^']+)' submitted to infrastructure", w.tail(10**6)) for w in workers
    }
    assert all(started.values()), started
    ran = [name for names_ in started.values() for name in names_]
    assert len(ran) == len(set(ran)) == PARTS + 1, started
    assert {f"part-{k}-of-{PARTS}" for k in range(1, PARTS + 1)} <= set(ran)

    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", stack["bo_url"])
    monkeypatch.setenv("BACKOFFICE_HOME", str(home))
    reset_settings()
    Store.close_all()
    store = Store.open()
    files = [p.name for p in invoice_files(FIXTURES / "pdf")]
    check_exactly_once(store, len(files), [ledger])

    # the parts: three finished bot runs over disjoint shares of the directory
    with store.read() as conn:
        part_runs = [
            r for r in conn.execute(runs.select().where(runs.c.bot == bot.name)) if r.inputs.get("split")
        ]
    assert len(part_runs) == PARTS and {r.status for r in part_runs} == {"finished"}
    shares = [set(r.inputs["files"]) for r in part_runs]
    assert sorted(f for s in shares for f in s) == sorted(files)

    # the same decisions as one plain run on SQLite
    split_outcomes = outcomes(store)
    Store.close_all()
    ref = open_store(tmp_path / "ref", monkeypatch)
    run_bot(bot, fixture_inputs(tmp_path / "ref-ledger.xlsx"), store=ref)
    assert split_outcomes == outcomes(ref)
