"""The audit explorer in real headless Chromium against the inbox served by uvicorn."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice import audit
from backoffice.audit.pack import verify_pack
from tests.compliance.conftest import IBAN_INVOICE, IBAN_MASTER, Scenario
from tests.inbox.test_e2e import _login, _page, browser, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_compliance_searches_reads_a_story_unmasks_and_exports(
    server: str,  # noqa: F811
    browser: object,  # noqa: F811
    scenario: Scenario,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    page = _page(browser, server)
    _login(page, "compliance")
    page.wait_for_url("**/queue")
    page.click("header nav a[href='/audit']")
    page.wait_for_url("**/audit")
    assert IBAN_MASTER not in page.content()

    page.fill("input[name=actor]", "team_lead")
    page.fill("input[name=action]", "item.approved")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**actor=team_lead**")
    assert page.locator("#audit tbody tr").count() == 2
    page.screenshot(path=str(artifacts / "audit-search.png"), full_page=True)

    # team_lead approved B: open its story from the results
    page.click(f"#audit a[href='/audit/items/{scenario.invoice_b}']")
    page.wait_for_url(f"**/audit/items/{scenario.invoice_b}")
    story = audit.entries(scenario.store, subject=f"item:{scenario.invoice_b}")
    assert page.locator("#timeline tbody tr").count() == len(story)
    assert "invoices/INV-B.pdf" in page.inner_text("main")
    assert "hash ok" in page.inner_text(".evidence") and IBAN_INVOICE not in page.content()
    page.screenshot(path=str(artifacts / "audit-item-story.png"), full_page=True)

    page.fill("form[action$='/unmask'] input[name=reason]", "fraud review 4711")
    page.click("form[action$='/unmask'] button")
    page.wait_for_load_state()
    assert IBAN_INVOICE in page.content()
    assert audit.entries(scenario.store, action="pii.unmasked")[-1]["data"]["reason"] == "fraud review 4711"

    with page.expect_download() as dl:
        page.click("form[action='/audit/export'] button")
    pack = tmp_path / "pack.zip"
    dl.value.save_as(pack)
    report = verify_pack(pack)
    assert report.ok and report.entries == len(
        audit.entries(scenario.store, subject=f"item:{scenario.invoice_b}")
    )
    assert page.dialogs == []  # type: ignore[attr-defined]
