"""/incidents: the list, an incident's page with its timeline, the client approver's notification
decision and the provider's acknowledge/resolve forms; the nav link for its readers only; the
open incidents on /kpis."""

from __future__ import annotations

import pytest

from backoffice import audit
from backoffice import incidents as inc
from backoffice.runner import run_bot
from tests.core.test_incidents import FailBot
from tests.inbox.conftest import login, make_client, post


@pytest.fixture
def incident(bo_store, bo_users) -> int:
    with pytest.raises(KeyError):
        run_bot(FailBot(), {"mode": "defect"}, store=bo_store)
    return inc.list_incidents(bo_store, "team_lead")[0].id


def test_the_nav_links_incidents_for_its_readers_only(bo_store, bo_users, incident):
    for name in ("team_lead", "approver", "compliance"):
        client = make_client(bo_store)
        login(client, name)
        assert 'href="/incidents"' in client.get("/queue").text
    client = make_client(bo_store)
    login(client, "associate")
    assert 'href="/incidents"' not in client.get("/queue").text
    assert client.get("/incidents").status_code == 403
    assert client.get(f"/incidents/{incident}").status_code == 403
    assert audit.entries(bo_store, action="permission.denied")[-1]["actor"] == "associate"


def test_the_list_and_the_page_with_its_timeline_and_forms(bo_store, bo_users, incident):
    lead = make_client(bo_store)
    token = login(lead, "team_lead")
    listing = lead.get("/incidents")
    assert listing.status_code == 200 and f'href="/incidents/{incident}"' in listing.text
    assert "bot-defect" in listing.text and "undecided" in listing.text
    assert f'href="/incidents/{incident}"' not in lead.get("/incidents?status=resolved").text
    page = lead.get(f"/incidents/{incident}")
    assert page.status_code == 200
    assert 'data-action="incident.opened"' in page.text and 'data-action="incident.escalated"' in page.text
    assert 'id="ack"' in page.text and 'id="decide"' not in page.text  # the provider does not decide
    assert post(lead, f"/incidents/{incident}/decide", token, notify="yes", reason="x").status_code == 403

    approver = make_client(bo_store)
    atoken = login(approver, "approver")
    page = approver.get(f"/incidents/{incident}")
    assert 'id="decide"' in page.text and 'id="ack"' not in page.text
    assert (
        post(approver, f"/incidents/{incident}/decide", atoken, notify="maybe", reason="x").status_code == 400
    )
    r = post(approver, f"/incidents/{incident}/decide", atoken, notify="no", reason="internal only")
    assert r.status_code == 303 and r.headers["location"] == f"/incidents/{incident}"
    assert 'id="decide"' not in approver.get(f"/incidents/{incident}").text

    assert post(lead, f"/incidents/{incident}/ack", token, note="on it").status_code == 303
    assert post(lead, f"/incidents/{incident}/resolve", token, note="fixed").status_code == 303
    page = lead.get(f"/incidents/{incident}").text
    for step in ("decided", "acknowledged", "resolved"):
        assert f'data-action="incident.{step}"' in page
    assert "note=fixed" in page and "internal only" in page and 'id="resolve"' not in page
    assert post(lead, f"/incidents/{incident}/resolve", token).status_code == 409  # already resolved
    assert lead.get("/incidents/999").status_code == 404


def test_open_incidents_on_the_kpi_page(bo_store, bo_users, incident):
    lead = make_client(bo_store)
    token = login(lead, "team_lead")
    page = lead.get("/kpis").text
    assert 'id="open-incidents"' in page and f'href="/incidents/{incident}"' in page
    post(lead, f"/incidents/{incident}/resolve", token)
    assert f'href="/incidents/{incident}"' not in lead.get("/kpis").text
    associate = make_client(bo_store)
    login(associate, "associate")
    assert 'id="open-incidents"' not in associate.get("/kpis").text
