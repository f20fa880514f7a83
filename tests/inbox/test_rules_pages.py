"""/rules: rule-set change control in the inbox: the list, a proposal's preview (the items whose
outcome would change), and the approver's decision; readers only, maker != checker."""

from __future__ import annotations

from backoffice import audit
from backoffice import change_control as cc
from tests.core.toybot import bot
from tests.inbox.conftest import login, make_client, post

# toy_run: orders 1..20 of 10 + i % 90 + 0.25; 3 and 7 are 5000.00 (queued), 5 unreadable.
# With limit 25 the straight-through orders 15..20 (25.25 and up) would be queued.
CHANGED = [f"O{i:05d}" for i in range(15, 21)]


def test_the_nav_links_rules_for_its_readers_only(bo_store, bo_users, toy_run):
    for name in ("expert", "approver", "compliance"):
        client = make_client(bo_store)
        login(client, name)
        assert 'href="/rules"' in client.get("/queue" if name != "expert" else "/rules").text
    client = make_client(bo_store)
    login(client, "associate")
    assert 'href="/rules"' not in client.get("/queue").text
    assert client.get("/rules").status_code == 403
    assert audit.entries(bo_store, action="permission.denied")[-1]["actor"] == "associate"


def test_a_proposal_page_previews_and_the_approver_decides(bo_store, bo_users, toy_run):
    rec = cc.propose(bo_store, bot, "expert", {"limit": "25"}, reason="fewer big orders unseen")
    expert = make_client(bo_store)
    login(expert, "expert")
    listing = expert.get("/rules")
    assert listing.status_code == 200 and f'href="/rules/{rec.id}"' in listing.text
    assert "limit: 1000 &rarr; 25" in listing.text and "development" in listing.text
    page = expert.get(f"/rules/{rec.id}")
    assert page.status_code == 200
    assert "<strong>6</strong> of 20 decided items change outcome" in page.text
    for title in CHANGED:
        assert f"<td>{title}</td>" in page.text
    assert "O00003" not in page.text  # queued before and after: unchanged, not listed
    assert page.text.count("queued: TOY-LIMIT") == 6 and 'id="approve"' not in page.text  # no forms
    short = expert.get(f"/rules/{rec.id}?last=2").text
    assert "of 2 decided items change outcome" in short

    approver = make_client(bo_store)
    token = login(approver, "approver")
    page = approver.get(f"/rules/{rec.id}")
    assert 'id="approve"' in page.text and 'id="reject"' in page.text
    assert post(approver, f"/rules/{rec.id}/reject", token, reason=" ").status_code == 400
    r = post(approver, f"/rules/{rec.id}/approve", token, reason="agreed")
    assert r.status_code == 303 and r.headers["location"] == f"/rules/{rec.id}"
    done = cc.get_version(bo_store, "approver", rec.id)
    assert done.status == "approved" and done.decided_by == "approver" and done.decision_reason == "agreed"
    assert audit.entries(bo_store, action="rules.approved")[-1]["data"]["version"] == rec.version
    after = approver.get(f"/rules/{rec.id}").text
    assert 'id="approve"' not in after and "approver" in after
    # the expert may not decide at all (role), through the page's POST either
    token = login(expert, "expert")
    assert post(expert, f"/rules/{rec.id}/approve", token).status_code == 403
    assert expert.get("/rules/999").status_code == 404
