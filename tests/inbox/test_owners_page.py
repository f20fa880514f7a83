"""/owners: the ownership register in the inbox (the register in force, who is away, proposals
with their diff, the client approver's decision), and the item page's decision owner and
response commitment."""

from __future__ import annotations

from datetime import timedelta

from backoffice import audit
from backoffice.ownership import current_register, mark_away, parse_register, propose
from backoffice.store import Store, utcnow
from backoffice.testing import queue_items
from backoffice.users import add_user
from tests.core.test_ownership import REGISTER
from tests.inbox.conftest import login, make_client, post


def _users(store: Store) -> dict[str, str]:
    from backoffice.users import list_users

    return {u.name: u.role for u in list_users(store)}


def _setup(store: Store) -> None:
    add_user(store, "lead2", "team_lead", password="lead2-password")
    add_user(store, "approver2", "approver", password="approver2-password")


def test_the_page_shows_the_register_in_force_and_a_proposal_with_its_diff(bo_store, bo_users):
    _setup(bo_store)
    first = propose(bo_store, parse_register(REGISTER, users=_users(bo_store)), "expert")
    reader = make_client(bo_store)
    login(reader, "associate")
    assert 'href="/owners"' in reader.get("/queue").text  # in the nav
    page = reader.get("/owners").text
    assert 'id="no-register"' in page and f'id="proposal-{first.id}"' in page
    assert "2 added, 0 removed, 0 changed" in page

    approver = make_client(bo_store)
    token = login(approver, "approver")
    assert 'id="approve"' in approver.get(f"/owners/{first.id}").text
    r = post(approver, f"/owners/{first.id}/approve", token, reason="agreed")
    assert r.status_code == 303 and r.headers["location"] == f"/owners/{first.id}"
    assert current_register(bo_store).id == first.id  # type: ignore[union-attr]
    assert audit.entries(bo_store, action="owners.approved")[-1]["actor"] == "approver"

    changed = REGISTER.replace("response_hours = 24", "response_hours = 12")
    second = propose(bo_store, parse_register(changed, users=_users(bo_store)), "team_lead", reason="faster")
    page = reader.get("/owners").text
    assert 'id="register"' in page and "<strong>team_lead</strong>" in page and "24 h" in page  # old in force
    assert (
        f'id="diff-{second.id}"' in page
        and "response_hours" in page
        and "0 added, 0 removed, 1 changed" in page
    )
    assert 'id="approve"' not in reader.get(f"/owners/{second.id}").text  # readers see no forms
    token = login(reader, "associate")
    assert post(reader, f"/owners/{second.id}/approve", token).status_code == 403

    mark_away(bo_store, "team_lead", utcnow() + timedelta(days=1), by="admin")
    assert "team_lead until" in reader.get("/owners").text
    assert reader.get("/owners/999").status_code == 404


def test_the_item_page_shows_its_decision_owner_and_response_commitment(bo_store, bo_users):
    _setup(bo_store)
    rec = propose(bo_store, parse_register(REGISTER, users=_users(bo_store)), "expert")
    from backoffice.ownership import approve

    approve(bo_store, rec.id, "approver")
    item_id = queue_items(bo_store, 1, codes=("X",), amount="50.00")[0]
    client = make_client(bo_store)
    login(client, "associate")
    page = client.get(f"/items/{item_id}").text
    assert 'id="decision-owner"><strong>team_lead</strong>' in page and "(backup lead2)" in page
    assert 'id="response-due">24 h: by' in page
    mark_away(bo_store, "team_lead", utcnow() + timedelta(days=1), by="admin")
    page = client.get(f"/items/{item_id}").text
    assert "<strong>lead2</strong> <small>(backup of team_lead, who is away)" in page
    # its approval is for the backup: the team lead's page has no check form, the backup's has
    from backoffice.queue import Queue

    Queue(bo_store).claim(item_id, "associate")
    Queue(bo_store).resolve(item_id, "associate", "approve", "fine")
    add_user(bo_store, "lead3", "team_lead", password="lead3-password")
    other = make_client(bo_store)
    login(other, "lead3")
    text = other.get(f"/items/{item_id}").text
    assert 'id="owner-gate"' in text and 'id="check-form"' not in text
    backup = make_client(bo_store)
    login(backup, "lead2")
    assert 'id="check-form"' in backup.get(f"/items/{item_id}").text
