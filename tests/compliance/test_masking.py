from __future__ import annotations

import json

import pytest

from backoffice import audit, pii
from backoffice.audit.story import item_story
from backoffice.cli import main
from backoffice.errors import InputError, PermissionDenied
from backoffice.queue import Queue
from backoffice.testing import TEST_USERS
from tests.compliance.conftest import IBAN_INVOICE, IBAN_MASTER, NATIONAL_ID, Scenario

READERS = {"compliance", "qa"}  # users whose roles may read the audit log (qa masked)


def test_masked_shapes() -> None:
    record = {
        "employee": {
            "employee_id": "E1",
            "national_id": NATIONAL_ID,
            "bank_account": IBAN_MASTER,
            "gross": "5123.45",
            "net": "3456.78",
            "annual_salary": "61481.40",
            "hourly_rate": "31.20",
            "department": "Sales",
        },
        "department": {"department": "Sales", "gross": "100000.00"},  # a total, not personal
        "gross_total": "119.00",  # an invoice amount, not personal
        "violations": [{"code": "X", "field": "iban", "expected": IBAN_MASTER, "actual": IBAN_INVOICE}],
        "message": f"pay to {IBAN_INVOICE} please",
        "password": "hunter22",
        "api_key": "k-123",
    }
    m = pii.masked(record)
    e = m["employee"]
    assert e["national_id"] == "••••" and e["bank_account"] == "••••3000"
    assert e["gross"] == e["net"] == e["annual_salary"] == e["hourly_rate"] == "•••.••"
    assert e["department"] == "Sales" and e["employee_id"] == "E1"
    assert m["department"]["gross"] == "100000.00" and m["gross_total"] == "119.00"
    assert m["violations"][0]["expected"] == "••••3000" and m["violations"][0]["actual"] == "••••2051"
    assert m["message"] == "pay to ••••2051 please"
    assert m["password"] == "••••••" and m["api_key"] == "••••••"
    assert "DE12 3456" in pii.mask_text("DE12 3456 not an iban")  # mod-97 fails: left alone
    pay = pii.masked(
        {
            "field": "overtime_pay",
            "expected": "402.24",
            "actual": "268.16",
            "message": "paid 268.16; 1.5x 33.52",
        }
    )
    assert pay == {
        "field": "overtime_pay",
        "expected": "•••.••",
        "actual": "•••.••",
        "message": "paid •••.••; 1.5x •••.••",
    }
    assert (
        pii.masked({"field": "bank_account", "expected": "unique", "actual": IBAN_MASTER})["expected"]
        == "unique"
    )
    assert (
        pii.masked({"field": "gross_total", "expected": "119.00", "actual": "120.00"})["actual"] == "120.00"
    )
    clear = pii.view(record, unmask=True)
    assert clear["employee"]["national_id"] == NATIONAL_ID and clear["password"] == "••••••"


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
