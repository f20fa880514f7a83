from __future__ import annotations

import multiprocessing as mp
from datetime import timedelta
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel
from sqlalchemy import update

from backoffice import audit
from backoffice.cli import main
from backoffice.contract import Bot, Inputs, State
from backoffice.data_classes import DataClass
from backoffice.errors import ConflictError, InputError, PermissionDenied
from backoffice.items import Item, SourceRef
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.schema import items
from backoffice.store import Store, utcnow
from backoffice.testing import open_store, queue_items
from backoffice.users import add_user
from tests.core.toybot import RULES
from tests.core.toybot import bot as toy_bot


@pytest.fixture(autouse=True)
def _toy_installed():
    """The toy bot is installed: its declarations decide what is masked."""
    with use_bots([toy_bot]):
        yield


def _queue(store, n=1, amount="100.00", code="TOY-LIMIT"):
    """``n`` toy orders queued the way the runner queues them (backoffice.testing.queue_items)."""
    q = Queue(store)
    its = [
        Item(
            bot="toy",
            key=f"k{i}",
            payload={
                "order_id": f"O{i}",
                "customer": "C1",
                "amount": amount,
                "iban": "DE89370400440532013000",
            },
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal(amount),
            currency="EUR",
            violations=[
                Violation(
                    code=code, message="amount above limit", field="amount", expected="1000", actual=amount
                )
            ],
        )
        for i in range(n)
    ]
    return q, queue_items(store, its, ruleset=RULES)


def test_queueing_is_idempotent_and_sets_sla(bo_store, bo_users):
    q, ids = _queue(bo_store, 3)
    assert len(ids) == 3
    _, again = _queue(bo_store, 3)
    assert again == []
    it = q.get(ids[0])
    assert it.status == "open" and it.row["owner_role"] == "associate"
    assert it.row["due_at"] - it.row["queued_at"] == timedelta(hours=4)
    d = it.to_dict()
    assert d["payload"]["iban"] == "••••3000"  # masked by default
    assert d["violations"][0]["code"] == "TOY-LIMIT"


def test_lifecycle_claim_correct_reopen(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store)
    q.claim(item_id, "associate")
    with pytest.raises(ConflictError):
        q.claim(item_id, "associate2")
    q.comment(item_id, "associate", "checking with the customer")
    it = q.resolve(
        item_id,
        "associate",
        "correct",
        "typo in amount",
        changes={"amount": "99.00"},
        root_cause="bad_source_data",
    )
    assert (
        it.status == "resolved" and it.row["payload"]["amount"] == "99.00" and it.row["maker"] == "associate"
    )
    with pytest.raises(PermissionDenied):
        q.reopen(item_id, "associate", "no")
    it = q.reopen(item_id, "qa", "sample review found an issue")
    assert it.status == "open" and it.row["decision"] is None
    actions = [e["action"] for e in audit.entries(bo_store, subject=f"item:{item_id}")]
    assert actions == [
        "item.queued",
        "item.claimed",
        "item.commented",
        "item.resolved",
        "permission.denied",
        "item.reopened",
    ]
    assert audit.verify(bo_store).ok


def test_correction_is_validated_by_the_model(bo_store, bo_users):
    from tests.core.toybot import Order

    q, (item_id,) = _queue(bo_store)
    q.claim(item_id, "associate")
    with pytest.raises(InputError) as err:
        q.resolve(item_id, "associate", "correct", "fix", changes={"amount": "lots"}, model=Order)
    assert err.value.field == "amount"
    with pytest.raises(InputError):
        q.resolve(item_id, "associate", "correct", "fix", changes={"nope.deeper": "1"})
    assert q.get(item_id).status == "claimed"  # nothing half-written


def test_lease_expiry_returns_the_item(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store)
    q.claim(item_id, "associate")
    with bo_store.write() as conn:
        conn.execute(
            update(items).where(items.c.id == item_id).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    it = q.get(item_id)
    assert it.status == "open" and it.assignee is None
    assert q.count(status="open") == 1
    q.claim(item_id, "associate2")
    last = audit.entries(bo_store, subject=f"item:{item_id}")[-1]
    assert last["data"]["lease_expired_for"] == "associate"
    with pytest.raises(ConflictError):
        q.resolve(item_id, "associate", "reject", "too late")  # lost the lease


def test_maker_checker(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store, amount="500.00")
    q.claim(item_id, "team_lead")
    it = q.resolve(item_id, "team_lead", "approve", "customer confirmed")
    assert it.status == "pending_approval" and it.row["tier"] == "team_lead"
    with pytest.raises(PermissionDenied, match="maker-checker"):
        q.resolve(item_id, "team_lead", "approve", "me again")
    with pytest.raises(PermissionDenied):
        q.resolve(item_id, "admin", "approve", "admins never approve")
    with pytest.raises(PermissionDenied):
        q.resolve(item_id, "associate", "approve", "associates do not check")
    it = q.resolve(item_id, "approver", "approve", "ok")
    assert it.status == "resolved" and it.row["checker"] == "approver" and it.row["decision"] == "approve"
    denials = audit.entries(bo_store, action="permission.denied")
    assert len(denials) == 3 and all(d["subject"] == f"item:{item_id}" for d in denials)


def test_above_delegated_limit_needs_an_approver(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store, amount="25000.00")
    q.claim(item_id, "associate")
    it = q.resolve(item_id, "associate", "approve", "contract allows it")
    assert it.row["tier"] == "approver"
    with pytest.raises(PermissionDenied, match="delegated limit"):
        q.resolve(item_id, "team_lead", "approve", "fine by me")
    assert q.resolve(item_id, "approver", "approve", "ok").status == "resolved"


def test_approver_only_codes(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store, code="TOY-BLOCKED")
    q.claim(item_id, "associate")
    q.resolve(item_id, "associate", "approve", "unblocked by sales")
    with pytest.raises(PermissionDenied):
        q.resolve(item_id, "team_lead", "approve", "ok")


def test_escalation_and_overdue(bo_store, bo_users):
    q, ids = _queue(bo_store, 3)
    with bo_store.write() as conn:
        conn.execute(
            update(items).where(items.c.id.in_(ids[:2])).values(due_at=utcnow() - timedelta(minutes=1))
        )
    assert q.count(sla="overdue") == 2
    assert sorted(q.escalate_overdue()) == sorted(ids[:2])
    assert q.get(ids[0]).row["tier"] == "team_lead" and q.get(ids[0]).sla_state == "ok"
    assert q.escalate_overdue() == []
    it = q.escalate(ids[2], "associate", "needs a lead")
    assert it.row["tier"] == "team_lead"
    q.escalate(ids[2], "associate", "needs an approver")
    with pytest.raises(ConflictError):
        q.escalate(ids[2], "associate", "no tier left")


def test_stats(bo_store, bo_users):
    q, ids = _queue(bo_store, 4)
    q.claim(ids[0], "associate")
    q.resolve(ids[0], "associate", "reject", "duplicate order")
    st = q.stats()
    assert st["queued"] == 3 and st["by_status"]["resolved"] == 1
    assert st["exceptions_by_code"] == {"TOY-LIMIT": 4}
    assert st["sla_attainment"] == 100.0
    assert st["ageing_buckets"]["<1d"] == 3


def _claim_worker(home: str, item_id: int, user: str, out: mp.Queue) -> None:
    import os

    os.environ["BACKOFFICE_HOME"] = home
    store = Store.open()
    try:
        Queue(store).claim(item_id, user)
        out.put((user, "won"))
    except ConflictError:
        out.put((user, "lost"))


def test_concurrent_claims_from_processes_exactly_one_wins(tmp_path, monkeypatch):
    home = tmp_path / "home"
    store = open_store(home, monkeypatch)
    from backoffice.users import add_user

    for i in range(6):
        add_user(store, f"worker{i}", "associate")
    for round_ in range(3):
        _, (item_id,) = _queue(store, 1) if round_ == 0 else (Queue(store), [_queue_one(store, round_)])
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        procs = [
            ctx.Process(target=_claim_worker, args=(str(home), item_id, f"worker{i}", out)) for i in range(6)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        results = [out.get(timeout=5) for _ in procs]
        assert sum(1 for _, r in results if r == "won") == 1, results
        winner = next(u for u, r in results if r == "won")
        assert Queue(store).get(item_id).assignee == winner
    assert audit.verify(store).ok


def _queue_one(store, i):
    its = [
        Item(
            bot="toy",
            key=f"race{i}",
            payload={"order_id": "x", "customer": "c", "amount": "1"},
            source=SourceRef(file="f"),
            violations=[Violation(code="TOY-LIMIT", message="m")],
        )
    ]
    return queue_items(store, its, ruleset=RULES)[0]


def test_cli_queue_roundtrip_and_permission_exit_code(bo_store, bo_users, capsys):
    import json

    _, (item_id,) = _queue(bo_store)
    assert main(["queue", "list", "--json"]) == 2  # no anonymous read
    assert main(["queue", "list", "--json", "--user", "admin"]) == 3  # admins do not read the queue
    capsys.readouterr()
    assert main(["queue", "list", "--json", "--user", "associate"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"id", "bot", "status", "kind", "priority", "due_at", "assignee", "violations"} <= set(listed[0])
    assert set(listed[0]["violations"][0]) >= {"code", "message", "field", "expected", "actual", "severity"}
    assert main(["queue", "claim", str(item_id), "--user", "compliance"]) == 3
    assert "may not work" in capsys.readouterr().err
    assert main(["queue", "claim", str(item_id), "--user", "ghost"]) == 3
    assert main(["queue", "claim", str(item_id), "--user", "associate"]) == 0
    rc = main(
        [
            "queue",
            "resolve",
            str(item_id),
            "--user",
            "associate",
            "--decision",
            "correct",
            "--reason",
            "fix",
            "--set",
            "amount=12.00",
        ]
    )
    assert rc == 0
    capsys.readouterr()
    assert main(["queue", "show", str(item_id), "--json", "--user", "associate"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "resolved" and shown["payload"]["amount"] == "12.00"
    assert [h["action"] for h in shown["history"]][-1] == "item.resolved"
    (first,) = shown["rounds"]
    assert first["decision"] == "correct" and first["maker"] == "associate"
    assert [v["code"] for v in first["violations"]] == ["TOY-LIMIT"]
    assert main(["queue", "show", str(item_id), "--user", "qa"]) == 0
    assert "round 1" in capsys.readouterr().out
    assert (
        main(
            ["queue", "resolve", str(item_id), "--user", "associate", "--decision", "bogus", "--reason", "x"]
        )
        == 1
    )
    assert main(["queue", "stats", "--json", "--user", "team_lead"]) == 0


def test_claim_next_takes_the_most_urgent_then_expired_leases(bo_store, bo_users):
    q, ids = _queue(bo_store, 3)
    with bo_store.write() as conn:
        conn.execute(update(items).where(items.c.id == ids[2]).values(priority=1))
    assert q.claim_next("associate").row["id"] == ids[2]
    assert q.claim_next("associate").row["id"] == ids[0]
    assert q.claim_next("associate2").row["id"] == ids[1]
    assert q.claim_next("associate2") is None
    with bo_store.write() as conn:
        conn.execute(
            update(items).where(items.c.id == ids[0]).values(lease_until=utcnow() - timedelta(seconds=1))
        )
    it = q.claim_next("associate2")
    assert it.row["id"] == ids[0] and it.assignee == "associate2"


class _Pay(BaseModel):
    employee_id: str
    net_pay: Annotated[Decimal, DataClass.PAY]


class _PayBot(Bot[Inputs, State[Inputs]]):
    name = "pay-test"
    Inputs = Inputs
    model = _Pay
    ruleset = RULES
    amount_class = DataClass.PAY


def test_an_employees_pay_is_masked_in_listings(bo_store, bo_users):
    item = Item(
        bot="pay-test",
        key="emp-1",
        payload={"employee_id": "E1", "net_pay": "4321.98"},
        source=SourceRef(file="register.xlsx", locator="row 2"),
        amount=Decimal("4321.98"),
        violations=[Violation(code="TOY-LIMIT", message="m")],
    )
    q = Queue(bo_store)
    with use_bots([_PayBot()]):
        (item_id,) = queue_items(bo_store, [item], ruleset=RULES, amount_class=DataClass.PAY)
        shown = q.get(item_id).to_dict()
        assert shown["amount"] != "4321.98" and "4321" not in str(shown["payload"])
        assert q.get(item_id).to_dict(unmask=True)["amount"] == "4321.98"


# -- issue 13: the tier is a floor; every round's violations are kept -------------------------------
def test_escalation_is_a_floor_until_the_item_is_decided(bo_store, bo_users):
    q, (item_id, other) = _queue(bo_store, 2)
    q.escalate(item_id, "associate", "needs a lead")
    q.escalate(item_id, "associate", "needs the approver")
    assert q.get(item_id).row["tier"] == "approver"
    with pytest.raises(PermissionDenied, match="approver tier"):
        q.claim(item_id, "associate")
    # claim-next skips items escalated above the claimer's role
    assert q.claim_next("associate").row["id"] == other
    assert main(["queue", "claim", str(item_id), "--user", "associate"]) == 3  # the CLI: exit 3
    q.claim(item_id, "team_lead")  # the approver tier is worked by team leads, checked by approvers
    it = q.resolve(item_id, "team_lead", "approve", "fine")
    assert it.status == "pending_approval" and it.row["tier"] == "approver"  # not back to team lead
    add_user(bo_store, "lead2", "team_lead")
    with pytest.raises(PermissionDenied, match="approver tier"):
        q.resolve(item_id, "lead2", "approve", "within my limit")
    assert q.resolve(item_id, "approver", "approve", "ok").status == "resolved"
    denied = [
        e for e in audit.entries(bo_store, subject=f"item:{item_id}") if e["action"] == "permission.denied"
    ]
    assert len(denied) == 3


def test_a_proposal_below_the_tier_is_refused_and_audited(bo_store, bo_users):
    q, (item_id,) = _queue(bo_store)
    q.claim(item_id, "associate")
    q.escalate(item_id, "associate", "needs a lead")
    with pytest.raises(PermissionDenied, match="team lead tier"):
        q.resolve(item_id, "associate", "approve", "fine")
    assert q.get(item_id).status == "claimed"
    assert audit.entries(bo_store, subject=f"item:{item_id}")[-1]["action"] == "permission.denied"


def test_every_round_keeps_its_violations_and_times(bo_store, bo_users):
    from backoffice.queue.rounds import history

    q, (item_id,) = _queue(bo_store)
    q.claim(item_id, "associate")
    q.resolve(item_id, "associate", "reject", "duplicate order")
    q.reopen(item_id, "qa", "sample review")
    rounds = history(bo_store, item_id)
    assert [r["round"] for r in rounds] == [1, 2]
    assert [v["code"] for v in rounds[0]["violations"]] == ["TOY-LIMIT"]
    assert rounds[0]["decision"] == "reject" and rounds[0]["maker"] == "associate"
    assert rounds[0]["first_claimed_at"] is not None and rounds[1]["opened_by"] == "qa"
    st = q.stats()
    assert st["exceptions_by_code"] == {"TOY-LIMIT": 1}
    assert st["avg_handling_seconds"] is not None and st["avg_waiting_seconds"] is not None
    assert st["avg_handling_seconds"] < 60


def test_who_works_an_item_sees_its_figures():
    from backoffice.queue.routing import works_on

    open_ = {"status": "open", "tier": "associate", "assignee": None, "maker": None}
    assert works_on("a", "associate", open_) and works_on("t", "team_lead", open_)
    assert not works_on("p", "approver", open_) and not works_on("q", "qa_analyst", open_)
    lead = {**open_, "tier": "team_lead"}
    assert not works_on("a", "associate", lead) and works_on("t", "team_lead", lead)
    top = {**open_, "tier": "approver"}
    assert works_on("p", "approver", top) and works_on("t", "team_lead", top)
    pending = {"status": "pending_approval", "tier": "team_lead", "assignee": None, "maker": "a"}
    assert works_on("a", "associate", pending)  # its maker
    assert works_on("t", "team_lead", pending) and works_on("p", "approver", pending)  # checkers
    assert not works_on("a2", "associate", pending) and not works_on("c", "compliance", pending)
    claimed = {"status": "claimed", "tier": "team_lead", "assignee": "a", "maker": None}
    assert works_on("a", "associate", claimed)  # its assignee
    assert not works_on("x", "associate", {**open_, "status": "done"})  # decided: lists and QA mask
