"""/governance/register: the exception register as a page (issue 14.4), linked from /governance,
filtered by period, with the same rows and masking as the xlsx of `backoffice report register`,
which it downloads (audited); readers of reports only; and the page in Chromium."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backoffice import audit
from backoffice.queue import Queue
from backoffice.queue.trends import Period
from backoffice.reports import exception_register
from backoffice.store import utcnow
from backoffice.testing import queue_items
from tests.core.test_reports import _in_force
from tests.inbox.conftest import login, make_client
from tests.inbox.test_e2e import _login, _page, browser, server  # noqa: F401 - fixtures

IBAN = "DE89370400440532013000"
REASON = f"=HYPERLINK(1) pay {IBAN}"


def _decided(store) -> tuple[int, int, int]:
    """Three exceptions: one resolved (its reason quotes an account and starts like a formula), one
    reopened by QA (two rounds), one still waiting."""
    first, second, third = queue_items(store, 3, codes=("TEST-EXCEPTION", "OTHER"))
    q = Queue(store)
    q.claim(first, "associate")
    q.resolve(first, "associate", "reject", REASON)
    q.claim(second, "associate")
    q.resolve(second, "associate", "reject", "not ours")
    q.reopen(second, "qa", "sample failed")
    return first, second, third


def _page_rows(html: str) -> list[tuple[int, int, str]]:
    return [
        (int(i), int(r), resp)
        for i, r, resp in re.findall(r'<tr data-item="(\d+)" data-round="(\d+)" data-response="(\w+)">', html)
    ]


def test_the_register_page_shows_the_rows_of_the_xlsx(bo_store, bo_users):
    first, second, third = _decided(bo_store)
    client = make_client(bo_store)
    login(client, "approver")
    t = utcnow().date().isoformat()
    governance = client.get(f"/governance?from={t}&to={t}").text
    assert f'href="/governance/register?from={t}&amp;to={t}"' in governance  # linked from the report

    page = client.get("/governance/register", params={"from": t, "to": t})
    assert page.status_code == 200
    html = page.text
    rows = _page_rows(html)
    assert sorted(rows) == [(first, 1, "met"), (second, 1, "met"), (second, 2, "open"), (third, 1, "open")]
    assert 'data-summary="rounds">4<' in html and 'data-summary="met">2<' in html
    assert 'data-summary="open">2<' in html and 'data-summary="missed">0<' in html
    assert "no register in force" in html and "Exception register of engagement default" in html
    assert f'href="/governance/register.xlsx?from={t}&amp;to={t}"' in html
    # masked as in the xlsx: the account is cut to its last 4 characters; escaped, not neutralised
    assert IBAN not in html and "=HYPERLINK(1) pay" in html and "reopened" in html

    download = client.get("/governance/register.xlsx", params={"from": t, "to": t})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(download.content))["register"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    cols = values[4]
    sheet = [dict(zip(cols, r, strict=True)) for r in values[5:]]
    assert [(r["item"], r["round"], r["response"]) for r in sheet] == rows  # the same rows, in order
    report = exception_register(bo_store, "approver", Period.parse(t, t, None))
    for shown, row in zip(sheet, report.rows, strict=True):
        assert (shown["reason"] or "") in (
            row["reason"],
            "'" + row["reason"],
        )  # the sheet's cells neutralised
        assert f">{row['outcome']}<" in html and row["title"] in html
    (masked,) = [r["reason"] for r in sheet if r["item"] == first]
    assert masked.startswith("'=HYPERLINK") and IBAN not in masked and masked.split()[-1] in html
    entry = audit.entries(bo_store, action="report.export")[-1]
    assert entry["actor"] == "approver" and entry["data"]["file"] == f"register-{t}-{t}.xlsx"
    assert entry["data"]["rows"] == 4 and entry["data"]["report"] == "register"

    # the period filters: a day before today holds none; a date the form cannot mean is a 400
    yesterday = (utcnow().date() - timedelta(days=1)).isoformat()
    empty = client.get("/governance/register", params={"from": yesterday, "to": yesterday}).text
    assert _page_rows(empty) == [] and "No exceptions queued in the period." in empty
    assert client.get("/governance/register", params={"from": "2026-13-40"}).status_code == 400
    default = client.get("/governance/register").text  # the last 30 days
    assert len(_page_rows(default)) == 4

    worker = make_client(bo_store)
    login(worker, "associate")
    assert worker.get("/governance/register").status_code == 403
    assert worker.get("/governance/register.xlsx").status_code == 403


@pytest.mark.browser
def test_the_register_page_in_chromium(server, browser, bo_store, tmp_path, artifacts: Path):  # noqa: F811
    from sqlalchemy import update

    from backoffice.schema import item_rounds, items

    _in_force(bo_store)  # owners and commitments from an ownership register
    first, _second, third = _decided(bo_store)
    with bo_store.write() as conn:  # the waiting one was queued 30 hours ago: past its 24 h
        conn.execute(
            update(item_rounds)
            .where(item_rounds.c.item_id == third)
            .values(queued_at=utcnow() - timedelta(hours=30))
        )
        conn.execute(
            update(items).where(items.c.id == third).values(response_due=utcnow() - timedelta(hours=6))
        )
    page = _page(browser, server)
    _login(page, "team_lead")
    page.wait_for_url("**/queue")
    page.goto("/governance")
    page.click("#register-link")
    page.wait_for_url("**/governance/register?**")
    table = page.locator("#register")
    assert table.locator("tbody tr").count() == 4
    box = table.bounding_box()
    assert box is not None and box["width"] > 600
    assert page.locator(f'#register tr[data-item="{first}"] .badge.ok').inner_text() == "met"
    assert page.locator(f'#register tr[data-item="{third}"] .badge.overdue').inner_text() == "missed"
    assert "in force" in page.locator("#register-header").inner_text()
    assert IBAN not in page.content()
    page.screenshot(path=str(artifacts / "register-page.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename.startswith("register-") and download.suggested_filename.endswith(
        ".xlsx"
    )
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert load_workbook(saved)["register"].max_row == 5 + 4
    page.click("#governance")
    page.wait_for_url("**/governance?**")
