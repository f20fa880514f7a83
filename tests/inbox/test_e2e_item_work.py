"""Issue 13 journeys on the item page in a real headless Chromium at 1280 px: an associate works a
payroll PAY-HOURS item end to end seeing its figures; an escalated item is refused below its
tier; the violation history survives a QA reopen. Screenshots go to test-artifacts/ (always for
the item pages, and of the page in front of the user when a step fails)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from backoffice.audit import entries
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.runner import run_bot
from backoffice.store import Store
from backoffice.testing import queue_items
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from tests.core.toybot import RULES
from tests.inbox import test_e2e
from tests.inbox.test_e2e import _login, _logout

pytestmark = pytest.mark.browser
server = test_e2e.server  # the inbox served by uvicorn, and a real Chromium (fixtures)
browser = test_e2e.browser

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "payroll"
FILES = {
    "register": "register_2024_01.xlsx",
    "hr": "hr_master.csv",
    "timesheets": "timesheets.csv",
    "bank_file": "bank_payments.xml",
    "statement": "statement.xml",
    "gl": "gl_totals.csv",
    "previous": "previous_register_2023_12.xlsx",
    "vendors": "vendors.csv",
}


def _page(browser, base: str):
    ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    return page


@contextmanager
def _shot_on_failure(page: Any, artifacts: Path, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        page.screenshot(path=str(artifacts / f"{name}-failure.png"), full_page=True)
        raise


@pytest.fixture
def payroll_run(bo_store: Store, tmp_path: Path) -> dict[str, Any]:
    d = tmp_path / "payroll"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    inputs: dict[str, Any] = {k: str(d / v) for k, v in FILES.items()}
    inputs["out"] = str(tmp_path / "out" / "reconciliation.xlsx")
    run_bot(PayrollReconciliationBot(), inputs, store=bo_store)
    queued = Queue(bo_store).list(status="queued", limit=None)
    hours = next(it for it in queued if it.row["codes"].split() == ["PAY-HOURS"])
    return {"hours": hours.row["id"], "payload": hours.row["payload"]}


def test_an_associate_works_a_payroll_hours_item_seeing_its_figures(
    server, browser, bo_store, payroll_run, artifacts: Path
):
    item = payroll_run["hours"]
    emp = payroll_run["payload"]["employee"]
    page = _page(browser, server)
    with _shot_on_failure(page, artifacts, "payroll-hours"):
        _login(page, "associate")
        page.wait_for_url("**/queue")
        page.goto(f"/items/{item}")
        assert page.locator("#need-to-know").count() == 1
        # the figures to check: the register line's pay, the violation, the records side by side
        text = page.inner_text("main")
        assert emp["net"] in text and emp["gross"] in text
        assert "•••.••" not in page.inner_text("#violations")
        records = [
            page.inner_text(f'.record[data-record="{n}"] h3') for n in ("Register", "HR master", "Timesheets")
        ]
        assert records == ["Register", "HR master", "Timesheets"]
        assert page.locator('.record[data-record="Timesheets"] tbody tr').count() >= 1
        assert page.locator('.record[data-record="Register"] dd.broken-cell').count() >= 1
        # evidence is one screen away: the records start above the fold's second screen
        top = page.evaluate("document.querySelector('.evidence').getBoundingClientRect().top")
        assert top < 1800, top
        # no card spills: every card is as wide as its content allows
        spill = page.evaluate(
            "[...document.querySelectorAll('.card')].filter(c => c.scrollWidth > c.clientWidth + 1).length"
        )
        assert spill == 0
        page.screenshot(path=str(artifacts / "payroll-hours-item.png"), full_page=False)

        page.click("#claim")
        page.wait_for_url("**done=claimed")
        field = page.locator('#correct-form label.broken-field[data-field="employee.regular_hours"] input')
        assert field.count() == 1 and field.input_value() == emp["regular_hours"]
        fixed = str(int(float(emp["regular_hours"])) - 8)
        field.fill(fixed)
        # two further fields in the same submit: one from the other fields, one typed as a line
        page.click("#other-fields summary")
        page.fill('#correct-form input[name="set:employee.department"]', "Payroll QA")
        page.fill("#correct-form textarea[name=more]", f"employee.overtime_hours={emp['overtime_hours']}\n")
        page.fill("#correct-form input[name=reason]", "8 hours paid that no timesheet shows")
        page.select_option("#correct-form select[name=root_cause]", "bad_source_data")
        page.screenshot(path=str(artifacts / "payroll-hours-correction.png"), full_page=True)
        page.click("#correct")
        page.wait_for_url("**done=corrected")
        status = page.inner_text("#status")
        assert status in ("pending approval", "resolved"), status
    it = Queue(bo_store).get(item)
    wanted = {"employee.regular_hours": fixed, "employee.department": "Payroll QA"}
    assert wanted.items() <= dict(it.row["changes"]).items()
    if it.status == "pending_approval":  # a person's net pay above the delegated limit: an approver checks
        checker = _page(browser, server)
        with _shot_on_failure(checker, artifacts, "payroll-hours-check"):
            _login(checker, "approver")
            checker.goto(f"/items/{item}")
            assert emp["net"] in checker.inner_text("main")  # the checker works the item too
            checker.fill("#check-form input[name=reason]", "timesheets confirm it")
            checker.click("#confirm")
            checker.wait_for_url("**done=approved")
    assert Queue(bo_store).get(item).row["payload"]["employee"]["regular_hours"] == fixed
    # someone who does not work the item sees masks
    qa = _page(browser, server)
    with _shot_on_failure(qa, artifacts, "payroll-hours-qa"):
        _login(qa, "qa")
        qa.goto(f"/items/{item}")
        assert emp["net"] not in qa.inner_text("main") and "•••.••" in qa.inner_text("main")


def _toy_item(bo_store: Store) -> int:
    item = Item(
        bot="toy",
        key="esc-1",
        payload={"order_id": "O-1", "customer": "C1", "amount": "100.00"},
        source=SourceRef(file="orders.csv", locator="row 2"),
        violations=[
            Violation(
                code="TOY-LIMIT",
                message="amount above limit",
                field="amount",
                expected="1000",
                actual="100.00",
            )
        ],
    )
    return queue_items(bo_store, [item], ruleset=RULES)[0]


def test_an_escalated_item_is_refused_below_its_tier(server, browser, bo_store, artifacts: Path):
    item = _toy_item(bo_store)
    page = _page(browser, server)
    with _shot_on_failure(page, artifacts, "escalated"):
        _login(page, "associate")
        page.wait_for_url("**/queue")
        page.goto(f"/items/{item}")
        page.fill("form[action$='/escalate'] input[name=reason]", "needs a lead")
        page.click("#escalate")
        page.wait_for_url("**done=escalated")
        assert page.inner_text("#tier") == "team lead"
        assert page.locator("#claim").count() == 0 and page.locator("#tier-floor").count() == 1
        page.screenshot(path=str(artifacts / "escalated-associate.png"))
        # a hand-made claim is refused by the server: 403 and an audited denial
        token = page.get_attribute("input[name=csrf_token]", "value")
        r = page.request.post(f"/items/{item}/claim", form={"csrf_token": token}, max_redirects=0)
        assert r.status == 403
        _logout(page)
        _login(page, "team_lead")
        page.goto(f"/items/{item}")
        page.click("#claim")
        page.wait_for_url("**done=claimed")
        page.fill("#decide-form input[name=reason]", "fine")
        page.click("#approve")
        page.wait_for_url("**done=approval_requested")
        assert page.inner_text("#tier") == "team lead"  # not dropped
        assert "Waiting for a team lead who is not team_lead" in page.inner_text("#actions")
    denied = [e for e in entries(bo_store, subject=f"item:{item}") if e["action"] == "permission.denied"]
    assert len(denied) == 1 and "tier" in denied[0]["data"]["why"]


def test_the_violation_history_survives_a_reopen(server, browser, bo_store, artifacts: Path):
    item = _toy_item(bo_store)
    q = Queue(bo_store)
    q.claim(item, "associate")
    q.resolve(item, "associate", "reject", "duplicate order")
    page = _page(browser, server)
    with _shot_on_failure(page, artifacts, "history"):
        _login(page, "qa")
        page.wait_for_url("**/queue")
        page.goto(f"/items/{item}")
        page.fill("form[action$='/reopen'] input[name=reason]", "sample review: not a duplicate")
        page.click("#reopen")
        page.wait_for_url("**done=reopened")
        rows = page.locator("#rounds tbody tr")
        assert rows.count() == 2
        newest, oldest = rows.nth(0).inner_text(), rows.nth(1).inner_text()
        assert "reopened by qa" in newest
        assert "TOY-LIMIT" in oldest and re.search(r"reject by associate", oldest)
        page.screenshot(path=str(artifacts / "history-after-reopen.png"))
