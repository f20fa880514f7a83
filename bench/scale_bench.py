"""Scale-out bench: the same invoice workload on 1, 2 and 4 Prefect process workers, on PostgreSQL.

    .venv/bin/python bench/scale_bench.py [--drops 8] [--workers 1,2,4] [--json] [--quick]

``--quick``: 2 drops on 1 and 2 workers. ``--json``: one JSON line per worker count after the
first (bench/_report.py): the speed-up against the first count; no target (it flattens at the
core count of the machine).

Starts a throwaway PostgreSQL cluster, ``prefect server start`` on it, registers the
deployments with ``backoffice deploy``, then for each worker count: a fresh backoffice
database, N workers (``--limit 1`` each: one flow run at a time per worker), and ``--drops``
flow runs of ``invoice-matching/backoffice`` submitted at once. Each drop is the fixture
invoice set under other file names (so other item keys) with its own ledger, so every worker
count does exactly the same work and reaches the same decisions. Prints items/s per worker
count and the speed-up against the 1-worker run measured here; checks exactly-once on each.

Every flow run is a fresh Python process (imports, context load), and all processes share this
machine's CPU cores: the speed-up flattens at the core count. Spread over machines it does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _report import Results, add_common_args  # noqa: E402

from tests.scale.helpers import FIXTURES, check_exactly_once, fixture_inputs  # noqa: E402
from tests.scale.pgcluster import PgCluster  # noqa: E402
from tests.scale.prefect_server import PrefectServer  # noqa: E402

POOL = "bench"
DEPLOYMENT = "invoice-matching/backoffice"


def make_drops(root: Path, n: int) -> list[Path]:
    """``n`` directories, each linking every fixture PDF under a drop-specific name."""
    pdfs = sorted((FIXTURES / "pdf").glob("*.pdf"))
    drops = []
    for d in range(1, n + 1):
        drop = root / f"drop{d:02d}"
        drop.mkdir(parents=True)
        for pdf in pdfs:
            os.symlink(pdf, drop / f"d{d:02d}-{pdf.name}")
        drops.append(drop)
    return drops


def run_workload(
    server: PrefectServer, pg: PgCluster, workers: int, drops: list[Path], work: Path
) -> dict[str, Any]:
    from prefect import get_client
    from prefect.deployments import run_deployment

    from backoffice.settings import reset_settings
    from backoffice.store import Store

    db_url = pg.create_database(f"bench_w{workers}")
    home = work / f"home-w{workers}"
    env = {"BACKOFFICE_DATABASE_URL": db_url, "BACKOFFICE_HOME": str(home)}
    Store.open(db_url)  # migrate before the clock starts, as a deployment would have
    for i in range(1, workers + 1):
        server.worker(POOL, f"w{workers}-{i}", env=env, limit=1)
    ledgers = [work / f"ledger-w{workers}-{d.name}.xlsx" for d in drops]
    try:
        time.sleep(3)  # let the workers register and start polling
        t0 = time.perf_counter()
        ids = [
            run_deployment(
                DEPLOYMENT, parameters=fixture_inputs(ledger, drop), timeout=0, as_subflow=False
            ).id  # type: ignore[union-attr]
            for drop, ledger in zip(drops, ledgers, strict=True)
        ]
        states: dict[Any, str] = {}
        with get_client(sync_client=True) as client:
            while True:
                for fid in ids:
                    if states.get(fid) in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                        continue
                    fr = client.read_flow_run(fid)
                    states[fid] = fr.state.type.value if fr.state else "PENDING"
                if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
                    break
                if time.perf_counter() - t0 > 1800:
                    raise RuntimeError(f"runs still going after 30 min: {states}")
                time.sleep(0.5)
        elapsed = time.perf_counter() - t0
    finally:
        server.stop_workers()
    bad = [s for s in states.values() if s != "COMPLETED"]
    if bad:
        raise RuntimeError(f"{len(bad)} flow runs did not complete: {bad}; see {server.root / 'logs'}")
    os.environ.update(env)
    reset_settings()
    Store.close_all()
    files = len(list((FIXTURES / "pdf").glob("*.pdf"))) * len(drops)
    check = check_exactly_once(Store.open(), files, ledgers)
    Store.close_all()
    return {"workers": workers, "items": files, "seconds": elapsed, "items_per_s": files / elapsed, **check}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--drops", type=int, default=8, help="flow runs (fixture-sized invoice drops) per worker count"
    )
    ap.add_argument("--workers", default="1,2,4", help="worker counts to compare; the first is the baseline")
    add_common_args(ap)
    a = ap.parse_args()
    if a.quick:
        a.drops, a.workers = 2, "1,2"
    counts = [int(x) for x in a.workers.split(",")]
    found = Results("scale", json_=a.json)
    say = (lambda *x, **k: print(*x, file=sys.stderr, **k)) if a.json else print

    work = Path(tempfile.mkdtemp(prefix="bo-scale-bench-"))
    os.environ["PREFECT_HOME"] = str(work / "bench-prefect-home")
    pg = PgCluster.start()
    server = None
    try:
        server = PrefectServer.start(work / "prefect", pg.create_database("prefect", driver="asyncpg"))
        os.environ["PREFECT_API_URL"] = server.api_url
        os.environ["BACKOFFICE_HOME"] = str(work / "deploy-home")
        import subprocess

        subprocess.run(
            [
                str(Path(sys.executable).with_name("backoffice")),
                "deploy",
                "--pool",
                POOL,
                "--no-schedules",
                "--json",
            ],
            env=server.client_env(),
            check=True,
            capture_output=True,
        )
        drops = make_drops(work / "drops", a.drops)
        say(
            f"scale bench: {a.drops} flow runs x {len(list((FIXTURES / 'pdf').glob('*.pdf')))} invoices, "
            f"PostgreSQL + Prefect server on 127.0.0.1, {os.cpu_count()} CPU cores on this machine"
        )
        results = []
        for n in counts:
            r = run_workload(server, pg, n, drops, work)
            results.append(r)
            say(
                f"  {n} worker(s): {r['items']} items in {r['seconds']:.1f}s = {r['items_per_s']:.2f} items/s "
                f"({r['done']} posted, {r['queued']} queued, audit chain of {r['audit_entries']} entries verified)",
                flush=True,
            )
        base = results[0]["items_per_s"]
        say(f"speed-up against {results[0]['workers']} worker(s), measured in this run:")
        for r in results:
            say(f"  {r['workers']} worker(s): x{r['items_per_s'] / base:.2f}")
        for r in results[1:]:
            found.add(
                f"{r['workers']} Prefect workers vs {results[0]['workers']}, PostgreSQL (speed-up)",
                ratio=r["items_per_s"] / base,
                target=None,
                better="higher",
                items=r["items"],
                items_per_s=round(r["items_per_s"], 2),
                baseline_items_per_s=round(base, 2),
            )
    finally:
        if server is not None:
            server.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    found.done()


if __name__ == "__main__":
    main()
