from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from backoffice import audit
from backoffice.access_review import access_review, bank_fields, party_of
from backoffice.cli import main
from backoffice.pii import Policy
from backoffice.schema import items
from backoffice.users import authenticate
from tests.compliance.conftest import IBAN_INVOICE, IBAN_MASTER, INVOICES, PAYROLL, Scenario


def test_party_and_bank_fields_come_from_the_bot_declarations() -> None:
    invoices, payroll, gone = Policy.of(INVOICES), Policy.of(PAYROLL), Policy.of("not-installed")
    assert party_of(invoices, {"vendor_id": " v1001 "}) == "V1001"
    assert party_of(invoices, {"vendor_no": "V2"}) is None  # not the declared party_field
    assert party_of(payroll, {"vendor_id": "V1"}) is None  # declares no party_field
    assert party_of(gone, {"vendor_id": "V1"}) is None and party_of(invoices, None) is None
    assert bank_fields(invoices, {"iban": "x", "vendor_id": "y"}) == ["iban"]
    assert bank_fields(payroll, {"employee.bank_account": "x", "employee.gross": "1"}) == [
        "employee.bank_account"
    ]
    assert bank_fields(invoices, {"bank_account": "x"}) == []  # not declared: nothing is guessed
    assert bank_fields(gone, {"iban": "x"}) == []


def test_conflicts_users_and_roles(scenario: Scenario) -> None:
    s = scenario.store
    authenticate(s, "approver", "approver-password")
    report = access_review(s)
    conflicts = {(c["code"], c["user"], c["subject"]) for c in report["conflicts"]}
    # team_lead checked C, and after QA reopened it, made it again: two people each time, no conflict
    assert ("SOD-MAKER-CHECKER", "team_lead", f"item:{scenario.invoice_c}") not in conflicts
    # team_lead corrected vendor V1001's IBAN on A and approved B of the same vendor
    assert ("SOD-BANK-CHANGE-APPROVAL", "team_lead", f"item:{scenario.invoice_b}") in conflicts
    bank = next(c for c in report["conflicts"] if c["code"] == "SOD-BANK-CHANGE-APPROVAL")
    assert bank["party"] == "V1001" and "iban" in bank["detail"] and len(bank["seqs"]) == 2
    # the associate made B but a different person approved it: no conflict for the associate
    assert not [c for c in report["conflicts"] if c["user"] == "associate"]
    assert len(conflicts) == 1

    users = {u["name"]: u for u in report["users"]}
    assert users["approver"]["last_login_at"] is not None and not users["approver"]["dormant"]
    assert users["admin"]["dormant"] and users["team_lead"]["conflicts"] == 1
    # the associate never logged in but worked items through the CLI: active, not dormant
    assert users["associate"]["last_login_at"] is None and users["associate"]["last_action_at"]
    assert not users["associate"]["dormant"] and users["associate"]["days_idle"] == 0
    assert users["team_lead"]["actions"]["item.approved"] == 2
    roles = report["roles"]
    assert "approve" in roles["team_lead"]["may"] and "unmask" in roles["compliance"]["may"]
    assert roles["team_lead"]["actions"]["item.approved"] == 2 and roles["approver"]["users"] == ["approver"]
    assert report["summary"]["conflicts"] == {"SOD-BANK-CHANGE-APPROVAL": 1}


def test_maker_equal_to_checker_in_the_items_table_and_admin_approval(scenario: Scenario) -> None:
    s = scenario.store
    with s.write() as conn:  # written around the queue, e.g. by a faulty import
        conn.execute(update(items).where(items.c.id == scenario.invoice_a).values(checker="team_lead"))
        audit.append(
            conn,
            s,
            audit.AuditEntry(
                actor="admin", role="admin", action="item.approved", subject=f"item:{scenario.payroll}"
            ),
        )
        # the approver changes vendor V2002's bank details in the master data (an entry of the
        # bot's own, naming the party at its party_field)...
        audit.append(
            conn,
            s,
            audit.AuditEntry(
                actor="approver",
                role="approver",
                action="vendor.updated",
                subject="vendor:V2002",
                bot=INVOICES,
                data={"vendor_id": "V2002", "before": {"iban": IBAN_MASTER}, "after": {"iban": IBAN_INVOICE}},
            ),
        )
        # ... the same change without a bot cannot be read (no declarations): not a bank change
        audit.append(
            conn,
            s,
            audit.AuditEntry(
                actor="associate",
                role="associate",
                action="vendor.updated",
                subject="vendor:V2002",
                data={"vendor_id": "V2002", "after": {"iban": IBAN_INVOICE}},
            ),
        )
    codes = {(c["code"], c["user"], c["subject"]) for c in access_review(s)["conflicts"]}
    # ... and had approved invoice C of that vendor
    assert ("SOD-BANK-CHANGE-APPROVAL", "approver", f"item:{scenario.invoice_c}") in codes
    assert ("SOD-MAKER-CHECKER", "team_lead", f"item:{scenario.invoice_a}") in codes
    assert ("SOD-ADMIN-APPROVES", "admin", f"item:{scenario.payroll}") in codes


def test_cli_access_review(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "access-review", "--json", "-u", "compliance"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["conflicts"] == {"SOD-BANK-CHANGE-APPROVAL": 1}
    assert main(["audit", "access-review"]) == 2  # every read names a user
    assert main(["audit", "access-review", "-u", "compliance"]) == 0
    assert "SOD-BANK-CHANGE-APPROVAL" in capsys.readouterr().out
    assert main(["audit", "access-review", "-u", "associate"]) == 3
    assert audit.entries(scenario.store, action="access_review.run")[-1]["actor"] == "compliance"
