"""The audit explorer in the inbox (TestClient on the real app and a real SQLite store)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from backoffice import audit
from backoffice.audit.pack import verify_pack
from backoffice.testing import TEST_USERS
from tests.compliance.conftest import IBAN_MASTER, Scenario
from tests.inbox.conftest import csrf_of, make_client, post


def _login(client, name: str) -> str:
    page = client.get("/login")
    r = client.post(
        "/login", data={"csrf_token": csrf_of(page.text), "username": name, "password": f"{name}-password"}
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/", follow_redirects=True).text)


@pytest.mark.parametrize("user", sorted(TEST_USERS))
def test_who_may_open_the_explorer(scenario: Scenario, user: str) -> None:
    c = make_client(scenario.store)
    _login(c, user)
    r = c.get("/audit")
    if TEST_USERS[user] in ("compliance", "qa_analyst"):
        assert r.status_code == 200 and 'id="audit"' in r.text
        assert IBAN_MASTER not in r.text and "••••3000" in r.text  # masked for both
        viewed = audit.entries(scenario.store, action="audit.viewed")[-1]
        assert viewed["actor"] == user and viewed["data"]["what"] == "search"
        assert ("Export" in r.text) == (TEST_USERS[user] == "compliance")
    else:
        assert r.status_code == 403
        assert audit.entries(scenario.store, action="permission.denied")[-1]["actor"] == user
    assert c.get(f"/audit/items/{scenario.invoice_a}").status_code == (200 if r.status_code == 200 else 403)
    assert c.get("/audit/access-review").status_code == (200 if TEST_USERS[user] == "compliance" else 403)


def test_search_filters_and_paging(scenario: Scenario) -> None:
    c = make_client(scenario.store)
    _login(c, "compliance")
    r = c.get("/audit", params={"actor": "team_lead", "action": "item.approved"})
    seqs = [e["seq"] for e in audit.entries(scenario.store, actor="team_lead", action="item.approved")]
    assert r.status_code == 200 and all(f'data-seq="{s}"' in r.text for s in seqs)
    assert r.text.count("<tr data-seq=") == len(seqs) == 2
    r = c.get("/audit", params={"item": str(scenario.invoice_c), "action": "item.*"})
    assert r.text.count("<tr data-seq=") == len(
        audit.entries(scenario.store, subject=f"item:{scenario.invoice_c}")
    )
    r = c.get("/audit", params={"bot": "test-payroll"})
    assert "test-payroll" in r.text and "test-invoices" not in r.text.split('id="audit"')[1]
    assert c.get("/audit", params={"since": "not-a-date"}).status_code == 400
    assert "No audit entries match" in c.get("/audit", params={"until": "2000-01-01"}).text


def test_item_story_unmask_and_export(scenario: Scenario) -> None:
    s = scenario.store
    c = make_client(s)
    token = _login(c, "compliance")
    r = c.get(f"/audit/items/{scenario.invoice_a}")
    assert r.status_code == 200
    assert "invoices/INV-A.pdf" in r.text and "item.queued" in r.text and "item.resolved" in r.text
    assert scenario.evidence in r.text and "hash ok" in r.text
    assert IBAN_MASTER not in r.text
    token = csrf_of(r.text)
    assert post(c, f"/audit/items/{scenario.invoice_a}/unmask", token, reason="").status_code == 400
    r = post(c, f"/audit/items/{scenario.invoice_a}/unmask", token, reason="fraud check 12")
    assert r.status_code == 200 and IBAN_MASTER in r.text
    assert audit.entries(s, action="pii.unmasked")[-1]["data"]["reason"] == "fraud check 12"

    r = post(c, "/audit/export", token, item=str(scenario.invoice_a))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    pack = s.home / "downloaded.zip"
    pack.write_bytes(r.content)
    report = verify_pack(pack)
    assert report.ok and report.entries == len(audit.entries(s, subject=f"item:{scenario.invoice_a}"))
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert f"evidence/{scenario.evidence}" in zf.namelist()
        assert json.loads(zf.read("manifest.json"))["filters"]["item"] == f"item:{scenario.invoice_a}"
    assert audit.entries(s, action="audit.exported")[-1]["actor"] == "compliance"
    assert not [p for p in s.home.glob("pack-*")]  # the temporary pack is gone


def test_qa_cannot_unmask_or_export_and_forms_need_csrf(scenario: Scenario) -> None:
    c = make_client(scenario.store)
    token = _login(c, "qa")
    r = post(c, "/audit/unmask", token, reason="curious")
    assert r.status_code == 403 and IBAN_MASTER not in r.text
    assert post(c, "/audit/export", token).status_code == 403
    assert c.post("/audit/verify", data={"csrf_token": "wrong"}).status_code == 403
    r = post(c, "/audit/verify", token)
    assert r.status_code == 200 and "Audit chain intact" in r.text


def test_access_review_and_retention_pages(scenario: Scenario) -> None:
    c = make_client(scenario.store)
    _login(c, "compliance")
    r = c.get("/audit/access-review")
    # checking a round and making the next one after a reopen is no conflict (issue 13)
    assert "SOD-MAKER-CHECKER" not in r.text and "SOD-BANK-CHANGE-APPROVAL" in r.text
    r = c.get("/audit/retention")
    assert r.status_code == 200 and "financial" in r.text
    r = post(
        c, "/audit/retention/holds", csrf_of(r.text), scope=f"item:{scenario.invoice_b}", reason="case 9"
    )
    assert r.status_code == 200 and f"item:{scenario.invoice_b}" in r.text
    hold = audit.entries(scenario.store, action="legal_hold.placed")[-1]
    r = post(c, f"/audit/retention/holds/{hold['data']['hold']}/release", csrf_of(r.text), reason="closed")
    assert r.status_code == 200 and "No active holds" in r.text
