"""A realistic store for compliance tests: invoices and a payroll line through the queue, with
maker-checker, a reopen, a bank-detail correction, evidence files and personal data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from backoffice import audit
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.store import Store

IBAN_MASTER = "DE89370400440532013000"
IBAN_INVOICE = "DE02120300000000202051"
NATIONAL_ID = "67000002R"


@dataclass
class Scenario:
    store: Store
    invoice_a: int  # bank change corrected by team_lead
    invoice_b: int  # same vendor, made by associate, approved by team_lead
    invoice_c: int  # approved, reopened, re-made by team_lead
    payroll: int
    evidence: str


def _invoice(key: str, vendor: str, amount: str, evidence: list) -> Item:
    return Item(
        bot="invoice-matching",
        key=key,
        payload={"invoice_number": key, "vendor_id": vendor, "gross_total": amount, "iban": IBAN_INVOICE},
        source=SourceRef(file=f"invoices/{key}.pdf", locator="page 1", sha256="ab" * 32),
        amount=Decimal(amount),
        currency="EUR",
        evidence=evidence,
        violations=[
            Violation(
                code="INV-BANK-CHANGE",
                message=f"invoice asks for payment to {IBAN_INVOICE}; vendor master has {IBAN_MASTER}",
                field="iban",
                expected=IBAN_MASTER,
                actual=IBAN_INVOICE,
            )
        ],
    )


def _payroll() -> Item:
    return Item(
        bot="payroll-reconciliation",
        key="E00002-2024-01",
        payload={
            "kind": "employee",
            "employee": {
                "employee_id": "E00002",
                "name": "Olga Tanaka",
                "national_id": NATIONAL_ID,
                "bank_account": "DE03154674198970551043",
                "gross": "5123.45",
                "net": "3456.78",
                "annual_salary": "61481.40",
            },
        },
        source=SourceRef(file="payroll/register_2024_01.xlsx", locator="row 3"),
        amount=Decimal("3456.78"),
        currency="EUR",
        violations=[
            Violation(
                code="PAY-SALARY",
                message="pay differs from the HR master",
                field="employee.gross",
                expected="5000.00",
                actual="5123.45",
            )
        ],
    )


@pytest.fixture
def scenario(bo_store: Store, bo_users: dict[str, str]) -> Scenario:
    return build_scenario(bo_store)


def build_scenario(s: Store) -> Scenario:
    """Needs the users of ``backoffice.testing.TEST_USERS`` in ``s``."""
    ev = audit.put_evidence(
        s, b"%PDF-1.7 invoice A page 1 " + IBAN_INVOICE.encode(), "A.pdf", "application/pdf"
    )
    ev2 = audit.put_evidence(s, b"<html>erp screenshot</html>", "erp.html", "text/html")
    q = Queue(s)
    a, b, c = q.enqueue(
        [
            _invoice("INV-A", "V1001", "1200.00", [ev]),
            _invoice("INV-B", "V1001", "800.00", [ev2]),
            _invoice("INV-C", "V2002", "300.00", []),
        ]
    )
    (p,) = q.enqueue([_payroll()])
    # team lead corrects the bank details of vendor V1001 on invoice A
    q.claim(a, "team_lead")
    q.resolve(a, "team_lead", "correct", "vendor sent new bank details", changes={"iban": IBAN_MASTER})
    # associate proposes B, team lead approves it: same vendor -> SoD conflict
    q.claim(b, "associate")
    q.resolve(b, "associate", "approve", "bank letter on file")
    q.resolve(b, "team_lead", "approve", "checked")
    # C: associate makes, team lead checks; QA reopens; team lead makes, approver checks
    q.claim(c, "associate")
    q.resolve(c, "associate", "approve", "ok")
    q.resolve(c, "team_lead", "approve", "ok")
    q.reopen(c, "qa", "sample review")
    q.claim(c, "team_lead")
    q.resolve(c, "team_lead", "approve", "ok again")
    q.resolve(c, "approver", "approve", "fine")
    q.comment(p, "associate", f"employee says account {IBAN_MASTER} is hers")
    return Scenario(s, a, b, c, p, ev.sha256)
