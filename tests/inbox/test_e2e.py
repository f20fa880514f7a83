"""End-to-end journeys in real headless Chromium (Playwright) against the inbox served by uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.queue import Queue
from backoffice.store import Store
from backoffice.testing import queue_items
from tests.inbox.conftest import HOSTILE, IBAN

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(bo_store: Store, bo_users: dict[str, str]) -> Iterator[str]:
    import uvicorn

    from backoffice.inbox import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(bo_store, count_staleness=0), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the inbox did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    try:
        from backoffice.browser import launch_options

        opts = launch_options()
    except ImportError:
        opts = {
            "headless": True,
            "executable_path": "/usr/bin/chromium",
            "args": [
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        }
    with sync_playwright() as p:
        b = p.chromium.launch(**opts)
        yield b
        b.close()


def _page(browser, base: str):
    ctx = browser.new_context(base_url=base, viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return page


def _login(page, name: str, password: str | None = None) -> None:
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password or f"{name}-password")
    page.click("button[type=submit]")


def _logout(page) -> None:
    page.click("form.whoami button")
    page.wait_for_url("**/login")


def test_login_filter_claim_correct_and_reprocess(
    server, browser, bo_store, toy_run, rich_item, artifacts: Path, prefect_harness
):
    page = _page(browser, server)
    page.goto("/queue")
    assert "/login" in page.url  # anonymous -> login
    _login(page, "associate", "wrong-password")
    assert "wrong user name or password" in page.inner_text(".error")
    _login(page, "associate")
    page.wait_for_url("**/queue")
    assert page.locator("#queue tbody tr").count() == len(toy_run["ids"]) + 1

    # filter by rule code with the filter form
    page.fill("input[name=code]", "TOY-PRICE")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**code=TOY-PRICE**")
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-id") == str(rich_item)

    # the hostile vendor name is text, never markup; bank accounts are masked
    page.click(f'#queue tr[data-id="{rich_item}"] td:nth-child(3) a')
    page.wait_for_url(f"**/items/{rich_item}")
    assert HOSTILE in page.inner_text('#payload tr[data-field="customer"]')
    assert IBAN not in page.content() and page.dialogs == []  # type: ignore[attr-defined]
    assert page.locator('#payload tr.broken[data-field="lines.0.unit_price"]').count() == 1
    assert page.locator(".evidence img").count() == 2  # PDF page rendered (redacted) + screenshot
    assert page.evaluate("document.querySelector('.evidence img').naturalWidth") > 100
    page.screenshot(path=str(artifacts / "inbox-item-view.png"), full_page=True)

    # claim and correct a toy-bot item, then send it back to the bot with the button
    item = toy_run["ids"][0]
    page.goto(f"/items/{item}")
    page.click("#claim")
    page.wait_for_url("**done=claimed")
    assert page.inner_text("#assignee").startswith("associate")
    page.fill('#correct-form input[name="set:amount"]', "abc")
    page.fill("#correct-form input[name=reason]", "typo")
    page.click("#correct")
    assert "correction is not valid" in page.inner_text(".error")
    page.fill('#correct-form input[name="set:amount"]', "900.00")
    page.fill("#correct-form input[name=reason]", "typo in the order file")
    page.select_option("#correct-form select[name=root_cause]", "bad_source_data")
    page.click("#correct")
    page.wait_for_url("**done=corrected")
    assert page.inner_text("#status") == "resolved"
    page.click("#reprocess")
    page.wait_for_selector("#reprocess-result")
    assert page.inner_text('#reprocess-result [data-k="done"]') == "1"
    page.click("#back")
    assert page.inner_text("#status") == "done"
    assert Queue(bo_store).get(item).status == "done"
    assert "O00003" in toy_run["ledger"].read_text()
    page.context.close()


def test_approve_with_a_second_approver_and_reject(server, browser, bo_store, toy_run):
    # two orders of 5000.00 EUR above the bot's limit: within the team lead's delegated limit
    a, b = [it.id for it in Queue(bo_store).list(bot="toy", code="TOY-LIMIT", sort="id")]
    big = _big_order(bo_store)  # 25,000.00 EUR: above the delegated limit, an approver must check it
    maker = _page(browser, server)
    _login(maker, "associate")
    maker.wait_for_url("**/queue")
    for item in (a, b, big):
        maker.goto(f"/items/{item}")
        maker.click("#claim")
        maker.wait_for_url("**done=claimed")
    maker.goto(f"/items/{a}")
    maker.fill("#decide-form input[name=reason]", "customer raised the limit")
    maker.click("#approve")
    maker.wait_for_url("**done=approval_requested")
    assert maker.inner_text("#status") == "pending approval"
    assert maker.locator("#confirm").count() == 0  # the maker cannot check it

    maker.goto(f"/items/{big}")
    maker.fill("#decide-form input[name=reason]", "framework contract FC-9")
    maker.click("#approve")
    maker.wait_for_url("**done=approval_requested")

    maker.goto(f"/items/{b}")
    maker.fill("#decide-form input[name=reason]", "order was cancelled")
    maker.select_option("#decide-form select[name=root_cause]", "vendor_error")
    maker.click("#reject")
    maker.wait_for_url("**done=rejected")
    assert "reject" in maker.inner_text("#decision")
    _logout(maker)

    checker = _page(browser, server)
    _login(checker, "team_lead")
    checker.wait_for_url("**/queue")
    checker.goto("/queue?status=pending_approval")
    assert checker.locator("#queue tbody tr").count() == 2
    checker.goto(f"/items/{big}")  # above the team lead's limit: no confirm button, a clear note
    assert checker.locator("#confirm").count() == 0 and checker.locator("#needs-approver").count() == 1
    checker.goto("/queue?status=pending_approval")
    checker.click(f'#queue tr[data-id="{a}"] td:nth-child(2) a')
    checker.fill("#check-form input[name=reason]", "checked the customer file")
    checker.click("#confirm")
    checker.wait_for_url("**done=approved")
    assert checker.inner_text("#status") == "resolved"
    it = Queue(bo_store).get(a)
    assert (it.row["maker"], it.row["checker"], it.row["decision"]) == ("associate", "team_lead", "approve")
    history = checker.inner_text("#history")
    assert "item.approval_requested by associate" in history and "item.approved by team_lead" in history
    checker.context.close()

    approver = _page(browser, server)
    _login(approver, "approver")
    approver.wait_for_url("**/queue")
    approver.goto(f"/items/{big}")
    approver.fill("#check-form input[name=reason]", "contract checked")
    approver.click("#confirm")
    approver.wait_for_url("**done=approved")
    it = Queue(bo_store).get(big)
    assert (it.row["maker"], it.row["checker"], it.status) == ("associate", "approver", "resolved")
    approver.context.close()
    maker.context.close()


def _big_order(store: Store) -> int:
    from decimal import Decimal

    from backoffice.items import Item, SourceRef
    from backoffice.rules import Violation
    from tests.core.toybot import RULES

    item = Item(
        bot="toy",
        key="big-1",
        payload={"order_id": "O-BIG", "customer": "C9", "amount": "25000.00"},
        source=SourceRef(file="orders.csv", locator="row 99"),
        amount=Decimal("25000.00"),
        currency="EUR",
        violations=[
            Violation(
                code="TOY-LIMIT",
                message="amount above limit",
                field="amount",
                expected="1000",
                actual="25000.00",
            )
        ],
    )
    return queue_items(store, [item], ruleset=RULES)[0]
