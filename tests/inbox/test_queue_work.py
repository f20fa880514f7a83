"""The queue page's daily work in the inbox: saved views, awaiting my approval, export, bulk
actions with select-all, postpone, and the QA review pages and KPI section (issue 13)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

from openpyxl import load_workbook

from backoffice import audit
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.schema import items
from backoffice.store import utcnow
from backoffice.testing import queue_items
from tests.core.toybot import RULES
from tests.inbox.conftest import IBAN, login, make_client, post


def _enqueue(store, n, *, amount="100.00", start=0):
    its = [
        Item(
            bot="toy",
            key=f"w-{i}",
            payload={
                "order_id": f"=CMD|' /C calc'!A{i}",
                "customer": f"C{i}",
                "amount": amount,
                "iban": IBAN,
            },
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal(amount),
            currency="EUR",
            violations=[Violation(code="TOY-LIMIT", message=f"bank {IBAN}", field="amount", actual=amount)],
        )
        for i in range(start, start + n)
    ]
    return queue_items(store, its, ruleset=RULES)


def _rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


def _results(html: str) -> dict[int, str]:
    return {int(i): ok for i, ok in re.findall(r'<tr class="[^"]*" data-id="(\d+)" data-ok="(yes|no)"', html)}


def _actions(store, action):
    return [e for e in audit.entries(store) if e["action"] == action]


def test_saved_views_are_kept_per_user_and_listed(bo_store, bo_users):
    _enqueue(bo_store, 2)
    c = make_client(bo_store)
    token = login(c, "associate")
    r = post(c, "/queue/views", token, name="Toy at risk", q_bot="toy", q_sla="at_risk", q_bogus="x")
    assert r.status_code == 303 and r.headers["location"] == "/queue?bot=toy&sla=at_risk"
    page = c.get("/queue").text
    assert 'data-view="Toy at risk"' in page and "/queue?bot=toy&amp;sla=at_risk" in page
    other = make_client(bo_store)
    login(other, "associate2")
    assert "Toy at risk" not in other.get("/queue").text
    assert post(c, "/queue/views/delete", token, name="Toy at risk").status_code == 303
    assert "Toy at risk" not in c.get("/queue").text
    assert c.post("/queue/views", data={"name": "x"}).status_code == 403  # no CSRF token


def test_awaiting_my_approval_view(bo_store, bo_users):
    small = _enqueue(bo_store, 1)
    big = _enqueue(bo_store, 1, amount="90000.00", start=1)
    q = Queue(bo_store)
    for i in small + big:
        q.claim(i, "associate")
        q.resolve(i, "associate", "approve", "ok")
    lead = make_client(bo_store)
    login(lead, "team_lead")
    assert _rows(lead.get("/queue?view=awaiting").text) == small
    appr = make_client(bo_store)
    login(appr, "approver")
    assert sorted(_rows(appr.get("/queue?view=awaiting").text)) == sorted(small + big)
    assoc = make_client(bo_store)
    login(assoc, "associate")
    assert "Awaiting my approval" not in assoc.get("/queue").text
    assert assoc.get("/queue?view=awaiting").status_code == 403
    assert _actions(bo_store, "permission.denied")[-1]["actor"] == "associate"


def test_export_buttons_give_the_filtered_view_masked_and_formula_safe(bo_store, bo_users):
    _enqueue(bo_store, 3)
    queue_items(bo_store, 2, bot="other")
    c = make_client(bo_store)
    login(c, "associate")
    page = c.get("/queue?bot=toy").text
    link = re.search(r'href="(/queue/export\?[^"]*format=xlsx[^"]*)" id="export-xlsx"', page)
    assert link, "no xlsx export button"
    r = c.get(link.group(1).replace("&amp;", "&"))
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="queue.xlsx"'
    ws = load_workbook(io.BytesIO(r.content), read_only=True).active
    rows = [list(x) for x in ws.iter_rows(values_only=True)]
    assert len(rows) == 4 and {x[1] for x in rows[1:]} == {"toy"}
    cells = [str(v) for x in rows for v in x if v is not None]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)
    assert IBAN not in " ".join(cells)
    r = c.get("/queue/export?format=csv&bot=other")
    got = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(got) == 3 and {x[1] for x in got[1:]} == {"other"}
    assert c.get("/queue/export?format=pdf").status_code == 400
    assert [e["data"]["rows"] for e in _actions(bo_store, "queue.exported")] == [3, 2]


def test_bulk_claim_release_and_reassign_report_each_item(bo_store, bo_users):
    ids = _enqueue(bo_store, 4)
    q = Queue(bo_store)
    q.claim(ids[0], "associate2")  # someone else holds the first
    c = make_client(bo_store)
    token = login(c, "associate")
    r = post(c, "/queue/bulk", token, action="claim", ids=[str(i) for i in ids])
    res = _results(r.text)
    assert res == {ids[0]: "no", ids[1]: "yes", ids[2]: "yes", ids[3]: "yes"}
    assert "1 refused" in r.text and "claimed by associate2" in r.text
    r = post(c, "/queue/bulk", token, action="release", ids=[str(i) for i in ids[1:3]])
    assert set(_results(r.text).values()) == {"yes"}
    # an associate may not reassign: each refusal audited
    r = post(c, "/queue/bulk", token, action="reassign", to="associate2", ids=[str(ids[1])])
    assert r.status_code == 409 and _results(r.text) == {ids[1]: "no"}
    assert _actions(bo_store, "permission.denied")[-1]["data"]["attempted"] == "assign"
    lead = make_client(bo_store)
    ltoken = login(lead, "team_lead")
    page = lead.get("/queue").text
    assert '<option value="associate2">associate2</option>' in page  # reassign targets
    r = post(
        lead,
        "/queue/bulk",
        ltoken,
        action="reassign",
        to="associate2",
        select_all="page",
        page_ids=[str(i) for i in ids],
    )
    assert set(_results(r.text).values()) == {"yes"} and len(_results(r.text)) == 4
    assert all(q.get(i).row["assigned_to"] == "associate2" for i in ids)
    assert len(_actions(bo_store, "item.assigned")) == 4
    assert _rows(c.get("/queue?assigned=associate2").text) == ids


def test_bulk_reject_and_postpone_with_select_all_of_the_filters(bo_store, bo_users):
    ids = _enqueue(bo_store, 3)
    queue_items(bo_store, 2, bot="other")
    c = make_client(bo_store)
    token = login(c, "associate")
    until = (utcnow() + timedelta(days=3)).date().isoformat()
    r = post(
        c,
        "/queue/bulk",
        token,
        action="postpone",
        reason="waiting for the vendor",
        until=until,
        select_all="filters",
        f_bot="toy",
    )
    assert set(_results(r.text)) == set(ids) and set(_results(r.text).values()) == {"yes"}
    page = c.get("/queue").text
    assert not set(ids) & set(_rows(page))  # hidden from the default view
    assert sorted(_rows(c.get("/queue?postponed=yes").text)) == sorted(ids)
    with bo_store.write() as conn:  # their date passes: back by themselves
        conn.execute(
            items.update().where(items.c.id.in_(ids)).values(postponed_until=utcnow() - timedelta(seconds=1))
        )
    c.app.state.listing.clear_cache()
    assert set(ids) <= set(_rows(c.get("/queue").text))
    r = post(
        c,
        "/queue/bulk",
        token,
        action="reject",
        reason="duplicate order",
        root_cause="bad_source_data",
        ids=[str(i) for i in ids[:2]],
    )
    assert set(_results(r.text).values()) == {"yes"}
    assert [Queue(bo_store).get(i).row["decision"] for i in ids[:2]] == ["reject", "reject"]
    r = post(c, "/queue/bulk", token, action="postpone", reason="", until=until, ids=[str(ids[2])])
    assert _results(r.text) == {ids[2]: "no"} and "needs a reason" in r.text
    r = post(c, "/queue/bulk", token, action="postpone", reason="later", until=until, ids=[str(ids[2])])
    assert 'id="resume"' in c.get("/queue?postponed=yes").text
    r = post(c, "/queue/bulk", token, action="resume", reason="vendor answered", ids=[str(ids[2])])
    assert _results(r.text) == {ids[2]: "yes"} and Queue(bo_store).get(ids[2]).row["postponed_until"] is None
    r = post(c, "/queue/bulk", token, action="explode", ids=[str(ids[2])])
    assert r.status_code == 409 and "unknown bulk action" in r.text


def _finished(store, n):
    ids = _enqueue(store, n, start=100)
    q = Queue(store)
    for i in ids:
        q.claim(i, "associate")
        q.resolve(i, "associate", "reject", "not ours", root_cause="vendor_error")
    return ids


def test_qa_pages_draw_review_and_kpis(bo_store, bo_users):
    ids = _finished(bo_store, 6)
    qa = make_client(bo_store)
    token = login(qa, "qa")
    assert "QA samples" in qa.get("/queue").text  # in the navigation
    r = post(qa, "/qa/samples", token, bot="toy", size="3", seed="11")
    assert r.status_code == 303
    page = qa.get(r.headers["location"]).text
    drawn = [int(i) for i in re.findall(r'<tr id="item-(\d+)"', page)]
    assert len(drawn) == 3 and set(drawn) <= set(ids) and "seed 11" in page
    sid = r.headers["location"].rsplit("/", 1)[1]
    r = post(
        qa,
        f"/qa/samples/{sid}/items/{drawn[0]}",
        token,
        verdict="fail",
        reason="wrong reason code",
        root_cause="bot_defect",
    )
    assert r.status_code == 303 and "done=reopened" in r.headers["location"]
    assert Queue(bo_store).get(drawn[0]).status == "open"
    r = post(qa, f"/qa/samples/{sid}/items/{drawn[1]}", token, verdict="fail", reason="", root_cause="")
    assert r.status_code == 400
    post(qa, f"/qa/samples/{sid}/items/{drawn[1]}", token, verdict="pass")
    assert 'data-verdict="fail"' in qa.get(f"/qa/samples/{sid}").text
    kpis = qa.get("/kpis").text
    assert 'data-kpi="qa.by_bot.toy">50.0<' in kpis and 'data-kpi="qa.by_worker.associate">50.0<' in kpis
    assoc = make_client(bo_store)
    atoken = login(assoc, "associate")
    assert assoc.get("/qa").status_code == 403
    assert post(assoc, "/qa/samples", atoken, bot="toy", size="3", seed="1").status_code == 403
    assert qa.post("/qa/samples", data={"bot": "toy", "size": "3", "seed": "1"}).status_code == 403  # CSRF
