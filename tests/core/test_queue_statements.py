"""The hot path of the queue (claim next, decide) in few statements, with every control kept.

Claim next and a maker's decision are each one write transaction whose reads are folded into
the statements that write (the claim is one ``UPDATE ... WHERE id = (candidate) RETURNING``, the
decision reads item, user and past checks in one SELECT; the audit append reads head and anchor
in one). These tests pin the statement budget (a count, not a time) and check that what the
folded reads replaced still refuses what it refused: unknown, inactive or unfit users, a
checker deciding as maker, a changed anchor.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

import pytest
from sqlalchemy import event, update

from backoffice import audit, jsonutil
from backoffice.audit import AuditEntry
from backoffice.errors import ConfigError, IntegrityError, PermissionDenied
from backoffice.items import Item, SourceRef
from backoffice.jsonutil import canonical
from backoffice.queue import Queue, rounds
from backoffice.rules import Violation
from backoffice.schema import audit as audit_table
from backoffice.schema import items
from backoffice.testing import queue_items
from backoffice.users import deactivate_user


def _queue(store, n=3):
    its = [
        Item(
            bot="toy",
            key=f"k{i}",
            payload={"order_id": f"O{i}", "amount": "100.00"},
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal("100.00"),
            currency="EUR",
            violations=[Violation(code="TOY-LIMIT", message="over", field="amount")],
        )
        for i in range(n)
    ]
    return Queue(store), queue_items(store, its)


class _Count:
    def __init__(self, store):
        self.store, self.sql, self.tx = store, [], 0

    def __enter__(self):
        event.listen(self.store.engine, "before_cursor_execute", self._sql)
        event.listen(self.store.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.store.engine, "before_cursor_execute", self._sql)
        event.remove(self.store.engine, "commit", self._commit)

    def _sql(self, conn, cursor, statement, params, context, executemany):
        if not statement.startswith("BEGIN"):
            self.sql.append(statement)

    def _commit(self, conn):
        self.tx += 1


def _denials(store, actor):
    with store.read() as conn:
        return [
            json.loads(r.data)["attempted"]
            for r in conn.execute(
                audit_table.select().where(
                    audit_table.c.actor == actor, audit_table.c.action == "permission.denied"
                )
            )
        ]


def test_claim_next_and_reject_take_two_transactions_and_twelve_statements(bo_store, bo_users):
    q, _ = _queue(bo_store)
    q.claim_next("associate")  # warm: statements built once per process
    with _Count(bo_store) as n:
        it = q.claim_next("associate")
        q.resolve(it.id, "associate", "reject", "not ours")
    assert n.tx == 2, n.sql
    # claim: user+assigned, UPDATE..RETURNING, round, head+anchor, audit insert, head update;
    # reject: item+user+past checks, UPDATE, round, head+anchor, audit insert, head update
    assert len(n.sql) == 12, n.sql
    got = q.get(it.id)
    assert got.status == "resolved" and got.decision == "reject" and got.maker == "associate"
    assert audit.verify(bo_store).ok


def test_on_postgresql_two_transactions_and_six_statements_and_a_sound_chain(pg_url):
    from backoffice.store import Store
    from backoffice.users import add_user

    store = Store.open()
    add_user(store, "associate", "associate")
    q, _ = _queue(store, 3)
    q.claim_next("associate")
    with _Count(store) as n:
        it = q.claim_next("associate")
        q.resolve(it.id, "associate", "reject", "not ours")
    assert n.tx == 2, n.sql
    # as on SQLite, but each audit append (head read and lock, insert, head update) is one
    # statement, and the round's stamp rides in the claim's and the decision's statement
    assert len(n.sql) == 6, n.sql
    assert any("FOR UPDATE SKIP LOCKED" in sql for sql in n.sql)
    assert q.get(it.id).decision == "reject"
    r = audit.verify(store)
    assert r.ok and r.head_seq == r.checked
    # the rounds stamped in the claim's and the decision's statements
    (done,) = rounds.history(store, it.id)
    assert done["first_claimed_at"] is not None and done["decided_at"] >= done["first_claimed_at"]
    assert (done["decision"], done["maker"]) == ("reject", "associate")
    first = q.claim_next("associate")
    q.resolve(first.id, "associate", "approve", "fine")  # a proposal: the maker only
    (proposed,) = rounds.history(store, first.id)
    assert proposed["maker"] == "associate" and proposed["decided_at"] is None
    assert proposed["first_claimed_at"] is not None


def test_claim_next_returns_the_row_as_stored(bo_store, bo_users):
    q, _ = _queue(bo_store, 2)
    it = q.claim_next("associate")
    assert it is not None
    assert it.row == q.get(it.id).row
    assert it.status == "claimed" and it.assignee == "associate"


def test_claim_next_hands_the_items_assigned_to_me_first_in_one_transaction(bo_store, bo_users):
    q, ids = _queue(bo_store, 3)
    with bo_store.write() as conn:  # the least urgent one is assigned to associate2
        conn.execute(update(items).where(items.c.id == ids[-1]).values(assigned_to="associate2", priority=9))
    with _Count(bo_store) as n:
        assert q.claim_next("associate2").id == ids[-1]
    assert n.tx == 1
    assert q.claim_next("associate").id != ids[-1]


def test_an_inactive_or_unknown_user_is_refused_and_audited(bo_store, bo_users):
    q, _ = _queue(bo_store, 2)
    it = q.claim_next("associate")
    deactivate_user(bo_store, "associate", by="admin")
    with pytest.raises(PermissionDenied):
        q.resolve(it.id, "associate", "reject", "gone")
    with pytest.raises(PermissionDenied):
        q.claim_next("associate")
    with pytest.raises(PermissionDenied):
        q.claim_next("nobody")
    assert _denials(bo_store, "associate") == ["read_queue", "work"]
    assert _denials(bo_store, "nobody") == ["work"]
    assert q.get(it.id).status == "claimed"


def test_roles_that_may_not_work_are_refused(bo_store, bo_users):
    q, ids = _queue(bo_store, 1)
    with pytest.raises(PermissionDenied):
        q.claim_next("approver")
    with pytest.raises(PermissionDenied):
        q.resolve(ids[0], "qa", "reject", "not mine")
    assert q.get(ids[0]).status == "open"


def test_a_checker_of_the_item_is_refused_as_its_maker_after_a_reopen(bo_store, bo_users):
    q, ids = _queue(bo_store, 1)
    q.claim(ids[0], "associate")
    q.resolve(ids[0], "associate", "approve", "fine")
    q.resolve(ids[0], "team_lead", "approve", "checked")
    q.reopen(ids[0], "qa", "sample")
    q.claim(ids[0], "team_lead")
    with pytest.raises(PermissionDenied, match="maker-checker"):
        q.resolve(ids[0], "team_lead", "reject", "now as maker")
    assert q.get(ids[0]).status == "claimed"


def test_a_changed_anchor_is_refused_after_a_write_that_checked_it(bo_store, bo_users):
    audit.record(bo_store, AuditEntry(actor="cli", action="x.y"))  # anchor checked (and remembered)
    db = sqlite3.connect(bo_store.url.split("///", 1)[1])
    with db:
        db.execute("update audit_anchor set key_fp = 'f' || substr(key_fp, 2)")
    db.close()
    with pytest.raises((ConfigError, IntegrityError)):
        audit.record(bo_store, AuditEntry(actor="cli", action="x.z"))


class _Colour(Enum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, 2.5, None, True], "é": "ü€"},
        {"amount": Decimal("12.30"), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"ids": {3, 1, 2}, "pair": (1, "x"), "uuid": UUID(int=7), "colour": _Colour.RED},
        [],
        "plain",
    ],
)
def test_canonical_with_its_encoder_built_once_gives_what_json_dumps_gives(value):
    # the audit chain hashes canonical(): its bytes must stay those of json.dumps with these options
    expected = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=jsonutil._default
    )
    assert canonical(value) == expected
