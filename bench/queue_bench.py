"""Queue throughput on SQLite against bare SQLAlchemy loops measured in the same run.

1. queue N items (default 100,000) the way production does: through the runner
   (``backoffice.testing.queue_items``: register, check, record with one audit entry per item,
   batches of 1,000) vs a bare ``insert(items)`` executemany of the same rows; the audit share
   is measured by queueing once more with the runner's audit append disabled.
2. claim + resolve M items (default 10,000) with W worker processes (default 8) through
   Queue.claim_next/Queue.resolve vs a bare loop of the same two UPDATE transactions.

Targets (issue 2): queue >= 0.5x the bare loop; audit append adds <= 30 %.
Usage: python bench/queue_bench.py [--items 100000] [--resolve 10000] [--workers 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update

BATCH = 1000


def _env(home: Path) -> None:
    os.environ["BACKOFFICE_HOME"] = str(home)
    os.environ.pop("BACKOFFICE_DATABASE_URL", None)
    from backoffice.settings import reset_settings
    from backoffice.store import Store

    reset_settings()
    Store.close_all()


def _items(n: int, offset: int = 0):
    from backoffice.items import Item, SourceRef
    from backoffice.rules import Violation

    for i in range(offset, offset + n):
        yield Item(
            bot="bench",
            key=f"k{i:09d}",
            payload={"invoice": f"INV-{i}", "vendor": "ACME GmbH", "amount": "123.45", "lines": [{"q": 1}]},
            source=SourceRef(file="bench.xlsx", locator=f"row {i + 2}", sha256="0" * 64),
            amount=Decimal("123.45"),
            currency="EUR",
            violations=[
                Violation(
                    code="INV-PRICE",
                    message="price above PO",
                    field="lines.0.unit_price",
                    expected="10.00",
                    actual="12.00",
                )
            ],
        )


def bench_queue(n: int, root: Path, audit: bool) -> float:
    from backoffice.runner import recording
    from backoffice.store import Store
    from backoffice.testing import queue_items

    _env(root / ("enq" if audit else "enq-noaudit"))
    store = Store.open()
    saved = recording.append_many
    if not audit:
        recording.append_many = lambda conn, store, entries: [None for _ in entries]  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        queued = queue_items(store, _items(n), batch_size=BATCH)
        assert len(queued) == n, len(queued)
        return time.perf_counter() - t0
    finally:
        recording.append_many = saved


def _bare_row(it, now) -> dict:  # type: ignore[no-untyped-def]
    """The row a queued item ends up as, written directly (the baseline, not how items are queued)."""
    from backoffice.jsonutil import jsonable
    from backoffice.queue import queue_fields

    return {
        "bot": it.bot,
        "key": it.key,
        "run_id": None,
        "status": "open",
        "kind": it.kind,
        "payload": jsonable(it.payload),
        "source": it.source.model_dump(mode="json"),
        "amount": str(it.amount) if it.amount is not None else None,
        "personal": False,
        "currency": it.currency,
        "violations": [v.model_dump(mode="json") for v in it.violations],
        "evidence": [],
        "attempts": 0,
        "escalations": 0,
        "created_at": now,
        "updated_at": now,
        **queue_fields(it.violations, None, now, 0.75),
    }


def bench_bare_insert(n: int, root: Path) -> float:
    from backoffice.schema import items
    from backoffice.store import Store, utcnow

    _env(root / "bare")
    store = Store.open()
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        now = utcnow()
        rows = [_bare_row(it, now) for it in _items(min(BATCH, n - start), start)]
        with store.write() as conn:
            conn.execute(insert(items), rows)
    return time.perf_counter() - t0


def _queue_worker(home: str, user: str, quota: int, out) -> None:
    _env(Path(home))
    from backoffice.queue import Queue
    from backoffice.store import Store

    q = Queue(Store.open())
    done = 0
    while done < quota:
        it = q.claim_next(user)
        if it is None:
            break
        q.resolve(it.row["id"], user, "reject", "bench")
        done += 1
    out.put(done)


def _bare_worker(home: str, user: str, quota: int, out) -> None:
    _env(Path(home))
    from backoffice.schema import items
    from backoffice.store import Store, utcnow

    store = Store.open()
    done = 0
    while done < quota:
        with store.write() as conn:
            item_id = conn.execute(
                select(items.c.id)
                .where(items.c.status == "open")
                .order_by(items.c.priority, items.c.due_at)
                .limit(1)
            ).scalar()
            if item_id is None:
                break
            conn.execute(update(items).where(items.c.id == item_id).values(status="claimed", assignee=user))
        with store.write() as conn:
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(status="resolved", decision="reject", resolved_at=utcnow())
            )
        done += 1
    out.put(done)


def bench_workers(target, home: Path, m: int, workers: int) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    quota = m // workers
    procs = [ctx.Process(target=target, args=(str(home), f"w{i}", quota, out)) for i in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    return elapsed, sum(out.get() for _ in procs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--resolve", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = bench_bare_insert(a.items, root)
        queue_t = bench_queue(a.items, root, audit=True)
        noaudit = bench_queue(a.items, root, audit=False)
        print(f"queue {a.items:,} items")
        print(f"  bare SQLAlchemy insert : {a.items / bare:10,.0f} items/s")
        print(
            f"  runner (+audit)        : {a.items / queue_t:10,.0f} items/s   ratio {bare / queue_t:.2f}x of bare (target >= 0.5)"
        )
        print(
            f"  runner (no audit)      : {a.items / noaudit:10,.0f} items/s   audit adds {100 * (queue_t / noaudit - 1):.0f} % (target <= 30 %)"
        )

        # claim/resolve on the queued stores
        from backoffice.store import Store
        from backoffice.users import add_user

        _env(root / "enq")
        store = Store.open()
        for i in range(a.workers):
            add_user(store, f"w{i}", "associate")
        q_t, q_n = bench_workers(_queue_worker, root / "enq", a.resolve, a.workers)
        b_t, b_n = bench_workers(_bare_worker, root / "bare", a.resolve, a.workers)
        print(f"claim+resolve {a.resolve:,} items with {a.workers} worker processes")
        print(f"  bare update loop       : {b_n / b_t:10,.0f} items/s")
        print(
            f"  Queue claim+resolve    : {q_n / q_t:10,.0f} items/s   ratio {(q_n / q_t) / (b_n / b_t):.2f}x of bare (target >= 0.5)"
        )
        from backoffice import audit

        _env(root / "enq")
        r = audit.verify(Store.open())
        print(f"  audit chain after the run: {'intact' if r.ok else 'BROKEN'} ({r.checked:,} entries)")


if __name__ == "__main__":
    main()
