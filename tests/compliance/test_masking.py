from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from backoffice import audit, pii
from backoffice.audit.story import item_story
from backoffice.cli import main
from backoffice.contract import Bot, Inputs, State
from backoffice.data_classes import DataClass
from backoffice.errors import InputError, PermissionDenied
from backoffice.jsonutil import canonical
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.rules import RuleSet
from backoffice.testing import TEST_USERS
from tests.compliance.conftest import IBAN_INVOICE, IBAN_MASTER, NATIONAL_ID, Scenario

READERS = {"compliance", "qa"}  # users whose roles may read the audit log (qa masked)


class Line(BaseModel):
    text: str
    iban: Annotated[str | None, DataClass.BANK_ACCOUNT] = None


class Person(BaseModel):
    person_id: str
    national_id: Annotated[str, DataClass.NATIONAL_ID]
    account: Annotated[str | None, DataClass.BANK_ACCOUNT] = None
    email: Annotated[str | None, DataClass.CONTACT] = None
    base: Annotated[Decimal, DataClass.PAY]
    bonus: Annotated[Decimal, DataClass.PAY] = Decimal("0")
    allowances: Annotated[list[Decimal], DataClass.PAY] = []
    team: str | None = None


class Record(BaseModel):
    person: Person
    lines: list[Line] = []
    gross: Decimal | None = None  # a team total: undeclared, so shown whatever its name
    iban: str | None = None  # undeclared: the core does not guess from the name
    pin: Annotated[str | None, DataClass.SECRET] = None


class PeopleInputs(Inputs):
    login: str = Field(default="", description="who")
    password: Annotated[str, DataClass.SECRET] = Field(default="", description="never shown")


class PeopleBot(Bot[PeopleInputs, State[PeopleInputs]]):
    name = "people"
    Inputs = PeopleInputs
    model = Record
    title_field = "person.person_id"
    amount_class = DataClass.PAY
    ruleset = RuleSet("people", [])


RECORD: dict[str, Any] = {
    "person": {
        "person_id": "P1",
        "national_id": NATIONAL_ID,
        "account": IBAN_MASTER,
        "email": "ann@example.org",
        "base": "5123.45",
        "bonus": "0.00",
        "allowances": ["120.00", "33.52"],
        "team": "Sales",
    },
    "lines": [{"text": f"pay to {IBAN_INVOICE} please", "iban": IBAN_INVOICE}, {"text": "no account"}],
    "gross": "100000.00",
    "iban": "NOT-AN-ACCOUNT-1234",
    "pin": "4711",
}


def test_payload_is_masked_by_the_declared_classes() -> None:
    with use_bots([PeopleBot()]):
        m = pii.Masking().payload("people", RECORD)
        clear = pii.Masking(unmask=True).payload("people", RECORD)
    p = m["person"]
    assert p["national_id"] == "••••002R" and p["account"] == "••••3000"  # last 4
    assert p["base"] == p["bonus"] == "•••.••" and p["allowances"] == ["•••.••", "•••.••"]  # pay
    assert p["email"] == "••••"  # contact: hidden
    assert p["person_id"] == "P1" and p["team"] == "Sales"
    assert m["lines"][0]["iban"] == "••••2051" and m["lines"][1] == {"text": "no account"}
    assert m["lines"][0]["text"] == "pay to ••••2051 please"  # an IBAN in free text
    # undeclared fields are shown, whatever they are called: nothing is guessed from key names
    assert m["gross"] == "100000.00" and m["iban"] == "NOT-AN-ACCOUNT-1234"
    assert m["pin"] == clear["pin"] == "••••••"  # a secret: hidden even when unmasked
    assert clear["person"] == RECORD["person"] and clear["lines"] == RECORD["lines"]
    assert RECORD["person"]["base"] == "5123.45"  # a copy: the input is unchanged


def test_violations_changes_and_entries_are_masked_by_the_declared_classes() -> None:
    pay = {
        "field": "person.base",
        "expected": "402.24",
        "actual": "268.16",
        "message": "paid 268.16; 1.5x 33.52",
    }
    bank = {
        "field": "lines.0.iban",
        "expected": IBAN_MASTER,
        "actual": "US-ACCT-99887766",
        "message": f"account US-ACCT-99887766 is not {IBAN_MASTER}",
    }
    described = {"field": "person.account", "expected": "unique", "actual": IBAN_MASTER}
    other = {"field": "gross", "expected": "119.00", "actual": "120.00", "message": "total 120.00"}
    data = {
        "violations": [pay, bank, described, other],
        "before": {"person.base": "5000.00", "lines.1.iban": None, "person.team": "Ops"},
        "after": {"person.base": "5123.45", "lines.1.iban": IBAN_MASTER, "person.team": "Sales"},
        "set": {"person": {"base": "1.00", "team": "X"}},
        "amount": "3456.78",
        "inputs": {"login": "ann", "password": "hunter22"},
        "reason": f"moved to {IBAN_MASTER}",
    }
    with use_bots([PeopleBot()]):
        m = pii.Masking().entry_data("people", data)
        clear = pii.Masking(unmask=True).entry_data("people", data)
    v_pay, v_bank, v_described, v_other = m["violations"]
    assert v_pay == {
        "field": "person.base",
        "expected": "•••.••",
        "actual": "•••.••",
        "message": "paid •••.••; 1.5x •••.••",
    }
    assert v_bank["expected"] == "••••3000" and v_bank["actual"] == "••••7766"
    assert v_bank["message"] == "account ••••7766 is not ••••3000"
    assert v_described["expected"] == "unique" and v_described["actual"] == "••••3000"
    assert v_other == other  # an undeclared field
    assert m["before"] == {"person.base": "•••.••", "lines.1.iban": None, "person.team": "Ops"}
    assert m["after"] == {"person.base": "•••.••", "lines.1.iban": "••••3000", "person.team": "Sales"}
    assert m["set"] == {"person": {"base": "•••.••", "team": "X"}}
    assert m["amount"] == "•••.••"  # amount_class PAY
    assert m["inputs"] == {"login": "ann", "password": "••••••"}
    assert m["reason"] == "moved to ••••3000"
    assert clear["violations"] == data["violations"] and clear["after"] == data["after"]
    assert clear["inputs"]["password"] == "••••••"


def test_an_item_of_a_bot_that_is_not_installed_is_masked_conservatively() -> None:
    item = {
        "bot": "gone",
        "key": "k-20240131-0001",
        "amount": "2500.00",
        "payload": {"who": "Ann", "pay": "2500.00", "account": "NO9386011117947", "seq": "12"},
        "violations": [
            {"field": "pay", "expected": "2400.00", "actual": "2500.00", "message": "paid 2500.00"}
        ],
    }
    with use_bots([]):
        m = pii.Masking().item(item)
        clear = pii.Masking(unmask=True).item(item)
    assert m["payload"] == {"who": "Ann", "pay": "•••.••", "account": "••••7947", "seq": "12"}
    assert m["amount"] == "•••.••" and m["key"] == item["key"]  # core fields are not payload
    v = m["violations"][0]
    assert v["expected"] == v["actual"] == "•••.••" and v["message"] == "paid •••.••"
    assert clear == item


def test_items_amounts_titles_and_entries_without_a_bot() -> None:
    with use_bots([PeopleBot()]):
        m = pii.Masking()
        assert m.item({"bot": "people", "amount": "10.00", "payload": {}})["amount"] == "•••.••"
        assert m.amount("people", None) is None
        assert m.title("people", RECORD) == "P1"
        assert m.policy("people").class_of("lines.3.iban") is DataClass.BANK_ACCOUNT
        assert m.policy("people").class_of("person.allowances.1") is DataClass.PAY
        assert m.policy("people").class_of("person.team") is None
    with use_bots([]):
        m = pii.Masking()
        # an item whose personal column is set (its bot declared amount_class PAY when it ran)
        assert m.item({"bot": "gone", "amount": "12.00"}, personal=True)["amount"] == "•••.••"
        assert m.item({"bot": "gone", "amount": "12.00"}, personal=False)["amount"] == "12.00"
        # logins, user changes: no payload, free text only
        data = {"source": "inbox", "why": f"password=hunter22 for {IBAN_MASTER}", "amount": "1234.00"}
        assert m.entry_data(None, data) == {
            "source": "inbox",
            "why": "password=•••••• for ••••3000",
            "amount": "1234.00",
        }


def test_the_json_pre_check_never_skips_what_masking_would_change() -> None:
    samples = [
        {"violations": [{"field": "person.base", "expected": "1.00", "actual": "2.00"}]},
        {"after": {"lines.0.iban": IBAN_MASTER}},
        {"amount": "12.00"},
        {"note": f"to {IBAN_INVOICE}"},
        {"note": "token: abc"},
        {"inputs": {"password": "x"}},
        {"codes": ["X"], "key": "abc"},
    ]
    with use_bots([PeopleBot()]):
        m, policy = pii.Masking(), pii.Policy.of("people")
        for data in samples:
            text = canonical(data)
            if not policy.may_mask(text):
                assert m.entry_data("people", data) == data, data
        assert not policy.may_mask(canonical(samples[-1]))
        assert pii.Policy.of(None).may_mask(canonical({"note": f"to {IBAN_INVOICE}"}))
        assert not pii.Policy.of(None).may_mask(canonical({"amount": "12.00"}))


def test_mask_text_and_account() -> None:
    assert "DE12 3456" in pii.mask_text("DE12 3456 not an iban")  # mod-97 fails: left alone
    assert pii.mask_account("DE89 3704 0044 0532 0130 00") == "••••3000"
    assert pii.mask_account("123") == pii.MASK


@pytest.mark.parametrize("user", sorted(TEST_USERS))
def test_audit_list_masking_for_each_role(
    scenario: Scenario, user: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s = scenario.store
    code = main(["audit", "list", "--json", "--limit", "1000", "-u", user])
    out = capsys.readouterr().out
    if user not in READERS:
        assert code == 3
        denial = audit.entries(s, action="permission.denied", actor=user)[-1]
        assert denial["data"]["attempted"] == "read_audit"
        return
    assert code == 0
    assert IBAN_MASTER not in out and IBAN_INVOICE not in out and NATIONAL_ID not in out and "••••3000" in out
    read = audit.entries(s, action="audit.read")[-1]
    assert read["actor"] == user and read["data"]["unmasked"] is False
    # unmasking: compliance only, with a reason, audited
    code = main(["audit", "list", "--json", "--limit", "1000", "-u", user, "--unmask", "--reason", "case 17"])
    out = capsys.readouterr().out
    if TEST_USERS[user] == "compliance":
        assert code == 0 and IBAN_MASTER in out
        entry = audit.entries(s, action="pii.unmasked")[-1]
        assert entry["actor"] == user and entry["data"]["reason"] == "case 17"
        assert main(["audit", "list", "-u", user, "--unmask"]) == 1  # no reason: refused
    else:
        assert code == 3 and IBAN_MASTER not in out
        assert audit.entries(s, action="permission.denied", actor=user)[-1]["data"]["attempted"] == "unmask"


@pytest.mark.parametrize("user", sorted(TEST_USERS))
def test_queue_and_story_are_masked_for_every_role(scenario: Scenario, user: str) -> None:
    item = Queue(scenario.store).get(scenario.payroll).to_dict()
    text = json.dumps(item)
    assert NATIONAL_ID not in text and "5123.45" not in json.dumps(item["payload"])
    story = item_story(scenario.store, scenario.payroll)
    assert NATIONAL_ID not in json.dumps(story) and IBAN_MASTER not in json.dumps(story)
    may = pii.may_unmask(TEST_USERS[user])
    assert may == (TEST_USERS[user] == "compliance")
    if may:
        clear = item_story(
            scenario.store,
            scenario.payroll,
            unmask=pii.record_unmask(
                scenario.store, user, f"item:{scenario.payroll}", "payroll query", "item story"
            )
            is not None,
        )
        assert NATIONAL_ID in json.dumps(clear)
    else:
        with pytest.raises(PermissionDenied):
            pii.record_unmask(scenario.store, user, f"item:{scenario.payroll}", "curious", "item story")
    with pytest.raises(InputError):
        pii.record_unmask(scenario.store, user, None, "  ", "x")


def test_logs_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    pii.install_log_masking()
    pii.install_log_masking()  # idempotent
    log = logging.getLogger("backoffice.test")
    with caplog.at_level(logging.INFO, logger="backoffice.test"):
        log.info("paying %s for %s", IBAN_MASTER, "E1")
        log.warning("login failed: password=%s", "hunter22")
        log.info("plain %d", 42)
    assert IBAN_MASTER not in caplog.text and "hunter22" not in caplog.text
    assert "paying ••••3000 for E1" in caplog.text and "password=••••••" in caplog.text
    assert "plain 42" in caplog.text


# -- issue 13: need to know, violations whose messages quote pay -----------------------------------------
def test_an_items_workers_see_its_pay_but_accounts_stay_at_their_last_4() -> None:
    with use_bots([PeopleBot()]):
        worker = pii.Masking(clear=pii.WORKER_CLEAR).payload("people", RECORD)
        amount = pii.Masking(clear=pii.WORKER_CLEAR).amount("people", "5123.45")
    p = worker["person"]
    assert p["base"] == "5123.45" and p["allowances"] == ["120.00", "33.52"] and amount == "5123.45"
    assert p["national_id"] == "••••002R" and p["account"] == "••••3000" and p["email"] == "••••"
    assert worker["pin"] == "••••••"


def test_a_violation_quoting_pay_has_a_masked_rendering() -> None:
    from backoffice.rules import Violation

    v = Violation.quoting(
        "X-PAY",
        "bank file pays {paid} (row 3), net pay is {net}; 156 h x {rate}",
        {"paid": "4317.85", "net": "4217.85", "rate": "53400"},
        field="person.team",  # an undeclared field: the message's figures are pay all the same
        expected="4217.85",
        actual="4317.85",
        data_class=DataClass.PAY,
    ).model_dump(mode="json")
    with use_bots([PeopleBot()]):
        (listed,) = pii.Masking().violations("people", [v])
        (worked,) = pii.Masking(clear=pii.WORKER_CLEAR).violations("people", [v])
        # a listing's JSON is never skipped by the pre-check when a masked rendering exists
        assert pii.Policy.of("people").may_mask(json.dumps({"violations": [v]})) is True
    assert listed["message"] == "bank file pays •••.•• (row 3), net pay is •••.••; 156 h x •••.••"
    assert listed["expected"] == listed["actual"] == "•••.••"  # by the declared data_class
    assert "masked_message" not in listed and "masked_message" not in worked
    assert worked["message"] == v["message"] and worked["actual"] == "4317.85"
