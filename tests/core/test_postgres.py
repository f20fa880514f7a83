"""The core queue and audit behaviours against a real PostgreSQL (a throwaway cluster on 127.0.0.1).

Concurrency is exercised with real processes (spawn, no forks of open connections): claims of
one item, claim_next draining a queue, audit writers racing from an empty chain, the overdue
escalation run twice at once, and several processes migrating a fresh database. The alembic
migrations must give the same reflected schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.errors import ConflictError
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.schema import audit as audit_table
from backoffice.schema import items, metadata
from backoffice.settings import reset_settings
from backoffice.store import Store, utcnow
from backoffice.testing import open_store, queue_items
from backoffice.users import add_user
from tests.core.toybot import RULES

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_store(pg_url: str) -> Store:
    return Store.open()


def _spawn(target: Any, args_list: list[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Run ``target(*args, gate, out)`` in one spawned process per args; return what they put in ``out``.

    Each target opens its store, then waits at ``gate`` (a barrier) so they really start together.
    """
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    gate = ctx.Barrier(len(args_list))
    procs = [ctx.Process(target=target, args=(*args, gate, out)) for args in args_list]
    for p in procs:
        p.start()
    results = [out.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0, f"worker process exited with {p.exitcode}"
    errors = [r for r in results if isinstance(r, tuple) and r and r[0] == "error"]
    assert not errors, errors
    return results


def _child_store(url: str, home: str, gate: Any) -> Store:
    os.environ["BACKOFFICE_HOME"] = home
    os.environ["BACKOFFICE_DATABASE_URL"] = url
    reset_settings()
    store = Store.open()
    with store.read() as conn:  # connect now, so the race below is not decided by connection set-up
        conn.exec_driver_sql("SELECT 1")
    gate.wait(60)
    return store


def _violating(key: str, amount: str = "100.00") -> Item:
    return Item(
        bot="toy",
        key=key,
        payload={"order_id": key, "customer": "C1", "amount": amount},
        source=SourceRef(file="orders.csv", locator=key),
        violations=[Violation(code="TOY-LIMIT", message="amount above limit", field="amount")],
    )


# -- schema -----------------------------------------------------------------------------------------
def _schema(engine: sa.Engine) -> dict[str, Any]:
    """Tables, columns (generic type, length, nullability), keys and indexes as plain data."""
    insp = sa.inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        cols = {}
        for c in insp.get_columns(table):
            generic = c["type"].as_generic()
            cols[c["name"]] = (type(generic).__name__, getattr(generic, "length", None), c["nullable"])
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in insp.get_indexes(table)
            if not i.get("duplicates_constraint")
        )
        uniques = sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table))
        fks = sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in insp.get_foreign_keys(table)
        )
        pk = tuple(insp.get_pk_constraint(table)["constrained_columns"])
        out[table] = {"columns": cols, "pk": pk, "indexes": indexes, "uniques": uniques, "fks": fks}
    return out


def test_migrations_give_the_same_schema_on_sqlite_and_postgresql(pg_store, tmp_path, monkeypatch):
    pg_schema = _schema(pg_store.engine)
    sqlite_store = open_store(tmp_path / "sqlite-home", monkeypatch)  # drops BACKOFFICE_DATABASE_URL
    assert sqlite_store.is_sqlite and not pg_store.is_sqlite
    sqlite_schema = _schema(sqlite_store.engine)
    assert set(pg_schema) == set(sqlite_schema) >= {"items", "audit", "audit_head", "alembic_version"}
    for table in sqlite_schema:
        assert pg_schema[table] == sqlite_schema[table], table
    # ... and it holds every table and column of the models
    for table in metadata.sorted_tables:
        assert set(table.columns.keys()) <= set(pg_schema[table.name]["columns"]), table.name


def _open_worker(url: str, home: str, gate: Any, out: Any) -> None:
    try:
        os.environ["BACKOFFICE_HOME"] = home
        os.environ["BACKOFFICE_DATABASE_URL"] = url
        reset_settings()
        gate.wait(60)  # all open (and migrate) the fresh database at the same moment
        store = Store.open()
        with store.read() as conn:
            out.put(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_many_processes_migrating_a_fresh_database_at_once(pg_url, tmp_path):
    versions = _spawn(_open_worker, [(pg_url, str(tmp_path / f"h{i}")) for i in range(5)])
    assert len(set(versions)) == 1
    store = Store.open()
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one() == 1


# -- claims -----------------------------------------------------------------------------------------
def _claim_worker(url: str, home: str, item_id: int, user: str, gate: Any, out: Any) -> None:
    try:
        store = _child_store(url, home, gate)
        try:
            Queue(store).claim(item_id, user)
            out.put((user, "won"))
        except ConflictError:
            out.put((user, "lost"))
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_concurrent_claims_of_one_item_from_processes(pg_store, tmp_path):
    for i in range(5):
        add_user(pg_store, f"worker{i}", "associate")
    q = Queue(pg_store)
    for round_ in range(2):
        (item_id,) = queue_items(pg_store, [_violating(f"race{round_}")], ruleset=RULES)
        results = _spawn(
            _claim_worker, [(pg_store.url, str(tmp_path), item_id, f"worker{i}") for i in range(5)]
        )
        winners = [u for u, r in results if r == "won"]
        assert len(winners) == 1, results
        assert q.get(item_id).assignee == winners[0]
        claims = audit.entries(pg_store, subject=f"item:{item_id}", action="item.claimed")
        assert [e["actor"] for e in claims] == winners
    assert audit.verify(pg_store).ok


def _drain_worker(url: str, home: str, user: str, gate: Any, out: Any) -> None:
    try:
        q = Queue(_child_store(url, home, gate))
        got = []
        while (it := q.claim_next(user)) is not None:
            got.append(int(it.row["id"]))
        out.put((user, got))
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_claim_next_from_processes_hands_each_item_to_exactly_one(pg_store, tmp_path):
    users = [f"drain{i}" for i in range(4)]
    for u in users:
        add_user(pg_store, u, "associate")
    ids = queue_items(pg_store, [_violating(f"n{i}") for i in range(60)], ruleset=RULES)
    results = _spawn(_drain_worker, [(pg_store.url, str(tmp_path), u) for u in users])
    claimed = [i for _, got in results for i in got]
    assert sorted(claimed) == sorted(ids)  # every item once, none twice
    assert sum(1 for _, got in results if got) >= 2  # the work was really shared
    owner = {i: u for u, got in results for i in got}
    for it in Queue(pg_store).list(status="claimed", limit=None):
        assert it.assignee == owner[it.row["id"]]
    assert audit.verify(pg_store).ok


# -- audit chain ------------------------------------------------------------------------------------
def _audit_worker(url: str, home: str, name: str, n: int, gate: Any, out: Any) -> None:
    try:
        store = _child_store(url, home, gate)
        for i in range(n):
            entries = [AuditEntry(actor=name, action="test.write", subject=f"{name}:{i}", data={"i": i})]
            if i % 5 == 0:  # some transactions append several entries at once
                entries.append(AuditEntry(actor=name, action="test.write", subject=f"{name}:{i}b"))
            with store.write() as conn:
                audit.append_many(conn, store, entries)
        out.put((name, n))
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_audit_chain_under_concurrent_writers_has_no_forks_and_no_gaps(pg_store, tmp_path):
    # The chain is empty (no head row yet): the writers also race to create the head.
    writers, per = 6, 40
    _spawn(_audit_worker, [(pg_store.url, str(tmp_path), f"w{k}", per) for k in range(writers)])
    expected = writers * (per + per // 5)
    result = audit.verify(pg_store)
    assert result.ok, result.reason
    assert result.checked == result.head_seq == expected
    with pg_store.read() as conn:
        seqs = [s for (s,) in conn.execute(select(audit_table.c.seq).order_by(audit_table.c.seq))]
        prevs = [p for (p,) in conn.execute(select(audit_table.c.prev_hash))]
    assert seqs == list(range(1, expected + 1))  # no gaps
    assert len(set(prevs)) == len(prevs)  # no fork: no two entries share a predecessor
    subjects = Counter(e["subject"] for e in audit.entries(pg_store, action="test.write"))
    assert len(subjects) == expected and set(subjects.values()) == {1}  # every write exactly once
    # each writer's own entries stay in its order
    for k in range(writers):
        mine = [e["data"].get("i") for e in audit.entries(pg_store, actor=f"w{k}") if "i" in e["data"]]
        assert mine == list(range(per))


# -- evidence ---------------------------------------------------------------------------------------
def _evidence_worker(url: str, home: str, n: int, gate: Any, out: Any) -> None:
    try:
        store = _child_store(url, home, gate)
        refs = {
            audit.put_evidence(store, f"shared evidence {i}".encode(), f"e{i}.txt").sha256 for i in range(n)
        }
        out.put(sorted(refs))
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_the_same_evidence_stored_by_processes_at_once_is_one_row(pg_store, tmp_path):
    results = _spawn(_evidence_worker, [(pg_store.url, str(tmp_path / "home"), 40) for _ in range(5)])
    assert len({tuple(r) for r in results}) == 1  # everyone got the same references
    with pg_store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM evidence").scalar_one() == 40
    for sha in results[0]:
        audit.check_evidence(pg_store, sha)


# -- escalation -------------------------------------------------------------------------------------
def _escalate_worker(url: str, home: str, gate: Any, out: Any) -> None:
    try:
        out.put(Queue(_child_store(url, home, gate)).escalate_overdue())
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_overdue_escalation_run_twice_at_once_escalates_each_item_once(pg_store, tmp_path):
    ids = queue_items(pg_store, [_violating(f"late{i}") for i in range(40)], ruleset=RULES)
    with pg_store.write() as conn:
        conn.execute(update(items).values(due_at=utcnow() - timedelta(hours=1)))
    results = _spawn(_escalate_worker, [(pg_store.url, str(tmp_path)) for _ in range(4)])
    escalated = [i for r in results for i in r]
    assert sorted(escalated) == sorted(ids)
    for it in Queue(pg_store).list(status="queued", limit=None):
        assert it.row["escalations"] == 1 and it.row["tier"] == "team_lead"
    assert len(audit.entries(pg_store, action="item.escalated")) == len(ids)
    assert audit.verify(pg_store).ok


# -- overlapping bot runs: each item is owned by one live run at a time (runner._register) -----------
def _run_worker(url: str, home: str, inputs: dict[str, str], gate: Any, out: Any) -> None:
    try:
        from backoffice.runner import run_bot
        from tests.core.toybot import bot

        store = _child_store(url, home, gate)
        out.put(run_bot(bot, inputs, store=store, batch_size=20).to_dict())
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_overlapping_runs_over_the_same_input_act_on_each_item_once(pg_store, tmp_path):
    from tests.core.toybot import write_orders

    orders = write_orders(tmp_path / "orders.csv", 200)
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    _spawn(_run_worker, [(pg_store.url, str(tmp_path), inputs) for _ in range(3)])
    posted = Counter(e["subject"] for e in audit.entries(pg_store, action="order.posted"))
    assert len(posted) == 200
    assert audit.verify(pg_store).ok
    assert max(posted.values()) == 1, f"{sum(posted.values())} postings for 200 items"


def _reprocess_worker(url: str, home: str, gate: Any, out: Any) -> None:
    try:
        from backoffice.runner import reprocess
        from tests.core.toybot import bot

        store = _child_store(url, home, gate)
        out.put(reprocess(bot, store=store).to_dict())
    except Exception as exc:
        out.put(("error", repr(exc)))


def test_reprocess_run_twice_at_once_closes_each_item_once(pg_store, tmp_path):
    from backoffice.runner import run_bot
    from tests.core.toybot import bot, write_orders

    add_user(pg_store, "associate", "associate")
    q = Queue(pg_store)
    # a real toy run queues 40 orders above the limit: reprocessing reads that run's inputs
    orders = write_orders(tmp_path / "orders.csv", 40, big=range(1, 41))
    run_bot(bot, {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}, store=pg_store)
    ids = [it.id for it in q.list(status="queued", bot="toy", limit=None, sort="id")]
    assert len(ids) == 40
    for i in ids:
        q.claim(i, "associate")
        q.resolve(i, "associate", "reject", "order cancelled")
    _spawn(_reprocess_worker, [(pg_store.url, str(tmp_path)) for _ in range(3)])
    closed = Counter(e["subject"] for e in audit.entries(pg_store, action="item.closed"))
    assert len(closed) == len(ids)
    assert audit.verify(pg_store).ok
    assert max(closed.values()) == 1, f"{sum(closed.values())} closings for {len(ids)} items"
