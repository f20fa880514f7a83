"""Assignment, postponement, saved views, "awaiting my approval", export and QA sampling (issue 13)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from backoffice import audit
from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.items import Item, SourceRef
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.queue.approvals import awaiting
from backoffice.queue.assignment import assign, auto_assign, open_work
from backoffice.queue.export import COLUMNS, export_view
from backoffice.queue.postpone import parse_until, postpone, resume
from backoffice.queue.sampling import accuracy, draw, get_sample, review
from backoffice.queue.saved_views import delete_view, list_views, save_view
from backoffice.rules import Violation
from backoffice.schema import items
from backoffice.store import Store, utcnow
from backoffice.testing import queue_items
from tests.core.toybot import RULES
from tests.core.toybot import bot as toy_bot

pytestmark = pytest.mark.usefixtures("bo_users")


def _actions(store: Store, action: str) -> list[dict]:
    return [e for e in audit.entries(store) if e["action"] == action]


# -- assignment ---------------------------------------------------------------------------------
def test_team_lead_assigns_audited_and_others_are_refused(bo_store: Store) -> None:
    (i,) = queue_items(bo_store, 1)
    it = assign(bo_store, i, "team_lead", "associate")
    assert it.row["assigned_to"] == "associate"
    (e,) = _actions(bo_store, "item.assigned")
    assert e["actor"] == "team_lead" and e["data"] == {"from": None, "to": "associate"}
    with pytest.raises(PermissionDenied):
        assign(bo_store, i, "associate", "associate2")
    denied = _actions(bo_store, "permission.denied")
    assert denied[-1]["actor"] == "associate" and denied[-1]["data"]["attempted"] == "assign"
    with pytest.raises(InputError, match="does not work queue items"):
        assign(bo_store, i, "team_lead", "approver")
    with pytest.raises(InputError, match="no active user"):
        assign(bo_store, i, "team_lead", "nobody")
    assert assign(bo_store, i, "team_lead", None).row["assigned_to"] is None


def test_claim_next_gives_my_assigned_items_first_and_never_anothers(bo_store: Store) -> None:
    a, b, c = queue_items(bo_store, 3)
    q = Queue(bo_store)
    assign(bo_store, a, "team_lead", "associate2")
    assign(bo_store, c, "team_lead", "associate")
    first = q.claim_next("associate")
    assert first is not None and first.id == c
    second = q.claim_next("associate")
    assert second is not None and second.id == b
    assert q.claim_next("associate") is None  # a is associate2's
    got = q.claim_next("associate2")
    assert got is not None and got.id == a


def test_auto_assign_spreads_by_least_open_work(bo_store: Store) -> None:
    ids = queue_items(bo_store, 5, codes=("TOY-LIMIT",), ruleset=RULES)
    Queue(bo_store).claim(ids[0], "associate")  # associate starts with one open item
    result = auto_assign(bo_store, "team_lead")
    got = dict(result.assigned)
    assert ids[0] not in got  # claimed: not open
    counts = open_work(bo_store)
    assert counts["associate"] + counts["associate2"] == 5
    assert abs(counts["associate"] - counts["associate2"]) <= 1
    assert sorted(got) == sorted(ids[1:])
    assert len(_actions(bo_store, "item.assigned")) == 4
    assert all(e["data"]["auto"] for e in _actions(bo_store, "item.assigned"))
    assert auto_assign(bo_store, "team_lead").assigned == []  # nothing left unassigned
    with pytest.raises(PermissionDenied):
        auto_assign(bo_store, "associate")


# -- postponement -------------------------------------------------------------------------------
def test_postpone_hides_pauses_sla_and_returns_by_itself(bo_store: Store) -> None:
    a, b = queue_items(bo_store, 2)
    q = Queue(bo_store)
    due = q.get(a).row["due_at"]
    until = utcnow() + timedelta(days=2)
    it = postpone(bo_store, a, "associate", until, "vendor asked for a week")
    assert it.row["postponed_until"] == until
    assert it.row["due_at"] - due == pytest.approx(timedelta(days=2), abs=timedelta(seconds=5))
    assert [x.id for x in q.list()] == [b]
    assert [x.id for x in q.list(postponed=True)] == [a]
    assert q.count() == 1
    nxt = q.claim_next("associate")
    assert nxt is not None and nxt.id == b  # the postponed item is not handed out
    (e,) = _actions(bo_store, "item.postponed")
    assert (
        e["data"]["reason"] == "vendor asked for a week" and e["data"]["due_before"] != e["data"]["due_after"]
    )
    # the date passes: the item is back without any job running
    with bo_store.write() as conn:
        conn.execute(
            update(items).where(items.c.id == a).values(postponed_until=utcnow() - timedelta(seconds=1))
        )
    assert a in [x.id for x in q.list()]


def test_postpone_rules(bo_store: Store) -> None:
    a, _b = queue_items(bo_store, 2)
    q = Queue(bo_store)
    with pytest.raises(InputError, match="reason"):
        postpone(bo_store, a, "associate", utcnow() + timedelta(days=1), " ")
    with pytest.raises(InputError, match="future"):
        postpone(bo_store, a, "associate", utcnow() - timedelta(days=1), "x")
    with pytest.raises(PermissionDenied):
        postpone(bo_store, a, "qa", utcnow() + timedelta(days=1), "x")
    q.claim(a, "associate")
    with pytest.raises(ConflictError, match="claimed by associate"):
        postpone(bo_store, a, "associate2", utcnow() + timedelta(days=1), "x")
    it = postpone(bo_store, a, "associate", utcnow() + timedelta(days=1), "waiting for the PO")
    assert it.status == "open" and it.assignee is None  # the claim was released
    before = it.row["due_at"]
    back = resume(bo_store, a, "associate", "PO arrived")
    assert back.row["postponed_until"] is None and back.row["due_at"] < before
    assert a in [x.id for x in q.list()]
    assert parse_until("2026-12-24").isoformat() == "2026-12-24T00:00:00+00:00"
    assert parse_until("3d", now=utcnow()) > utcnow() + timedelta(days=2)
    with pytest.raises(InputError, match="--until"):
        parse_until("next tuesday")


def test_claiming_a_postponed_item_ends_its_postponement(bo_store: Store) -> None:
    (a,) = queue_items(bo_store, 1)
    q = Queue(bo_store)
    postpone(bo_store, a, "associate", utcnow() + timedelta(days=3), "waiting for the vendor")
    it = q.claim(a, "associate")  # claimed from its page before the date
    assert q.get(a).row["postponed_until"] is None and q.get(a).row["postpone_reason"] is None
    assert it.assignee == "associate"
    (e,) = _actions(bo_store, "item.claimed")
    assert "postponement_ended" in e["data"]
    q.release(a, "associate")
    assert a in [x.id for x in q.list()]  # back in the default view, not hidden until the old date


# -- saved views and awaiting my approval -------------------------------------------------------
def test_saved_views_are_per_user(bo_store: Store) -> None:
    save_view(bo_store, "associate", "My overdue", {"sla": "overdue", "bot": "toy", "junk": "x"})
    save_view(bo_store, "associate", "My overdue", {"sla": "at_risk"})
    save_view(bo_store, "team_lead", "Leads", {"owner_role": "team_lead"})
    (v,) = list_views(bo_store, "associate")
    assert v.name == "My overdue" and v.query == {"sla": "at_risk"}
    assert [x.name for x in list_views(bo_store, "team_lead")] == ["Leads"]
    with pytest.raises(NotFound):
        delete_view(bo_store, "team_lead", "My overdue")
    delete_view(bo_store, "associate", "My overdue")
    assert list_views(bo_store, "associate") == []
    with pytest.raises(PermissionDenied):
        save_view(bo_store, "admin", "x", {})


def test_awaiting_my_approval(bo_store: Store) -> None:
    small, big = queue_items(bo_store, 1, amount="100.00") + queue_items(
        bo_store, 1, amount="90000.00", start=1
    )
    q = Queue(bo_store)
    for i in (small, big):
        q.claim(i, "associate")
        q.resolve(i, "associate", "approve", "looks right")
    assert [it.id for it in awaiting(bo_store, "team_lead")] == [small]
    assert sorted(it.id for it in awaiting(bo_store, "approver")) == sorted([small, big])
    with pytest.raises(PermissionDenied):
        awaiting(bo_store, "associate")


# -- export ---------------------------------------------------------------------------------------
def test_export_xlsx_and_csv_masked_formula_safe_filtered(bo_store: Store, tmp_path) -> None:
    with use_bots([toy_bot]):
        its = [
            Item(
                bot="toy",
                key=f"x{i}",
                payload={
                    "order_id": f'=HYPERLINK("http://evil","{i}")',
                    "customer": "C",
                    "amount": "5000.00",
                    "iban": "DE89370400440532013000",
                },
                source=SourceRef(file="orders.csv", locator=f"row {i}"),
                amount=Decimal("5000.00"),
                currency="EUR",
                violations=[
                    Violation(
                        code="TOY-LIMIT",
                        message="bank account DE89370400440532013000 @SUM(1)",
                        field="iban",
                        actual="DE89370400440532013000",
                    )
                ],
            )
            for i in range(3)
        ]
        queue_items(bo_store, its, ruleset=RULES)
        queue_items(bo_store, 2, bot="other")
        out = tmp_path / "q.xlsx"
        data, n = export_view(bo_store, "associate", "xlsx", filters={"bot": "toy"}, out=out)
        assert n == 3 and out.read_bytes() == data
        ws = load_workbook(out, read_only=True).active
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        assert tuple(rows[0]) == COLUMNS and len(rows) == 4
        text = " ".join(str(c) for r in rows for c in r)
        assert "DE89370400440532013000" not in text and "3000" in text  # last 4 only
        title = rows[1][COLUMNS.index("title")]
        assert title.startswith("'=HYPERLINK")
        assert not any(str(c).startswith(("=", "@", "+")) for r in rows for c in r if c is not None)
        csv_bytes, n = export_view(bo_store, "associate", "csv", filters={"bot": "other"})
        got = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
        assert got[0] == list(COLUMNS) and len(got) == 3 and {r[1] for r in got[1:]} == {"other"}
    exported = _actions(bo_store, "queue.exported")
    assert [e["data"]["rows"] for e in exported] == [3, 2] and exported[0]["data"]["filters"] == {
        "bot": "toy"
    }
    with pytest.raises(InputError, match="xlsx, csv"):
        export_view(bo_store, "associate", "pdf")
    with pytest.raises(PermissionDenied):
        export_view(bo_store, "admin", "csv")


# -- QA sampling ----------------------------------------------------------------------------------
def _finished(store: Store, n: int) -> list[int]:
    ids = queue_items(store, n)
    q = Queue(store)
    for i in ids[: n // 2]:  # decided by associate, rejected
        q.claim(i, "associate")
        q.resolve(i, "associate", "reject", "duplicate", root_cause="vendor_error")
    with store.write() as conn:  # the rest: straight through (done)
        conn.execute(update(items).where(items.c.id.in_(ids[n // 2 :])).values(status="done"))
    return ids


def test_sample_is_seeded_and_recorded(bo_store: Store) -> None:
    ids = _finished(bo_store, 20)
    s1 = draw(bo_store, "qa", "test", 5, seed=42)
    s2 = draw(bo_store, "qa", "test", 5, seed=42)
    s3 = draw(bo_store, "qa", "test", 5, seed=7)
    picked = [r["item_id"] for r in s1.reviews]
    assert picked == [r["item_id"] for r in s2.reviews] and len(set(picked)) == 5
    assert picked != [r["item_id"] for r in s3.reviews]
    assert set(picked) <= set(ids) and s1.population == 20
    e = _actions(bo_store, "qa.sampled")[0]
    assert e["data"]["seed"] == 42 and e["data"]["items"] == picked and e["data"]["population"] == 20
    workers = {r["worker"] for r in get_sample(bo_store, s1.id).reviews}
    assert workers <= {"associate", "bot:test"}
    with pytest.raises(PermissionDenied):
        draw(bo_store, "associate", "test", 5, seed=1)
    with pytest.raises(NotFound):
        draw(bo_store, "qa", "nobot", 5, seed=1)
    later = utcnow() + timedelta(days=1)
    with pytest.raises(NotFound, match="period"):
        draw(bo_store, "qa", "test", 5, seed=1, date_from=later)


def test_review_fail_reopens_and_accuracy_counts(bo_store: Store) -> None:
    _finished(bo_store, 10)
    s = draw(bo_store, "qa", "test", 10, seed=3)
    first, second, *rest = [r["item_id"] for r in s.reviews]
    with pytest.raises(InputError, match="root cause"):
        review(bo_store, first, "qa", "fail", reason="wrong vendor")
    got = review(bo_store, first, "qa", "fail", reason="wrong vendor", root_cause="master_data")
    assert got["reopened"] and Queue(bo_store).get(first).status == "open"
    assert review(bo_store, second, "qa", "pass")["reopened"] is False
    with pytest.raises(ConflictError, match="final"):
        review(bo_store, second, "qa", "fail", reason="x", root_cause="other")
    with pytest.raises(PermissionDenied):
        review(bo_store, rest[0], "team_lead", "pass")
    for i in rest:
        review(bo_store, i, "qa", "pass")
    acc = accuracy(bo_store)
    (bot_row,) = acc["by_bot"]
    assert bot_row == {"name": "test", "reviewed": 10, "passed": 9, "failed": 1, "accuracy": 90.0}
    assert sum(r["reviewed"] for r in acc["by_worker"]) == 10
    verdicts = _actions(bo_store, "qa.verdict")
    assert len(verdicts) == 10 and verdicts[0]["outcome"] == "fail"
    assert _actions(bo_store, "item.reopened")[0]["subject"] == f"item:{first}"
    with bo_store.read() as conn:
        assert conn.execute(select(items.c.status).where(items.c.id == first)).scalar() == "open"


def test_the_auto_assign_setting_assigns_as_the_system(tmp_path, monkeypatch) -> None:
    from backoffice.queue.assignment import assign_by_setting
    from backoffice.testing import TEST_USERS, open_store
    from backoffice.users import add_user

    store = open_store(tmp_path / "off", monkeypatch)
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    queue_items(store, 2)
    assert assign_by_setting(store) is None  # off by default
    store = open_store(tmp_path / "on", monkeypatch, auto_assign="true")
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    ids = queue_items(store, 2)
    done = assign_by_setting(store)
    assert done is not None and sorted(i for i, _ in done.assigned) == ids
    assert {e["actor"] for e in _actions(store, "item.assigned")} == {"system:assignment"}
