"""A realistic store for compliance tests: invoices and a payroll line through the queue, with
maker-checker, a reopen, a bank-detail correction, evidence files and personal data.

The items come from real runs of the two small bots of :mod:`tests.compliance.databots` (their
data classes are declared there), installed as entry points for every compliance test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from backoffice import audit
from backoffice.items import EvidenceRef
from backoffice.queue import Queue
from backoffice.runner import run_bot
from backoffice.store import Store
from tests.compliance import databots

IBAN_MASTER = "DE89370400440532013000"
IBAN_INVOICE = "DE02120300000000202051"
NATIONAL_ID = "67000002R"
INVOICES, PAYROLL = databots.INVOICES, databots.PAYROLL


@pytest.fixture(scope="session")
def _databots_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databots.install(tmp_path_factory.mktemp("databots-site"))


@pytest.fixture(autouse=True)
def databots_installed(_databots_site: Path) -> Iterator[None]:
    """The test bots as installed plugins (real entry points, seen by every thread)."""
    sys.path.insert(0, str(_databots_site))
    yield
    sys.path.remove(str(_databots_site))


@dataclass
class Scenario:
    store: Store
    invoice_a: int  # bank change corrected by team_lead
    invoice_b: int  # same vendor, made by associate, approved by team_lead
    invoice_c: int  # approved, reopened, re-made by team_lead
    payroll: int
    evidence: str


def _invoice(key: str, vendor: str, amount: str, evidence: list[EvidenceRef]) -> dict[str, Any]:
    return {
        "key": key,
        "payload": {"invoice_number": key, "vendor_id": vendor, "gross_total": amount, "iban": IBAN_INVOICE},
        "amount": amount,
        "source": {"file": f"invoices/{key}.pdf", "locator": "page 1", "sha256": "ab" * 32},
        "evidence": [e.model_dump(mode="json") for e in evidence],
    }


def _payroll() -> dict[str, Any]:
    return {
        "key": "E00002-2024-01",
        "payload": {
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
        "amount": "3456.78",
        "source": {"file": "payroll/register_2024_01.xlsx", "locator": "row 3"},
    }


@pytest.fixture
def scenario(bo_store: Store, bo_users: dict[str, str]) -> Scenario:
    return build_scenario(bo_store)


def _queued(s: Store, bot: str) -> dict[str, int]:
    return {it.key: it.id for it in Queue(s).list(status="queued", bot=bot, sort="id", limit=None)}


def build_scenario(s: Store) -> Scenario:
    """Needs the users of ``backoffice.testing.TEST_USERS`` in ``s`` and the test bots installed
    (the autouse fixture above). The bots' input files go to the store's home."""
    work = s.settings.home / "scenario"
    work.mkdir(parents=True, exist_ok=True)
    ev = audit.put_evidence(
        s, b"%PDF-1.7 invoice A page 1 " + IBAN_INVOICE.encode(), "A.pdf", "application/pdf"
    )
    ev2 = audit.put_evidence(s, b"<html>erp screenshot</html>", "erp.html", "text/html")
    invoices = databots.write_items(
        work / "invoices.json",
        [
            _invoice("INV-A", "V1001", "1200.00", [ev]),
            _invoice("INV-B", "V1001", "800.00", [ev2]),
            _invoice("INV-C", "V2002", "300.00", []),
        ],
    )
    run_bot(databots.invoices, {"invoices": invoices, "master_iban": IBAN_MASTER}, store=s)
    register = databots.write_items(work / "register.json", [_payroll()])
    run_bot(databots.payroll, {"pay_lines": register, "hr_gross": "5000.00"}, store=s)
    ids = _queued(s, INVOICES)
    a, b, c = ids["INV-A"], ids["INV-B"], ids["INV-C"]
    p = _queued(s, PAYROLL)["E00002-2024-01"]
    q = Queue(s)
    # team lead corrects the bank details of vendor V1001 on invoice A
    q.claim(a, "team_lead")
    q.resolve(
        a,
        "team_lead",
        "correct",
        "vendor sent new bank details",
        changes={"iban": IBAN_MASTER},
        model=databots.Invoice,
    )
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
    # The queue refuses this now (a checker never becomes the maker, across reopens too); a store
    # written before that control still holds such histories, and the access review must find them.
    with patch("backoffice.queue.maker_checker.past_roles", return_value={}):
        q.resolve(c, "team_lead", "approve", "ok again")
    q.resolve(c, "approver", "approve", "fine")
    q.comment(p, "associate", f"employee says account {IBAN_MASTER} is hers")
    return Scenario(s, a, b, c, p, ev.sha256)
