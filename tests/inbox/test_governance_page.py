"""/governance: the governance report as a page (summary, SLA per owner with its chart, series,
backlog, QA, incidents, open changes) and its workbook download, audited; readers only."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from backoffice import audit
from backoffice.queue import Queue
from backoffice.runner import run_bot
from backoffice.store import utcnow
from backoffice.testing import queue_items
from tests.core.test_incidents import FailBot
from tests.inbox.conftest import login, make_client


def test_the_page_and_the_workbook(bo_store, bo_users):
    first = queue_items(bo_store, 2)[0]
    q = Queue(bo_store)
    q.claim(first, "associate")
    q.resolve(first, "associate", "reject", "duplicate")
    with pytest.raises(KeyError):
        run_bot(FailBot(), {"mode": "defect"}, store=bo_store)
    client = make_client(bo_store)
    login(client, "approver")
    assert 'href="/governance"' in client.get("/queue").text
    page = client.get("/governance")
    assert page.status_code == 200
    text = page.text
    assert 'id="owner-chart"' in text and 'data-owner="(no owner)"' in text
    assert 'data-summary="exception rounds">2<' in text and 'data-summary="incidents opened">1<' in text
    assert "bot-defect" in text and "no register in force" in text
    t = utcnow().date().isoformat()
    assert client.get(f"/governance?from={t}&to=2026-13-40").status_code == 400
    download = client.get(f"/governance.xlsx?from={t}&to={t}")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(download.content))
    assert "sla_by_owner" in wb.sheetnames and len(wb["daily"]._charts) == 2
    entry = audit.entries(bo_store, action="report.export")[-1]
    assert entry["actor"] == "approver" and entry["data"]["file"] == f"governance-{t}-{t}.xlsx"

    worker = make_client(bo_store)
    login(worker, "associate")
    assert 'href="/governance"' not in worker.get("/queue").text
    assert worker.get("/governance").status_code == 403
    assert worker.get("/governance.xlsx").status_code == 403
