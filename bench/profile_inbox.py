"""Where an inbox request's time goes: server CPU ms, SQL statements and write transactions per route.

The pages and forms bench/locustfile_inbox.py sends, each sent ``--rounds`` times in-process
(httpx over ASGI, the route run inline instead of in the threadpool so that one thread does all
the work and its CPU time is the request's), against a store seeded as bench/load_inbox.py seeds
it (one toy-bot run of ``--seed`` orders, one account per user). Per route: the median CPU ms
(``time.thread_time``), SQL statements and write transactions (``BEGIN IMMEDIATE`` on SQLite).
``--profile ROUTE`` prints cProfile's top functions for that route (cumulative time).

``--queue-split N`` instead: the pages of bench/inbox_bench.py on its store seeded to N queued
items (or the stores ``inbox_bench.py --keep DIR`` kept: ``--keep DIR``), in-process, ``--rounds``
requests each; per page the median CPU ms of the request and of its parts: the listing (counts,
rows, payloads), the titles, the rows' cells, the saved views and Jinja2; and the CPU ms of the
page's SQL statements replayed on a raw connection (the query part, inside the listing's).

Usage: python bench/profile_inbox.py [--seed 1500] [--rounds 20] [--profile "GET /queue"] [--json]
       [--sql] [--server] [--postgres URL]
       python bench/profile_inbox.py --queue-split 1000000 [--keep DIR] [--rounds 30] [--json]

Measured (issue 16; in-process, median CPU ms / SQL statements / write transactions; the same
machine, loaded, before and after the changes of that issue, with the queue package as it stood):

| route | before | after |
|---|---|---|
| POST /login | 55.8 / 28 / 5 | 50.5 / 24 / 2 |
| GET /queue | 23.5 / 21 / 1 | 13.6 / 20 / 0 |
| GET /queue?status=open | 20.3 / 17 / 1 | 12.2 / 16 / 0 |
| GET /queue?status=pending_approval | 16.6 / 19 / 1 | 10.3 / 20 / 0 |
| POST /queue/next | 8.8 / 17 / 2 | 9.6 / 18 / 2 |
| GET /items/[id] | 13.7 / 13 / 1 | 5.6 / 11 / 0 |
| POST approve (maker) | 10.4 / 18 / 2 | 6.3 / 14 / 1 |
| POST correct | 24.4 / 20 / 2 | 8.3 / 16 / 1 |
| POST approve (checker) | 10.2 / 24 / 4 | 9.2 / 20 / 3 |

What went: a ``BEGIN IMMEDIATE`` on every request (the session check opened a write transaction
even when it wrote nothing: every page queued for SQLite's write lock behind the bot and every
other request, in a busy handler that sleeps up to 100 ms between tries), three reads for the
session, its user's binding and the user (now one join), a scan of every installed
distribution's entry points each time a page looked a bot up (~4-8 ms; now read once per app),
five write transactions per login (now two: the throttle's slot before the password check,
then the reset, login time, audit entry and session together). The password hash (scrypt,
n=2**14, r=8: ~50 ms, 16 MiB) runs in a worker thread and releases the GIL; it is left as it is.

The queue page, next (``--rounds 20``, the same loaded machine, the tree before and after, run one
after the other; median CPU ms / SQL statements; the other routes, unchanged, agree within 0.3 ms):

| route | before | after |
|---|---|---|
| GET /queue | 8.6 / 20 | 7.1 / 14 |
| GET /queue?sort=newest | 9.2 / 20 | 7.4 / 13 |
| GET /queue?status=open | 7.6 / 16 | 6.1 / 11 |
| GET /queue?status=pending_approval | 4.2 / 17 | 4.1 / 12 |

What went: seven read transactions per page (now four: the session, the page's listing, the
workers and the saved views); the listing reads the audit chain head once (it was read four
times: for the total, the due floor, the facets and the route's "as of" time, each in its own
transaction) and the highest item id once (it was read per stored status); the count cube, the
rows and the payloads come from one snapshot. In the template each row read its stored columns
through ``QueueItem.__getattr__`` (a failed attribute look-up first) and its status twice; it now
reads them from the row dict. Left: the session, the workers list and the saved views are one
short read transaction each; the titles mask each listed payload whole (backoffice.pii).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ITEM_LINK = re.compile(r'<td><a href="/items/(\d+)">#')


def _inline_threadpool() -> None:
    """Run sync routes and dependencies in the caller's thread (profiling only)."""
    import fastapi.dependencies.utils as dep_utils
    import fastapi.routing as routing
    import starlette.concurrency as conc

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for mod in (dep_utils, routing, conc):
        mod.run_in_threadpool = inline  # type: ignore[attr-defined]


class Counters:
    """SQL statements and write transactions on one engine."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements = 0
        self.writes = 0
        self.by_sql: dict[str, int] = defaultdict(int)
        self.trace = False

        @event.listens_for(engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            self.statements += 1
            if statement.startswith("BEGIN IMMEDIATE"):
                self.writes += 1
            if self.trace:
                self.by_sql[" ".join(statement.split())[:110]] += 1

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.get_execution_options().get("immediate") and not engine.url.drivername.startswith(
                "sqlite"
            ):
                self.writes += 1


def _seed(root: Path, seed: int, url: str | None) -> tuple[Any, Any]:
    from backoffice.runner import run_bot
    from backoffice.settings import Settings
    from backoffice.store import Store
    from backoffice.users import add_user
    from bench.load_inbox import _toy_site, _write_orders
    from tests.core.toybot import bot as toy

    sys.path.insert(0, str(_toy_site(root)))
    settings = Settings(home=root / "home", database_url=url)
    store = Store.open(settings.db_url, settings=settings)
    for i in range(40):
        add_user(store, f"assoc{i:03d}", "associate", password=f"assoc{i:03d}-password")
    for i in range(10):
        add_user(store, f"lead{i:03d}", "team_lead", password=f"lead{i:03d}-password")
    orders = _write_orders(root / "seed.csv", seed, "S", random.Random(1))
    run_bot(toy, {"orders": str(orders), "ledger": str(root / "ledger.jsonl")}, store=store)
    return store, settings


class Client:
    def __init__(self, app: Any, name: str) -> None:
        import httpx

        self.name = name
        if isinstance(app, str):  # a running server's base URL
            base, transport = app, None
        else:
            base, transport = "http://testserver", httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        self.http = httpx.AsyncClient(
            transport=transport,
            base_url=base,
            headers={"Origin": base, "Referer": base + "/"},
            follow_redirects=False,
        )
        self.token = ""

    async def get(self, url: str) -> Any:
        r = await self.http.get(url)
        m = CSRF.search(r.text)
        if m:
            self.token = m.group(1)
        return r

    async def post(self, url: str, **data: str) -> Any:
        return await self.http.post(url, data={"csrf_token": self.token, **data})


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads, living and ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    store: Any, counters: Counters, rounds: int, profile: str | None, server: tuple[str, int] | None
) -> dict[str, Any]:
    from backoffice.inbox import create_app

    if server is None:
        app: Any = create_app(store, count_staleness=5.0)
        app.state.listing.warm()
    else:
        app = server[0]
    samples: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    prof = cProfile.Profile() if profile else None
    sql_seen: dict[str, dict[str, int]] = {}

    async def timed(route: str, call: Any) -> Any:
        s0, w0 = counters.statements, counters.writes
        counters.trace, counters.by_sql = True, defaultdict(int)
        if prof is not None and route == profile:
            prof.enable()
        if server is not None:
            t0 = _process_cpu(server[1])
            r = await call
            cpu = (_process_cpu(server[1]) - t0) * 1000
        else:
            t0 = time.thread_time()
            r = await call
            cpu = (time.thread_time() - t0) * 1000
        if prof is not None and route == profile:
            prof.disable()
        counters.trace = False
        sql_seen[route] = dict(counters.by_sql)
        samples[route].append((cpu, counters.statements - s0, counters.writes - w0))
        return r

    associates = [Client(app, f"assoc{i:03d}") for i in range(min(rounds, 40))]
    leads = [Client(app, f"lead{i:03d}") for i in range(min(rounds, 10))]
    for c in associates + leads:
        await timed("GET /login", c.get("/login"))
        r = await timed(
            "POST /login", c.post("/login", username=c.name, password=f"{c.name}-password", next="/")
        )
        if r.status_code != 303:
            raise SystemExit(f"login of {c.name}: {r.status_code} {r.text[:300]}")
        await c.get("/queue")
    pending: list[int] = []
    for i in range(rounds):
        c = associates[i % len(associates)]
        await timed("GET /queue", c.get("/queue"))
        await timed("GET /queue?sort=newest", c.get("/queue?sort=newest"))
        await timed("GET /queue?status=open", c.get("/queue?status=open"))
        r = await timed("POST /queue/next", c.post("/queue/next"))
        if r.status_code != 303:
            raise SystemExit(f"claim: {r.status_code} {r.text[:300]}")
        item = int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])
        await timed("GET /items/[id]", c.get(f"/items/{item}"))
        reason = "profile: checked against the source"
        if i % 2:
            r = await timed(
                "POST correct",
                c.post(
                    f"/items/{item}/correct", reason=reason, root_cause="other", **{"set:amount": "500.00"}
                ),
            )
        else:
            r = await timed("POST approve (maker)", c.post(f"/items/{item}/approve", reason=reason))
            pending.append(item)
        if r.status_code != 303:
            raise SystemExit(f"decision on {item}: {r.status_code} {r.text[:300]}")
    for i, item in enumerate(pending):
        lead = leads[i % len(leads)]
        await timed("GET /queue?status=pending_approval", lead.get("/queue?status=pending_approval"))
        await timed("GET /items/[id] (lead)", lead.get(f"/items/{item}"))
        r = await timed("POST approve (checker)", lead.post(f"/items/{item}/approve", reason="four eyes"))
        if r.status_code != 303:
            raise SystemExit(f"check of {item}: {r.status_code} {r.text[:300]}")
    await timed("GET /queue?status=open&sort=age", leads[0].get("/queue?status=open&sort=age"))
    await timed("GET /healthz", leads[0].get("/healthz"))
    out: dict[str, Any] = {}
    for route, vals in samples.items():
        out[route] = {
            "n": len(vals),
            "cpu_ms_median": round(statistics.median(v[0] for v in vals), 1),
            "cpu_ms_mean": round(statistics.fmean(v[0] for v in vals), 1),
            "statements_median": statistics.median(v[1] for v in vals),
            "writes_median": statistics.median(v[2] for v in vals),
            "sql": sql_seen.get(route, {}),
        }
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            45
        )
        out["_profile"] = buf.getvalue()
    return out


SPLIT_PARTS = (
    ("listing", "backoffice.inbox.listing", "QueueListing.page"),
    ("titles", "backoffice.inbox.queue_routes", "item_titles"),
    ("cells", "backoffice.inbox.queue_routes", "queue_rows"),
    ("saved views", "backoffice.inbox.queue_routes", "list_views"),
    ("jinja", "jinja2", "Template.render"),
)


def queue_split(items: int, rounds: int, keep: str | None) -> list[dict[str, Any]]:
    """``--queue-split N``: the inbox bench's queue pages (bench/inbox_bench.py, its store seeded to
    N items, or the one kept in ``--keep DIR``/full) and the empty-queue page, in-process; per page
    the median CPU ms of the request and of its parts (the listing: counts, rows and payloads;
    titles; the rows' cells; saved views; Jinja2), and the SQLite time of the page's statements
    replayed on a raw connection (the query part of the listing)."""
    import functools
    import importlib

    import httpx

    sys.path.insert(0, str(ROOT / "bench"))
    import inbox_bench as ib
    from sqlalchemy import event

    from backoffice.inbox import create_app

    spent: dict[str, float] = {}
    for label, module, name in SPLIT_PARTS:
        owner: Any = importlib.import_module(module)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        fn = getattr(owner, attr, None)
        if fn is None:  # an older tree without that part
            continue

        def timed(*a: Any, _fn: Any = fn, _label: str = label, **k: Any) -> Any:
            t0 = time.thread_time()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.thread_time() - t0

        setattr(owner, attr, functools.wraps(fn)(timed))
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="profile-queue-"))
    full, empty = ib._store(root / "full"), ib._store(root / "empty")
    have = ib._queued(full)
    if have < items:
        ib._seed(full, items, have)
    statements: list[tuple[str, Any]] = []

    request_thread = threading.get_ident()  # the routes run inline; the count cube's rebuilds do not

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if threading.get_ident() == request_thread:
            statements.append((statement, params))

    event.listen(full.engine, "before_cursor_execute", record)

    async def run() -> list[dict[str, Any]]:
        clients = {}
        for name, store in (("empty", empty), ("full", full)):
            app = create_app(store)
            c = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
                base_url="http://testserver",
                headers={"Origin": "http://testserver", "Referer": "http://testserver/"},
            )
            token = CSRF.search((await c.get("/login")).text).group(1)  # type: ignore[union-attr]
            r = await c.post(
                "/login",
                data={"csrf_token": token, "username": "associate", "password": "associate-password"},
            )
            if r.status_code != 303:
                raise SystemExit(f"login: {r.status_code}")
            clients[name] = c
        pages = [("empty queue", "empty", "/queue"), ("no filter", "full", "/queue")]
        pages += [(name, "full", url) for name, url in ib.FILTERED.items()]
        out = []
        for label, which, url in pages:
            c = clients[which]
            for _ in range(3):
                await c.get(url)
            totals: list[float] = []
            parts: dict[str, list[float]] = defaultdict(list)
            for _ in range(rounds):
                spent.clear()
                t0 = time.thread_time()
                r = await c.get(url)
                totals.append(time.thread_time() - t0)
                for k in spent:
                    parts[k].append(spent[k])
            statements.clear()
            await c.get(url)
            sql = _replay(full, [st for st in statements if st[0].lstrip().upper().startswith("SELECT")])
            row: dict[str, Any] = {"page": label, "url": url, "rows": r.text.count("<tr data-id=")}
            row["total_ms"] = round(statistics.median(totals) * 1000, 2)
            row["sql_ms"] = round(sql * 1000, 2) if which == "full" else "–"
            for k, v in parts.items():
                row[f"{k}_ms"] = round(statistics.median(v) * 1000, 2)
            out.append(row)
        return out

    try:
        return asyncio.run(run())
    finally:
        event.remove(full.engine, "before_cursor_execute", record)
        if not keep:
            from backoffice.store import Store

            Store.close_all()
            shutil.rmtree(root, ignore_errors=True)


def _replay(store: Any, statements: list[tuple[str, Any]], times: int = 9) -> float:
    """The median CPU time of ``statements`` executed and fetched on a raw connection (SQLite runs
    in the calling thread; CPU, not wall time, so that a loaded machine does not count)."""
    raw = store.engine.raw_connection()
    try:
        runs = []
        for _ in range(times):
            t0 = time.thread_time()
            for statement, params in statements:
                raw.cursor().execute(statement, params).fetchall()
            runs.append(time.thread_time() - t0)
        return statistics.median(runs)
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--profile", help='route to cProfile, e.g. "GET /queue"')
    ap.add_argument("--sql", action="store_true", help="print each route's SQL statements")
    ap.add_argument("--postgres", help="a PostgreSQL URL to use instead of a fresh SQLite store")
    ap.add_argument(
        "--server",
        action="store_true",
        help="send the requests to a real `backoffice inbox` (uvicorn) and read its process CPU time "
        "(mean; /proc, 10 ms ticks) instead of running the app in-process",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--queue-split",
        type=int,
        metavar="N",
        help="the inbox bench's queue pages at N items: each request's CPU split into its parts",
    )
    ap.add_argument("--keep", help="with --queue-split: the stores kept by inbox_bench.py --keep DIR")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    _inline_threadpool()
    if args.queue_split:
        split = queue_split(args.queue_split, args.rounds, args.keep)
        if args.json:
            print(json.dumps(split, indent=2))
            return 0
        keys = [k for k in split[-1] if k.endswith("_ms")]
        print("| page | rows | " + " | ".join(k[:-3] for k in keys) + " |")
        print("|---|---|" + "---|" * len(keys))
        for row in split:
            print(
                f"| {row['page']} | {row['rows']} | " + " | ".join(str(row.get(k, "–")) for k in keys) + " |"
            )
        return 0
    root = Path(tempfile.mkdtemp(prefix="profile-inbox-"))
    try:
        store, settings = _seed(root, args.seed, args.postgres)
        counters = Counters(store.engine)
        proc = None
        server = None
        if args.server:
            from bench.load_inbox import _free_port, _start_inbox

            env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
            env.update(
                BACKOFFICE_HOME=str(settings.home),
                PYTHONPATH=os.pathsep.join([str(root / "site"), str(ROOT)]),
            )
            if args.postgres:
                env["BACKOFFICE_DATABASE_URL"] = args.postgres
            port = _free_port()
            proc = _start_inbox(env, port, root / "inbox.log")
            server = (f"http://127.0.0.1:{port}", proc.pid)
            time.sleep(2)  # the counts' warm-up thread
        try:
            res = asyncio.run(_measure(store, counters, args.rounds, args.profile, server))
        finally:
            if proc is not None:
                from bench.load_inbox import _stop

                _stop(proc)
    finally:
        from backoffice.store import Store

        Store.close_all()
        shutil.rmtree(root, ignore_errors=True)
    prof = res.pop("_profile", None)
    if args.json:
        print(
            json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "sql"} for k, v in res.items()}, indent=2)
        )
    else:
        cpu = "server CPU ms (mean)" if args.server else "CPU ms (median)"
        print(f"| route | n | {cpu} | SQL statements | write transactions |")
        print("|---|---|---|---|---|")
        for route, v in res.items():
            ms = v["cpu_ms_mean"] if args.server else v["cpu_ms_median"]
            sql = "–" if args.server else v["statements_median"]  # another process's engine
            writes = "–" if args.server else v["writes_median"]
            print(f"| {route} | {v['n']} | {ms} | {sql} | {writes} |")
        if args.sql:
            for route, v in res.items():
                print(f"\n## {route}")
                for sql, n in sorted(v["sql"].items(), key=lambda kv: -kv[1]):
                    print(f"  {n:3d} {sql}")
    if prof:
        print(prof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
