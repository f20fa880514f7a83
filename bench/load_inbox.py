"""Load test of the inbox: 50 associates and team leads for 5 minutes, with a bot run writing.

For each backend (SQLite, PostgreSQL on a throwaway cluster from tests/scale/pgcluster.py):
a fresh store with one account per simulated user and a backlog queued by a real toy-bot run
(tests/core/toybot.py, installed for the server as the entry point ``toy``); ``backoffice inbox``
on a free 127.0.0.1 port; locust (bench/locustfile_inbox.py, headless, bounded by ``--seconds``)
as associates who claim, read, correct and approve, and team leads who check the approvals;
meanwhile a thread of this process runs the toy bot again and again on new orders, so the bot
writes to the queue and the audit chain while the users decide.

Afterwards: every decision the server confirmed to a client (a 303 to the item) is in the audit
log exactly once under that user (none lost), no item has two maker decisions or two checks
(none doubled), each item's maker/checker columns agree, and ``backoffice audit verify`` exits 0.
Latency (p50/p95/p99) is from locust's histograms over every request but the one login per
simulated user (scrypt, on purpose slow, all in the ramp-up; reported apart as "incl. login");
errors count every request.

The server's CPU while locust ran is reported too (``server_cpu_share``: cores used;
``server_cpu_ms_per_request``): latency on a shared machine depends on what else runs, CPU per
request much less. Where it goes per route: bench/profile_inbox.py.

Target (issue 16): p95 < 300 ms on SQLite with 50 users; 0 lost or doubled decisions.
Usage: python bench/load_inbox.py [--backend sqlite|postgres|both] [--users 50] [--seconds 300]
       [--quick (30 s)] [--workers N (backoffice inbox --workers)] [--json]
Exit 0 when no decision was lost or doubled, the chain verifies and no request failed.

Measured (issue 16, 2 cores shared with other work: load average 12-19, so latency is the
machine's, not the inbox's), --quick on SQLite, 50 users, one worker, two runs each:

| code | server CPU ms/request | req/s | p50 ms | p95 ms | errors, lost, doubled | verify |
|---|---|---|---|---|---|---|
| before (every request a write transaction, entry points scanned per page) | 21.3, 18.6 | 16.1, 20.4 | 1900, 1200 | 3500, 2500 | 0 | ok |
| after | 13.4, 12.7 | 22.8, 26.8 | 1100, 930 | 4100, 2900 | 0 | ok |
| after, --workers 2 | 17.9, 23.3 | 13.3, 7.1 | 800, 3000 | 9500, 10000 | 0 | ok |

At about 13 ms a request and 50 users asking for 100+ requests a second when answered fast, one
worker needs more than one core: the p95 target needs the machine's two cores for the inbox
(locust itself takes a share) or less CPU per page (the queue page's listing and template are
most of it: bench/profile_inbox.py). Two workers did worse on the overloaded machine (two count
cubes, two processes competing for the SQLite write lock); measure both on a quiet one.

Quiet machine (load average 1-2 before each run), after the queue page went to one read
transaction per page:

| run | workers | requests | req/s | p50 ms | p95 ms | p99 ms | errors, lost, doubled | verify |
|---|---|---|---|---|---|---|---|---|
| SQLite --quick | 1 | 1,993 | 66 | 300 | 810 | 1,100 | 0 | ok |
| SQLite --quick | 2 | 3,387 | 113 | 42 | 150 | 300 | 0 | ok |
| SQLite, 5 min | 2 | 35,459 | 118 | 33 | 110 | 250 | 0 (7,993 decisions) | ok |
| PostgreSQL, 5 min | 2 | 28,095 | 94 | 79 | 540 | 870 | 0 (6,262 decisions) | ok |

One worker saturates a core (15 ms CPU a request x 66/s); two meet the SQLite target.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent
MAKER_ACTIONS = ("item.resolved", "item.approval_requested")
CHECKER_ACTIONS = ("item.approved", "item.approval_refused")
TARGET_P95_MS = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toy_site(root: Path) -> Path:
    """A dist-info that installs tests.core.toybot as the bot ``toy`` (as pip would)."""
    site = root / "site"
    dist = site / "backoffice_load_toy-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: backoffice-load-toy\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[backoffice.bots]\ntoy = tests.core.toybot:bot\n")
    return site


def _write_orders(path: Path, n: int, tag: str, rng: random.Random) -> Path:
    """Orders for the toy bot: most above its limit (queued for an associate), a few unreadable."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "customer", "amount"])
        for i in range(n):
            roll = rng.random()
            amount = "12x" if roll < 0.03 else (f"{rng.randint(1500, 9000)}.00" if roll < 0.8 else "55.25")
            w.writerow([f"{tag}-{i:05d}", f"C{i % 7}", amount])
    return path


def _accounts(users: int) -> dict[str, list[list[str]]]:
    # the locustfile's weights are associate 4 : team lead 1; a few spare accounts of each
    leads = math.ceil(users / 5) + 2
    return {
        "associate": [[f"assoc{i:03d}", f"assoc{i:03d}-password"] for i in range(users + 2)],
        "team_lead": [[f"lead{i:03d}", f"lead{i:03d}-password"] for i in range(leads)],
    }


class BotWriter(threading.Thread):
    """Runs the toy bot on new orders until stopped: the bot's writes during the load."""

    def __init__(self, store: Any, root: Path, batch: int, pause: float) -> None:
        super().__init__(daemon=True, name="bot-writer")
        self.store, self.root, self.batch, self.pause = store, root, batch, pause
        self.stop = threading.Event()
        self.runs = 0
        self.items = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from backoffice.runner import run_bot
        from tests.core.toybot import bot

        rng = random.Random(7)
        try:
            while not self.stop.is_set():
                n = self.runs
                orders = _write_orders(self.root / f"orders-{n}.csv", self.batch, f"B{n}", rng)
                inputs = {"orders": str(orders), "ledger": str(self.root / f"ledger-{n}.jsonl")}
                summary = run_bot(bot, inputs, store=self.store)
                self.runs += 1
                self.items += summary.total
                self.stop.wait(self.pause)
        except BaseException as exc:  # reported in the result; the load goes on
            self.error = exc


def _start_inbox(env: dict[str, str], port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    import httpx

    cmd = [
        str(BIN / "backoffice"),
        "inbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"backoffice inbox exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"backoffice inbox did not answer /healthz:\n{log.read_text()[-2000:]}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its children (uvicorn's workers), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn's clean shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _locust(env: dict[str, str], base: str, users: int, seconds: int, prefix: Path) -> int:
    cmd = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile_inbox.py"),
        "--headless",
        "--host",
        base,
        "-u",
        str(users),
        "-r",
        str(max(1, users // 5)),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "15",
        "--csv",
        str(prefix),
        "--json-file",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    with prefix.with_suffix(".log").open("wb") as log:
        res = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return res.returncode


LOGIN = {"/login", "POST /login", "POST /login (throttled)"}


def _percentile(hist: Counter[int], p: float) -> float | None:
    """The p-th percentile (0..1) of a locust response-time histogram {rounded ms: count}."""
    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for ms in sorted(hist):
        seen += hist[ms]
        if seen >= p * total:
            return float(ms)
    return float(max(hist))  # pragma: no cover


def _figures(entries: list[dict[str, Any]]) -> dict[str, Any]:
    hist: Counter[int] = Counter()
    for e in entries:
        hist.update({int(float(k)): int(v) for k, v in e["response_times"].items()})
    return {
        "requests": sum(int(e["num_requests"]) for e in entries),
        "errors": sum(int(e["num_failures"]) for e in entries),
        "p50_ms": _percentile(hist, 0.50),
        "p95_ms": _percentile(hist, 0.95),
        "p99_ms": _percentile(hist, 0.99),
    }


def _stats(prefix: Path, seconds: int) -> dict[str, Any]:
    """Locust's figures: over all requests, and over the work without the one login per user
    (scrypt on purpose, all 50 in the first seconds) that the headline latency leaves out."""
    entries = json.loads(Path(f"{prefix}.json").read_text())
    overall = _figures(entries)
    work = _figures([e for e in entries if e["name"] not in LOGIN])
    per = {f"{e['method']} {e['name']}": _figures([e]) for e in entries}
    failures = [
        {"name": f"{r['Method']} {r['Name']}", "error": r["Error"][:300], "count": int(r["Occurrences"])}
        for r in csv.DictReader(Path(f"{prefix}_failures.csv").read_text().splitlines())
    ]
    return {
        **work,
        "errors": overall["errors"],
        "rps": round(work["requests"] / seconds, 1),
        "login_throttled": sum(
            int(e["num_requests"]) for e in entries if e["name"] == "POST /login (throttled)"
        ),
        "with_login": overall,
        "per_request": per,
        "failures": failures,
    }


def _client_decisions(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(folder.glob("*.jsonl")):
        out += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out


def check_decisions(store: Any, client: list[dict[str, Any]], users: set[str]) -> dict[str, Any]:
    """Compare the decisions the clients saw confirmed with the audit log and the items."""
    from sqlalchemy import select

    from backoffice.schema import audit, items

    a = audit.c
    q = select(a.actor, a.action, a.subject).where(a.action.in_(MAKER_ACTIONS + CHECKER_ACTIONS))
    with store.read() as conn:
        entries = [(str(r.actor), str(r.action), str(r.subject)) for r in conn.execute(q)]
        ids = sorted({int(d["item"]) for d in client})
        rows = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            sel = select(items.c.id, items.c.maker, items.c.checker).where(items.c.id.in_(chunk))
            rows.update({int(r.id): r for r in conn.execute(sel)})
    human = [(actor, action, subj) for actor, action, subj in entries if actor in users]
    step = {act: "maker" for act in MAKER_ACTIONS} | {act: "checker" for act in CHECKER_ACTIONS}
    audited = Counter((int(subj.split(":", 1)[1]), actor, step[action]) for actor, action, subj in human)
    seen = Counter((int(d["item"]), str(d["user"]), str(d["step"])) for d in client)
    lost = sum(max(0, n - audited[k]) for k, n in seen.items())
    unconfirmed = sum(max(0, n - seen[k]) for k, n in audited.items())
    per_item = Counter((item, st) for (item, _, st), n in audited.items() for _ in range(n))
    doubled = sum(n - 1 for n in per_item.values() if n > 1)
    client_doubled = sum(
        n - 1 for n in Counter((int(d["item"]), d["step"]) for d in client).values() if n > 1
    )
    mismatched = 0
    for d in client:
        row = rows.get(int(d["item"]))
        column = "maker" if d["step"] == "maker" else "checker"
        if row is None or getattr(row, column) != d["user"]:
            mismatched += 1
    return {
        "decisions": sum(seen.values()),
        "maker_decisions": sum(n for k, n in seen.items() if k[2] == "maker"),
        "checks": sum(n for k, n in seen.items() if k[2] == "checker"),
        "audited": len(human),
        "lost": lost,
        "doubled": doubled + client_doubled,
        "unconfirmed": unconfirmed,
        "item_columns_mismatched": mismatched,
    }


def run_one(
    backend: str, users: int, seconds: int, seed: int, bot_batch: int, bot_pause: float, workers: int = 1
) -> dict[str, Any]:
    from backoffice.runner import run_bot
    from backoffice.settings import Settings
    from backoffice.store import Store
    from backoffice.users import add_user
    from tests.core.toybot import bot as toy

    root = Path(tempfile.mkdtemp(prefix=f"load-{backend}-"))
    pg = None
    try:
        home = root / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
        site = _toy_site(root)
        env.update(
            BACKOFFICE_HOME=str(home),
            PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        url = None
        if backend == "postgres":
            from tests.scale.pgcluster import PgCluster

            pg = PgCluster.start()
            url = pg.create_database("backoffice")
            env["BACKOFFICE_DATABASE_URL"] = url
        settings = Settings(home=home, database_url=url)
        store = Store.open(settings.db_url, settings=settings)
        accounts = _accounts(users)
        for role, names in accounts.items():
            for name, password in names:
                add_user(store, name, role, password=password)
        (root / "accounts.json").write_text(json.dumps(accounts))
        decisions = root / "decisions"
        decisions.mkdir()
        t0 = time.perf_counter()
        orders = _write_orders(root / "seed.csv", seed, "S", random.Random(1))
        run_bot(toy, {"orders": str(orders), "ledger": str(root / "seed-ledger.jsonl")}, store=store)
        seeded = time.perf_counter() - t0

        port = _free_port()
        server = _start_inbox(env, port, root / "inbox.log", workers)
        writer = BotWriter(store, root, bot_batch, bot_pause)
        try:
            writer.start()
            load_env = {**env, "LOAD_ACCOUNTS": str(root / "accounts.json"), "LOAD_DECISIONS": str(decisions)}
            cpu0 = _cpu_seconds(server.pid)
            rc = _locust(load_env, f"http://127.0.0.1:{port}", users, seconds, root / "locust")
            server_cpu = _cpu_seconds(server.pid) - cpu0
        finally:
            writer.stop.set()
            writer.join(timeout=120)
            _stop(server)
        stats = _stats(root / "locust", seconds)
        names = {n for names in accounts.values() for n, _ in names}
        check = check_decisions(store, _client_decisions(decisions), names)
        verify = subprocess.run(
            [str(BIN / "backoffice"), "audit", "verify"], env=env, capture_output=True, text=True, check=False
        )
        Store.close_all()
        return {
            "backend": backend,
            "users": users,
            "workers": workers,
            "seconds": seconds,
            "seeded_items": seed,
            "seed_seconds": round(seeded, 1),
            "locust_exit": rc,
            **{
                k: stats[k]
                for k in (
                    "requests",
                    "errors",
                    "p50_ms",
                    "p95_ms",
                    "p99_ms",
                    "rps",
                    "with_login",
                    "login_throttled",
                )
            },
            **check,
            # the inbox's CPU while locust ran: how busy the server was, whatever else ran
            "server_cpu_seconds": round(server_cpu, 1),
            "server_cpu_share": round(server_cpu / seconds, 2),
            "server_cpu_ms_per_request": round(
                1000 * server_cpu / max(1, stats["with_login"]["requests"]), 1
            ),
            "bot_runs": writer.runs,
            "bot_items": writer.items,
            "bot_error": repr(writer.error) if writer.error else None,
            "audit_verify_exit": verify.returncode,
            "audit_verify": (verify.stdout + verify.stderr).strip()[-500:],
            "failures": stats["failures"][:20],
            "per_request": stats["per_request"],
        }
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def ok(result: dict[str, Any]) -> bool:
    return (
        result["lost"] == 0
        and result["doubled"] == 0
        and result["item_columns_mismatched"] == 0
        and result["audit_verify_exit"] == 0
        and result["errors"] == 0
        and result["bot_error"] is None
        and result["decisions"] > 0
    )


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "| backend | users | workers | s | requests | req/s | p50 ms | p95 ms | p99 ms | p95 incl. login ms "
        "| errors | decisions (maker/check) | lost | doubled | bot items | verify | server CPU |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['users']} | {r['workers']} | {r['seconds']} | {r['requests']} | {r['rps']:.1f} "
            f"| {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['with_login']['p95_ms']} | {r['errors']} "
            f"| {r['decisions']} ({r['maker_decisions']}/{r['checks']}) | {r['lost']} | {r['doubled']} "
            f"| {r['bot_items']} | {'ok' if r['audit_verify_exit'] == 0 else 'FAILED'} "
            f"| {r['server_cpu_share']:.2f} core, {r['server_cpu_ms_per_request']} ms/request |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="30 s per backend instead of --seconds")
    ap.add_argument("--seed", type=int, default=1500, help="orders in the backlog's toy-bot run")
    ap.add_argument("--bot-batch", type=int, default=100, help="orders per concurrent toy-bot run")
    ap.add_argument("--bot-pause", type=float, default=2.0, help="seconds between the toy-bot runs")
    ap.add_argument(
        "--workers", type=int, default=1, help="inbox worker processes (backoffice inbox --workers)"
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    seconds = 30 if args.quick else args.seconds
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    load_before = os.getloadavg()
    results = [
        run_one(b, args.users, seconds, args.seed, args.bot_batch, args.bot_pause, args.workers)
        for b in backends
    ]
    machine = {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    for r in results:
        r["ok"] = ok(r)
        r["p95_target_met"] = r["p95_ms"] is not None and r["p95_ms"] < TARGET_P95_MS
    if args.json:
        print(
            json.dumps(
                {"target_p95_ms_sqlite": TARGET_P95_MS, "machine": machine, "results": results}, indent=2
            )
        )
    else:
        print(_table(results))
        print(
            f"machine: {machine['cpus']} CPUs, load average {machine['loadavg_before'][0]:.1f} -> {machine['loadavg_after'][0]:.1f}"
        )
        for r in results:
            for f in r["failures"]:
                print(f"  {r['backend']}: {f['count']} x {f['name']}: {f['error']}")
            if r["bot_error"]:
                print(f"  {r['backend']}: bot writer failed: {r['bot_error']}")
            if r["audit_verify_exit"]:
                print(f"  {r['backend']}: audit verify: {r['audit_verify']}")
        sqlite = next((r for r in results if r["backend"] == "sqlite"), None)
        if sqlite is not None:
            met = "met" if sqlite["p95_target_met"] else "MISSED"
            print(f"SQLite p95 {sqlite['p95_ms']} ms with {sqlite['users']} users: target < 300 ms {met}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
