"""``store.executemany``: a batch write (registering a batch's items, recording their outcomes)
stores exactly what ``conn.execute(stmt, rows)`` stores, byte for byte in the SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, insert, update

from backoffice import lifecycle
from backoffice.lifecycle import Event
from backoffice.schema import audit, items
from backoffice.settings import reset_settings
from backoffice.store import Store, executemany

NOW = datetime(2026, 12, 3, 19, 0, 0, 123456, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)
ODD = ["plain", 'quote " \\', "é ü € 漢字 \U0001f600", ""]


def _rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "bot": "toy",
            "key": f"k{i}",
            "run_id": "r1",
            "kind": "business" if i % 3 else "system",
            "payload": {"kind": "employee", "text": ODD[i % len(ODD)], "n": i, "x": [1, None, "a"]},
            "source": {"file": "/tmp/r.xlsx", "locator": f"row {i}"},
            "amount": str(Decimal("10.50") * i) if i % 4 else None,
            "personal": bool(i % 2),
            "currency": "EUR",
            "fx_rate": None,
            "violations": [] if i % 5 else [{"code": "X", "message": ODD[i % len(ODD)]}],
            "codes": "",
            "evidence": [],
            "priority": 1 + i % 5,
            "approver_only": i % 7 == 0,
            "attempts": 0,
            "escalations": 0,
            # shared objects (a batch's own times) and distinct ones, in other zones too
            "lease_until": LATER if i % 2 else LATER.astimezone(UTC) + timedelta(seconds=i),
            "created_at": NOW if i % 3 else NOW.astimezone(datetime.now().astimezone().tzinfo),
            "updated_at": NOW,
            "status": "new",
        }
        for i in range(n)
    ]


def _dump(store: Store, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.url.split("///", 1)[1]) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.fixture
def two_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_HOME", str(tmp_path / "home"))
    reset_settings()
    yield Store.open(f"sqlite:///{tmp_path / 'a.db'}"), Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    Store.close_all()
    reset_settings()


def test_insert_and_update_store_what_execute_stores(two_stores):
    plain, fast = two_stores
    ins = insert(items)
    upd = (
        update(items)
        .where(items.c.id == bindparam("p_id"), items.c.status == "new")
        .values(
            result=bindparam("p_result"),
            payload=bindparam("p_payload"),
            closed_at=NOW,
            updated_at=bindparam("p_at"),
            ruleset_version="toy@1",
            lease_until=None,
        )
    )
    changes = [
        {
            "p_id": i + 1,
            "p_result": {"ok": ODD[i % len(ODD)]},
            "p_payload": [i],
            "p_at": NOW if i % 2 else LATER,
        }
        for i in range(0, 37, 2)
    ]
    with plain.write() as conn:
        conn.execute(ins, _rows(37))
        conn.execute(upd, changes)
    with fast.write() as conn:
        executemany(conn, ins, _rows(37))
        executemany(conn, upd, changes)
    assert _dump(fast, "items") == _dump(plain, "items")
    assert len(_dump(fast, "items")) == 37


def test_lifecycle_batches_store_what_execute_stores(two_stores):
    plain, fast = two_stores
    rows = [{k: v for k, v in r.items() if k != "status"} for r in _rows(20)]
    with plain.write() as conn:
        conn.execute(insert(items), _rows(20))
        conn.execute(insert(items).prefix_with("OR IGNORE"), _rows(3))  # already known: left alone
    with fast.write() as conn:
        lifecycle.register(conn, rows)
        lifecycle.register(conn, rows[:3])
    assert _dump(fast, "items") == _dump(plain, "items")
    done = [{"p_id": i, "p_result": {"i": i}} for i in range(1, 21, 3)]
    values = {"result": bindparam("p_result"), "closed_at": NOW, "updated_at": NOW}
    finish = update(items).where(items.c.status == "new", items.c.id == bindparam("p_id"))
    with plain.write() as conn:
        conn.execute(finish.values(status="done", **values), done)
    with fast.write() as conn:
        lifecycle.apply_rows(conn, Event.FINISH, done, values=values)
        lifecycle.apply_rows(conn, Event.FINISH, done, values=values)  # done already: untouched
    assert _dump(fast, "items") == _dump(plain, "items")
    assert sum(1 for r in _dump(fast, "items") if r[4] == "done") == len(done)


def test_what_it_does_not_cover_goes_through_execute(two_stores):
    _, fast = two_stores
    row = {
        "seq": 1,
        "at": "t",
        "actor": "a",
        "action": "x",
        "data": "{}",
        "evidence": "[]",
        "prev_hash": "0",
        "hash": "h",
    }
    with fast.write() as conn:  # columns left to their defaults / NULL, one row, rows of other keys
        executemany(conn, insert(audit), [row])
        executemany(conn, insert(audit), [{**row, "seq": 2}, {**row, "seq": 3, "role": "bot"}])
    assert [r[0] for r in _dump(fast, "audit")] == [1, 2, 3]
    with pytest.raises(Exception, match="p_id"), fast.write() as conn:  # SQLAlchemy's own error
        executemany(conn, update(items).where(items.c.id == bindparam("p_id")).values(tier="x"), [{}, {}])
