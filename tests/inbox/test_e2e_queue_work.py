"""Browser journeys of the queue's daily work in a real headless Chromium at 1280 px: the queue
page's layout, bulk actions with select-all, postpone, export, and a QA review (issue 13).
Screenshots of a failing journey are kept under test-artifacts/."""

# ruff: noqa: F811 (the browser and server fixtures are test_e2e's, imported by name)

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.schema import items
from backoffice.store import Store, utcnow
from backoffice.testing import queue_items
from tests.core.toybot import RULES
from tests.inbox.conftest import IBAN
from tests.inbox.test_e2e import browser, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

W, H = 1280, 800


def _enqueue(store: Store, n: int, *, start: int = 0, codes: tuple[str, ...] = ("TOY-LIMIT",)) -> list[int]:
    its = [
        Item(
            bot="toy",
            key=f"e2e-{i}",
            payload={
                "order_id": f"ORD-{i:04d}",
                "customer": f"Customer {i}",
                "amount": "250.00",
                "iban": IBAN,
            },
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal("250.00"),
            currency="EUR",
            violations=[Violation(code=c, message="amount above limit", field="amount") for c in codes],
        )
        for i in range(start, start + n)
    ]
    return queue_items(store, its, ruleset=RULES)


def _page(browser, base: str):
    ctx = browser.new_context(base_url=base, viewport={"width": W, "height": H}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    return page


def _login(page, name: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"{name}-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/queue*")


@contextlib.contextmanager
def _shots(page, artifacts: Path, name: str) -> Iterator[None]:
    """A screenshot of the page under test-artifacts/ when the journey fails."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifacts / f"{name}-failure.png"), full_page=True)
        raise


def _visible_rows(page) -> int:
    return int(
        page.evaluate(
            """() => [...document.querySelectorAll('#queue tbody tr')].filter(r => {
                 const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= window.innerHeight; }).length"""
        )
    )


def test_queue_page_at_1280px_shows_20_rows_and_nothing_wraps(
    server,
    browser,
    bo_store,
    bo_users,
    artifacts: Path,
) -> None:
    # many rule codes, as the real demo store has: the facet must not eat the screen
    for k in range(6):
        _enqueue(bo_store, 6, start=k * 10, codes=("TOY-LIMIT", f"CODE-{k}A", f"CODE-{k}B"))
    # the real bots' long names and codes: Bot and Due must still not wrap
    queue_items(bo_store, 6, bot="payroll-reconciliation", codes=("PAY-HOURS", "PAY-SALARY"))
    late = queue_items(bo_store, 6, bot="invoice-matching", codes=("INV-PRICE", "INV-QTY", "INV-TAX-OVER"))
    now = utcnow()
    with bo_store.write() as conn:
        conn.execute(items.update().where(items.c.id.in_(late[:3])).values(due_at=now - timedelta(hours=2)))
        conn.execute(
            items.update().where(items.c.id.in_(late[3:])).values(at_risk_at=now - timedelta(minutes=5))
        )
    page = _page(browser, server)
    with _shots(page, artifacts, "queue-layout"):
        _login(page, "associate")
        page.goto("/queue")
        page.screenshot(path=str(artifacts / "queue-1280.png"))
        assert _visible_rows(page) >= 20
        heights = page.eval_on_selector_all(
            "#queue tbody tr", "rs => rs.map(r => r.getBoundingClientRect().height)"
        )
        assert max(heights) < 30, heights  # one line per row: Due, Bot, Rules never wrap
        assert page.locator("details#facets").get_attribute("open") is None  # collapsed
        page.click("details#facets summary")
        assert page.locator("details#facets .facet").first.is_visible()
        colours = {
            s: page.eval_on_selector(f".sla.{s}", "e => getComputedStyle(e).backgroundColor")
            for s in ("ok", "at_risk", "overdue")
        }
        assert len(set(colours.values())) == 3 and "rgba(0, 0, 0, 0)" not in colours.values(), colours


def test_bulk_select_all_reassign_and_claim_with_a_partial_failure(
    server,
    browser,
    bo_store,
    bo_users,
    artifacts: Path,
) -> None:
    ids = _enqueue(bo_store, 5)
    Queue(bo_store).claim(ids[0], "associate2")
    page = _page(browser, server)
    with _shots(page, artifacts, "bulk"):
        _login(page, "team_lead")
        page.select_option("#select-all", "page")
        page.select_option("select[name=to]", "associate")
        page.click("button[value=reassign]")
        page.wait_for_url("**/queue/bulk")
        assert page.locator("#bulk-results tbody tr[data-ok=yes]").count() == 5
        assert all(Queue(bo_store).get(i).row["assigned_to"] == "associate" for i in ids)
        page.click("#back")
        page.wait_for_url("**/queue*")
        for i in ids[:3]:
            page.check(f"input[name=ids][value='{i}']")
        page.click("button[value=claim]")
        page.wait_for_url("**/queue/bulk")
        assert page.locator("#bulk-results tbody tr[data-ok=yes]").count() == 2
        refused = page.locator(f"#bulk-results tbody tr[data-id='{ids[0]}'][data-ok=no]")
        assert "claimed by associate2" in refused.inner_text()
        assert page.locator("#bulk-failures").is_visible()
        page.screenshot(path=str(artifacts / "bulk-results-1280.png"))


def test_postpone_in_the_inbox_hides_the_item_until_its_date(
    server,
    browser,
    bo_store,
    bo_users,
    artifacts: Path,
) -> None:
    ids = _enqueue(bo_store, 3)
    page = _page(browser, server)
    with _shots(page, artifacts, "postpone"):
        _login(page, "associate")
        page.check(f"input[name=ids][value='{ids[1]}']")
        page.click("#more-actions summary")
        page.fill("input[name=reason]", "vendor sends a credit note")
        page.fill("#postpone-until", (utcnow() + timedelta(days=5)).date().isoformat())
        page.click("button[value=postpone]")
        page.wait_for_url("**/queue/bulk")
        assert page.locator("#bulk-results tbody tr[data-ok=yes]").count() == 1
        page.goto("/queue")
        shown = page.eval_on_selector_all("#queue tbody tr[data-id]", "rs => rs.map(r => +r.dataset.id)")
        assert ids[1] not in shown and ids[0] in shown
        page.click("#postponed")
        shown = page.eval_on_selector_all("#queue tbody tr[data-id]", "rs => rs.map(r => +r.dataset.id)")
        assert shown == [ids[1]]
        assert "back in" in page.locator(f"tr[data-id='{ids[1]}'] td.due").inner_text()


def test_export_button_downloads_the_filtered_view(
    server,
    browser,
    bo_store,
    bo_users,
    artifacts: Path,
) -> None:
    _enqueue(bo_store, 4)
    queue_items(bo_store, 2, bot="other")
    page = _page(browser, server)
    with _shots(page, artifacts, "export"):
        _login(page, "associate")
        page.goto("/queue?bot=toy")
        with page.expect_download() as dl:
            page.click("#export-xlsx")
        path = dl.value.path()
        ws = load_workbook(io.BytesIO(Path(path).read_bytes()), read_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        assert len(rows) == 5 and {r[1] for r in rows[1:]} == {"toy"}
        assert IBAN not in " ".join(str(c) for r in rows for c in r if c is not None)


def test_qa_analyst_draws_a_sample_and_fails_an_item(
    server,
    browser,
    bo_store,
    bo_users,
    artifacts: Path,
) -> None:
    ids = _enqueue(bo_store, 4)
    q = Queue(bo_store)
    for i in ids:
        q.claim(i, "associate")
        q.resolve(i, "associate", "reject", "not ours", root_cause="vendor_error")
    page = _page(browser, server)
    with _shots(page, artifacts, "qa-review"):
        _login(page, "qa")
        page.click("text=QA samples")
        page.select_option("#draw select[name=bot]", "toy")
        page.fill("#draw input[name=size]", "2")
        page.fill("#draw input[name=seed]", "99")
        page.click("#draw button[type=submit]")
        page.wait_for_url("**/qa/samples/*")
        first = page.locator("#sample tbody tr").first
        item_id = int(first.get_attribute("data-id") or 0)
        first.locator("input[name=reason]").fill("rejected a valid order")
        first.locator("select[name=root_cause]").select_option("bot_defect")
        first.locator("button[value=fail]").click()
        page.wait_for_url("**done=reopened*")
        assert page.locator(f"#item-{item_id} [data-verdict=fail]").is_visible()
        page.screenshot(path=str(artifacts / "qa-sample-1280.png"))
        assert Queue(bo_store).get(item_id).status == "open"
        page.goto("/kpis")
        page.locator("#qa-accuracy").screenshot(path=str(artifacts / "kpis-qa-1280.png"))
        assert page.locator("[data-kpi='qa.by_bot.toy']").inner_text() == "0.0"
