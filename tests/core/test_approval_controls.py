"""Approval controls (issue 16): the delegated limit in the company currency, four-eyes role
changes, reserved user names, maker != checker across reopens, and corrections that need a checker."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import Field
from sqlalchemy import update

from backoffice import audit
from backoffice.access_review import access_review
from backoffice.cli import main
from backoffice.contract import Bot, Inputs, State
from backoffice.errors import ConflictError, InputError, PermissionDenied
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import RuleSet, Violation, rule
from backoffice.runner import run_bot
from backoffice.schema import audit as audit_table
from backoffice.schema import items
from backoffice.schema import users as users_table
from backoffice.store import utcnow
from backoffice.testing import TEST_USERS, open_store, queue_items
from backoffice.users import (
    add_user,
    cancel_role,
    confirm_role,
    get_user,
    pending_role_change,
    set_role,
)


# -- a bot whose run inputs carry rates to the company currency ----------------------------------
class FxInputs(Inputs):
    fx: dict[str, Decimal] = Field(default_factory=dict, description="CUR=RATE to the company currency.")
    amounts: list[str] = Field(description="Items to queue, each 'CUR AMOUNT'.")

    def rates_to_company(self) -> Mapping[str, Decimal]:
        return self.fx


class FxBot(Bot[FxInputs, State[FxInputs]]):
    name = "fxbot"
    Inputs = FxInputs
    model = FxInputs  # never validated: every item is queued with its violation
    ruleset = RuleSet("fxbot", [])

    def read(self, state: State[FxInputs]) -> Iterator[Item]:
        for i, text in enumerate(state.inputs.amounts):
            currency, amount = text.split()
            yield Item(
                bot=self.name,
                key=f"fx{i}",
                payload={"amount": amount, "currency": currency},
                source=SourceRef(file="fx.csv", locator=f"row {i + 2}"),
                amount=Decimal(amount),
                currency=currency,
                violations=[Violation(code="FX-CHECK", message="needs a look", field="amount")],
            )


@pytest.fixture
def limited(tmp_path, monkeypatch):
    """A store whose delegated limit is EUR 2,500, with one user per role."""
    store = open_store(tmp_path / "home", monkeypatch, delegated_limit="2500.00", company_currency="EUR")
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    yield store


def _queued_by_fxbot(store, fx: dict[str, str], amounts: list[str]) -> list[int]:
    run_bot(FxBot(), {"fx": fx, "amounts": amounts}, store=store)
    return [it.row["id"] for it in Queue(store).list(bot="fxbot", sort="id")]


def _approve_as_maker(q: Queue, item_id: int, maker: str = "associate") -> Any:
    q.claim(item_id, maker)
    return q.resolve(item_id, maker, "approve", "looks right")


def test_delegated_limit_in_company_currency_with_the_runs_rates(limited):
    q = Queue(limited)
    gbp_over, gbp_under, eur_under, usd_norate = _queued_by_fxbot(
        limited, {"GBP": "1.17"}, ["GBP 2497.01", "GBP 2000.00", "EUR 2400.00", "USD 100.00"]
    )
    assert q.get(gbp_over).row["fx_rate"] == "1.17"
    assert q.get(eur_under).row["fx_rate"] == "1"
    assert q.get(usd_norate).row["fx_rate"] is None

    # GBP 2,497.01 x 1.17 = EUR 2,921.50: above a team lead's EUR 2,500
    assert _approve_as_maker(q, gbp_over).row["tier"] == "approver"
    with pytest.raises(PermissionDenied, match=r"2921\.50 EUR is above the delegated limit"):
        q.resolve(gbp_over, "team_lead", "approve", "within my limit?")
    assert q.resolve(gbp_over, "approver", "approve", "ok").status == "resolved"

    for within in (gbp_under, eur_under):  # GBP 2,000 = EUR 2,340; EUR 2,400
        assert _approve_as_maker(q, within).row["tier"] == "team_lead"
        assert q.resolve(within, "team_lead", "approve", "ok").status == "resolved"

    # no USD rate in the run: only an approver may check it, however small
    assert _approve_as_maker(q, usd_norate).row["tier"] == "approver"
    with pytest.raises(PermissionDenied, match="no rate from USD to EUR"):
        q.resolve(usd_norate, "team_lead", "approve", "small")


def test_item_in_a_foreign_currency_without_any_rate_goes_to_the_approver(limited):
    """The probe's case: a GBP 2,497.01 item queued by a run without rates passed EUR 2,500."""
    q = Queue(limited)
    gbp = Item(
        bot="test",
        key="gbp",
        payload={"ref": "R1"},
        source=SourceRef(file="test.csv"),
        amount=Decimal("2497.01"),
        currency="GBP",
        violations=[Violation(code="TEST-EXCEPTION", message="look", field="amount")],
    )
    (item_id,) = queue_items(limited, [gbp])
    _approve_as_maker(q, item_id)
    with pytest.raises(PermissionDenied, match="an approver must check it"):
        q.resolve(item_id, "team_lead", "approve", "2497 < 2500")
    assert q.resolve(item_id, "approver", "approve", "ok").row["checker"] == "approver"


# -- role changes are four-eyes -------------------------------------------------------------------
def test_role_change_needs_a_second_admin(bo_store, bo_users):
    add_user(bo_store, "admin2", "admin")
    change = set_role(bo_store, "admin", "approver", by="admin")
    assert change is not None and change.before == "admin" and change.role == "approver"
    assert get_user(bo_store, "admin").role == "admin"  # nothing changed yet
    assert pending_role_change(bo_store, "admin") == change
    with pytest.raises(ConflictError, match="waiting for a second admin"):
        set_role(bo_store, "admin", "team_lead", by="admin2")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        confirm_role(bo_store, "admin", "approver", by="admin")  # the requester
    with pytest.raises(PermissionDenied):
        confirm_role(bo_store, "admin", "approver", by="team_lead")  # not an admin
    with pytest.raises(ConflictError, match="not team_lead"):
        confirm_role(bo_store, "admin", "team_lead", by="admin2")  # not what is pending
    confirm_role(bo_store, "admin", "approver", by="admin2")
    assert get_user(bo_store, "admin").role == "approver"
    assert pending_role_change(bo_store, "admin") is None
    (entry,) = audit.entries(bo_store, action="user.role_changed")
    assert entry["actor"] == "admin2"
    assert entry["data"]["requested_by"] == "admin" and entry["data"]["confirmed_by"] == "admin2"
    assert entry["data"]["before"] == {"role": "admin"} and entry["data"]["after"] == {"role": "approver"}
    assert audit.verify(bo_store).ok


def test_role_change_by_a_single_admin_stays_pending(bo_store, bo_users):
    set_role(bo_store, "associate", "approver", by="admin")
    with pytest.raises(PermissionDenied, match="four-eyes"):
        confirm_role(bo_store, "associate", "approver", by="admin")
    assert get_user(bo_store, "associate").role == "associate"
    add_user(bo_store, "admin2", "admin")
    set_role(bo_store, "admin2", "approver", by="admin")
    with pytest.raises(PermissionDenied, match="its own role"):  # nor the user whose role changes
        confirm_role(bo_store, "admin2", "approver", by="admin2")
    cancel_role(bo_store, "admin2", by="admin", reason="no")
    assert pending_role_change(bo_store, "admin2") is None
    with pytest.raises(ConflictError, match="no role change"):
        confirm_role(bo_store, "admin2", "approver", by="admin")


def test_a_stale_role_change_request_cannot_be_confirmed(bo_store, bo_users):
    add_user(bo_store, "admin2", "admin")
    set_role(bo_store, "associate", "approver", by="admin")
    hours = bo_store.settings.role_change_hours
    request = audit.entries(bo_store, action="user.role_change_requested")[-1]
    past = (datetime.fromisoformat(request["at"]) - timedelta(hours=hours + 1)).isoformat()
    with bo_store.write() as conn:  # back-date the request (the chain is not verified here)
        conn.execute(update(audit_table).where(audit_table.c.seq == request["seq"]).values(at=past))
    with pytest.raises(ConflictError, match="request it again"):
        confirm_role(bo_store, "associate", "approver", by="admin2")


def test_cli_set_role_then_confirm_role(bo_store, capsys):
    assert main(["users", "add", "root", "--role", "admin"]) == 0
    assert main(["users", "add", "root2", "--role", "admin", "--by", "root"]) == 0
    assert main(["users", "add", "amy", "--role", "associate", "--by", "root"]) == 0
    capsys.readouterr()
    assert main(["users", "set-role", "root", "--role", "approver", "--by", "root"]) == 0
    assert "confirm-role root --role approver" in capsys.readouterr().out
    assert main(["users", "list", "--json", "-u", "root2"]) == 0
    listed = {u["name"]: u for u in json.loads(capsys.readouterr().out)}
    assert listed["root"]["role"] == "admin"
    assert listed["root"]["pending_role_change"]["role"] == "approver"
    assert main(["users", "confirm-role", "root", "--role", "approver", "--by", "root"]) == 3
    assert get_user(bo_store, "root").role == "admin"
    assert main(["users", "confirm-role", "root", "--role", "approver", "--by", "root2"]) == 0
    assert get_user(bo_store, "root").role == "approver"
    assert main(["users", "set-role", "amy", "--role", "team_lead", "--by", "root2"]) == 0
    assert main(["users", "cancel-role", "amy", "--by", "root2", "--reason", "typo"]) == 0
    assert get_user(bo_store, "amy").role == "associate"
    assert [e["action"] for e in audit.entries(bo_store, subject="user:amy")][-2:] == [
        "user.role_change_requested",
        "user.role_change_cancelled",
    ]


def test_bootstrap_role_change_without_any_admin_applies_at_once(bo_store):
    add_user(bo_store, "ann", "associate")
    assert set_role(bo_store, "ann", "team_lead", by="bootstrap") is None
    assert get_user(bo_store, "ann").role == "team_lead"
    assert audit.entries(bo_store, action="user.role_changed")[-1]["data"]["bootstrap"] is True


@pytest.mark.parametrize(
    "name",
    [
        "bot:invoice-matching",
        "BOT:x",
        "system",
        "System",
        "system:escalation",
        "cli",
        "bootstrap",
        "a/b",
        "x:y",
    ],
)
def test_names_of_bots_and_system_actors_are_refused(bo_store, name):
    with pytest.raises(InputError, match="reserved"):
        add_user(bo_store, name, "approver")


def test_cli_refuses_a_bot_name(bo_store, capsys):
    assert main(["users", "add", "bot:invoice-matching", "--role", "approver"]) == 1
    assert "reserved" in capsys.readouterr().err


def test_ordinary_names_are_fine(bo_store):
    for name in ("alice", "bob.smith", "carol-1", "robot", "ystem"):
        add_user(bo_store, name, "associate")


# -- the access review flags approvals by users whose role changed ----------------------------------
def test_access_review_flags_approval_after_a_role_change(bo_store, bo_users):
    add_user(bo_store, "admin2", "admin")
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1)
    set_role(bo_store, "admin", "approver", by="admin2")
    # admin2 requested it; admin may not confirm its own elevation: a third admin does
    add_user(bo_store, "admin3", "admin")
    confirm_role(bo_store, "admin", "approver", by="admin3")
    _approve_as_maker(q, item_id)
    assert q.resolve(item_id, "admin", "approve", "fine").status == "resolved"
    set_role(bo_store, "admin", "admin", by="admin2")
    confirm_role(bo_store, "admin", "admin", by="admin3")

    report = access_review(bo_store)
    flagged = [c for c in report["conflicts"] if c["code"] == "SOD-ROLE-CHANGE-APPROVAL"]
    assert len(flagged) == 1 and flagged[0]["user"] == "admin"
    assert flagged[0]["subject"] == f"item:{item_id}"
    assert "admin -> approver" in flagged[0]["detail"] and "approver -> admin" in flagged[0]["detail"]
    assert report["summary"]["conflicts"]["SOD-ROLE-CHANGE-APPROVAL"] == 1
    # an approval by a user whose role did not change is not flagged
    (other,) = queue_items(bo_store, 1, start=5)
    _approve_as_maker(q, other)
    q.resolve(other, "approver", "approve", "ok")
    again = access_review(bo_store)
    assert [c["user"] for c in again["conflicts"] if c["code"] == "SOD-ROLE-CHANGE-APPROVAL"] == ["admin"]
    # outside the window, the change and the approval are not flagged
    later = access_review(bo_store, as_of=datetime.fromisoformat(report["as_of"]) + timedelta(days=400))
    assert not [c for c in later["conflicts"] if c["code"] == "SOD-ROLE-CHANGE-APPROVAL"]


def test_access_review_flags_an_approval_by_a_bot_looking_name(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1)
    _approve_as_maker(q, item_id)
    with bo_store.write() as conn:  # a legacy account, created before names were checked
        conn.execute(
            users_table.insert().values(
                name="bot:invoice-matching", role="approver", active=True, created_at=utcnow()
            )
        )
    q.resolve(item_id, "bot:invoice-matching", "approve", "ok")
    codes = {(c["code"], c["user"]) for c in access_review(bo_store)["conflicts"]}
    assert ("SOD-BOT-APPROVES", "bot:invoice-matching") in codes


# -- maker and checker are never one person, across reopens too -------------------------------------
def test_checker_cannot_become_maker_after_a_reopen(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1)
    _approve_as_maker(q, item_id)
    q.resolve(item_id, "team_lead", "approve", "ok")  # team_lead is the checker
    q.reopen(item_id, "qa", "sample review")
    q.claim(item_id, "team_lead")
    with pytest.raises(PermissionDenied, match=r"checked item \d+ before"):
        q.resolve(item_id, "team_lead", "approve", "now I make it")
    assert q.get(item_id).status == "claimed"


def test_maker_cannot_become_checker_after_a_reopen(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1)
    _approve_as_maker(q, item_id, maker="team_lead")
    q.resolve(item_id, "approver", "approve", "ok")
    q.reopen(item_id, "qa", "sample review")
    _approve_as_maker(q, item_id, maker="associate")  # a new maker this time
    assert q.get(item_id).row["maker"] == "associate"
    with pytest.raises(PermissionDenied, match=r"made a decision on item \d+ before"):
        q.resolve(item_id, "team_lead", "approve", "I only check it now")
    assert q.get(item_id).status == "pending_approval"
    assert q.resolve(item_id, "approver", "approve", "ok").status == "resolved"
    codes = {c["code"] for c in access_review(bo_store)["conflicts"]}
    assert "SOD-MAKER-CHECKER" not in codes


# -- a correction of an approver-only or above-limit item needs a checker --------------------------
@rule(code="TEST-BANK-CHANGE", owner_role="associate", sla=timedelta(hours=4), approver_only=True)
def _bank_change(model: Any, ctx: Any) -> Iterator[Violation]:
    """Bank account differs from the master data"""
    yield from ()


BANK_RULES = RuleSet("test", [_bank_change])


def test_correction_of_an_approver_only_item_needs_an_approver(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1, codes=("TEST-BANK-CHANGE",), ruleset=BANK_RULES)
    q.claim(item_id, "associate")
    it = q.resolve(item_id, "associate", "correct", "new account confirmed", changes={"ref": "NEW"})
    assert it.status == "pending_approval" and it.row["tier"] == "approver"
    assert q.get(item_id).row["payload"]["ref"] == "R0"  # not applied until an approver confirms
    assert q.get(item_id).row["changes"] == {"ref": "NEW"}
    with pytest.raises(PermissionDenied, match="needs an approver"):
        q.resolve(item_id, "team_lead", "approve", "ok")
    with pytest.raises(PermissionDenied, match="may not approve"):
        q.resolve(item_id, "associate", "approve", "me")
    done = q.resolve(item_id, "approver", "approve", "called the vendor")
    assert done.status == "resolved" and done.row["decision"] == "correct"
    assert done.row["payload"]["ref"] == "NEW" and done.row["checker"] == "approver"
    approved = audit.entries(bo_store, subject=f"item:{item_id}", action="item.approved")[-1]
    assert approved["data"]["changes"] == {"ref": "NEW"} and approved["outcome"] == "correct"


def test_refused_correction_leaves_the_payload_alone(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1, amount="25000.00")  # above the delegated limit
    q.claim(item_id, "associate")
    q.resolve(item_id, "associate", "correct", "typo", changes={"ref": "X"})
    it = q.resolve(item_id, "approver", "reject", "no evidence for it")
    assert it.row["decision"] == "reject" and it.row["payload"]["ref"] == "R0"


def test_correction_within_the_limit_is_one_persons(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1, amount="500.00")
    q.claim(item_id, "associate")
    it = q.resolve(item_id, "associate", "correct", "typo", changes={"ref": "R0-fixed"})
    assert it.status == "resolved" and q.get(item_id).row["payload"]["ref"] == "R0-fixed"


def test_legacy_item_without_a_rate_in_the_company_currency(bo_store, bo_users):
    q = Queue(bo_store)
    (item_id,) = queue_items(bo_store, 1, amount="500.00")
    with bo_store.write() as conn:
        conn.execute(update(items).where(items.c.id == item_id).values(fx_rate=None))
    _approve_as_maker(q, item_id)
    assert q.resolve(item_id, "team_lead", "approve", "ok").status == "resolved"


def test_invoice_matching_hands_its_fx_rates_to_the_queue():
    """The invoice bot's ``--fx`` rates are the rates its items are recorded with."""
    from bots.invoice_matching.models import InvoiceMatchingInputs

    inputs = InvoiceMatchingInputs.model_construct(fx={"USD": Decimal("0.92")})
    assert inputs.rates_to_company() == {"USD": Decimal("0.92")}
    assert Inputs.model_construct().rates_to_company() == {}
