"""The queue page's rows are worked out in Python (queue_routes.queue_rows), titles are masked from
the title's own path, the listing reads SQLite's values untyped and compiles each hinted statement
once per shape (issue 15: the 100-row page at 1,000,000 items). None of it may change what the
page shows: each is compared here with the way the page was made before."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, update

from backoffice.inbox import listing as listing_module
from backoffice.inbox import web
from backoffice.inbox.listing import Filters, QueueListing
from backoffice.inbox.queue_routes import _title_only, item_titles
from backoffice.items import Item, SourceRef
from backoffice.pii import DataClass, Masking, Policy
from backoffice.queue import Queue
from backoffice.rules import RuleSet, Violation, rule
from backoffice.schema import items
from backoffice.store import utcnow
from backoffice.testing import queue_items
from tests.inbox.conftest import HOSTILE, IBAN, login, make_client

# The table rows as queue.html rendered them before queue_rows (the reference: same context names)
REFERENCE_ROWS = """{% for it in page.rows %}<input type="hidden" name="page_ids" value="{{ it.row["id"] }}">{% endfor %}
<div class="scroll-x">
<table class="grid dense" id="queue">
<thead><tr><th><span class="sr">Select</span>✓</th><th>Id</th><th>Item</th><th>Bot</th><th>Rules</th><th>Status</th><th>Owner</th><th>Assignee</th><th class="num">Amount</th><th>Prio</th><th>Age</th><th>SLA</th><th>Due</th></tr></thead>
<tbody>
{% for it in page.rows %}
{# the row's stored columns by key (one dict look-up each); status, assignee and SLA state are the item's own (an expired claim reads as open) #}
{% set r = it.row %}{% set s = it.sla_state %}{% set i = r["id"] %}{% set assignee = it.assignee %}
<tr data-id="{{ i }}" class="sla-{{ s }}">
  <td><input type="checkbox" name="ids" value="{{ i }}" aria-label="select item {{ i }}"></td>
  <td><a href="/items/{{ i }}">#{{ i }}</a></td>
  <td class="title"><a href="/items/{{ i }}">{{ titles.get(i) or "item " ~ i }}</a>{% if r["kind"] == "system" %} <span class="badge">system</span>{% endif %}</td>
  <td class="bot">{{ r["bot"] }}</td>
  <td class="codes">{% for c in (r["codes"] or "").split() %}<span class="badge code">{{ c }}</span> {% endfor %}</td>
  <td>{{ it.status.replace("_", " ") }}{% if r["approver_only"] %} <span class="badge">approver</span>{% endif %}</td>
  <td>{{ r["owner_role"] or "–" }}{% if r["tier"] and r["tier"] != r["owner_role"] %} <small>(tier: {{ r["tier"] }})</small>{% endif %}</td>
  <td>{{ assignee or "–" }}{% if r["assigned_to"] and r["assigned_to"] != assignee %} <small title="assigned to">→ {{ r["assigned_to"] }}</small>{% endif %}</td>
  <td class="num">{{ r | shown_amount | money(r["currency"]) }}</td>
  <td>{{ r["priority"] }}</td>
  <td>{{ r["queued_at"] | since }}</td>
  <td><span class="sla {{ s }}" data-sla="{{ s }}">{{ {"ok": "on time", "at_risk": "at risk", "overdue": "overdue", "none": "–"}[s] }}</span></td>
  <td class="due">{% if r["postponed_until"] and f.postponed %}<small>back {{ r["postponed_until"] | until }}</small> {% endif %}{{ r["due_at"] | until }}</td>
</tr>
{% else %}
<tr><td colspan="13">No items match these filters.</td></tr>
{% endfor %}
</tbody>
</table>"""

PAGES = [
    {},
    {"size": "100"},
    {"sort": "newest", "size": "100"},
    {"sort": "age", "size": "100", "code": "T-TWO"},
    {"sort": "priority", "size": "25"},
    {"sort": "id", "size": "100"},
    {"status": "claimed", "size": "100"},
    {"status": "open", "kind": "business", "sort": "newest"},
    {"status": "pending_approval"},
    {"postponed": "yes", "size": "100"},
    {"bot": "payroll-reconciliation", "size": "100"},
    {"bot": "toy", "sla": "overdue", "size": "100"},
    {"kind": "system"},
    {"assigned": "associate2", "size": "100"},
    {"status": "resolved"},
]


def _rules() -> RuleSet:
    def make(code: str, hours: float, role: str, priority: int) -> Any:
        @rule(code=code, owner_role=role, sla=timedelta(hours=hours), priority=priority)
        def check(model: Any, ctx: Any) -> list[Any]:
            return []

        return check

    return RuleSet("render", [make("T-ONE", 4, "associate", 2), make("T-TWO", 30, "team_lead", 4)])


@pytest.fixture
def varied(bo_store, bo_users):
    """180 queued items of three installed bots and an unknown one: titles with markup, IBANs,
    numbers and no title; personal pay; claims live and expired, assignments, tiers, approver-only,
    system items, postponed items, no due time, odd amounts and currencies."""
    rnd = random.Random(15)
    bots = ("toy", "payroll-reconciliation", "invoice-matching", "unknown-bot")
    names = ["Jane Doe", HOSTILE, IBAN, f"acct {IBAN} ok", "Émile Ünïcode", "", None, 12345, ["x"], "x" * 100]
    its = []
    for i in range(180):
        bot = bots[i % 4]
        name = names[i % len(names)]
        payload: dict[str, Any] = {"n": i, "iban": IBAN, "lines": [{"qty": i}]}
        if bot == "toy":
            payload |= {"order_id": name, "customer": HOSTILE}
        elif bot == "payroll-reconciliation":
            payload |= {"employee": {"name": name, "iban": IBAN, "national_id": "123-45-6789"}}
        elif bot == "invoice-matching":
            payload |= {"invoice_number": name}
        else:
            payload |= {"title": f"T {i} 98765"}
        codes = ["T-ONE", "T-TWO"][i % 2 : i % 2 + 1 + (i % 5 == 0)]
        its.append(
            Item(
                bot=bot,
                key=f"r{i}",
                payload=payload,
                source=SourceRef(file="f.csv", locator=f"row {i}"),
                amount=Decimal(i * 37) + Decimal("0.45"),
                currency="EUR",
                kind="system" if i % 13 == 0 else "business",
                violations=[Violation(code=c, message=f"m {HOSTILE}", field="amount") for c in codes],
            )
        )
    ids = queue_items(bo_store, its, ruleset=_rules())
    now = utcnow()
    with bo_store.write() as conn:
        for n, item_id in enumerate(ids):
            back = timedelta(minutes=(n * 97) % 3000)
            v: dict[str, Any] = {
                "queued_at": now - back,
                "due_at": now - back + timedelta(hours=(n % 7) * 8),
                "at_risk_at": now - back + timedelta(hours=(n % 7) * 6),
                "priority": rnd.randint(1, 5),
                "personal": bots[n % 4] == "payroll-reconciliation" and n % 3 != 0,
            }
            k = rnd.random()
            if k < 0.08:
                v |= {
                    "status": "claimed",
                    "assignee": rnd.choice(["associate", HOSTILE]),
                    "lease_until": now + timedelta(minutes=20),
                }
            elif k < 0.12:
                v |= {
                    "status": "claimed",
                    "assignee": "associate2",
                    "lease_until": now - timedelta(minutes=3),
                }
            elif k < 0.16:
                v |= {"status": "pending_approval", "maker": "associate"}
            elif k < 0.18:
                v |= {"status": "resolved", "decision": "approve"}
            if rnd.random() < 0.15:
                v["assigned_to"] = rnd.choice(["associate", "associate2", "team_lead"])
            if rnd.random() < 0.15:
                v["tier"] = rnd.choice(["team_lead", "approver", "associate"])
            if rnd.random() < 0.08:
                v["approver_only"] = True
            if rnd.random() < 0.08:
                v["postponed_until"] = now + timedelta(hours=rnd.randint(1, 90))
            if rnd.random() < 0.05:
                v |= {"due_at": None, "at_risk_at": None}
            if rnd.random() < 0.05:
                v["amount"] = rnd.choice([None, "abc", "12345678.999", "-0.5"])
            if rnd.random() < 0.05:
                v["currency"] = None
            if rnd.random() < 0.05:
                v["owner_role"] = None
            conn.execute(update(items).where(items.c.id == item_id).values(**v))
    return ids


@pytest.fixture
def frozen(monkeypatch):
    """One clock for the app and the reference rendering (ages and due times are minute text)."""
    now = utcnow()
    monkeypatch.setattr(web, "utcnow", lambda: now)
    monkeypatch.setattr(listing_module, "utcnow", lambda: now)
    return now


def _reference_titles(page: Any) -> dict[int, str]:
    """Titles as the page made them before: the whole payload masked, then the title field read."""
    masking = Masking()
    return {
        it.id: masking.title(it.bot, page.payloads.get(it.id)) for it in page.rows if it.id in page.payloads
    }


@pytest.mark.parametrize("user", ["associate", "team_lead"])
def test_queue_rows_render_as_the_reference_template(bo_store, varied, frozen, user):
    client = make_client(bo_store)
    login(client, user)
    listing = QueueListing(bo_store, max_stale=0)
    reference = web.templates.env.from_string(REFERENCE_ROWS)
    shown = 0
    for params in PAGES:
        url = "/queue?" + "&".join(f"{k}={v}" for k, v in params.items())
        for _ in range(3):  # the first pages, following "next"
            html = client.get(url).text
            f = Filters.parse(params)
            page = listing.page(
                f,
                sort=params.get("sort", "due"),
                size=int(params.get("size", "50")),
                after=params.get("after"),
            )
            expected = reference.render(page=page, titles=_reference_titles(page), f=f)
            start = (
                html.index('<input type="hidden" name="page_ids"')
                if page.rows
                else html.index('<table class="grid')
            )
            got = html[start : html.index("</table>", start) + len("</table>")]
            assert got == expected, (user, url)
            shown += len(page.rows)
            m = re.search(r'href="/queue\?([^"]+)" rel="next"', html)
            if not m:
                break
            params = dict(kv.split("=", 1) for kv in m.group(1).replace("&amp;", "&").split("&"))
            url = "/queue?" + m.group(1).replace("&amp;", "&")
    assert shown > 500  # every kind of row was seen, many times over
    for marker in (
        "sla-overdue",
        "sla-at_risk",
        "sla-ok",
        "sla-none",
        "(tier:",
        "→",
        "•••",
        "&lt;script&gt;",
    ):
        assert (
            marker in client.get("/queue?size=100").text + client.get("/queue?size=100&sort=newest").text
        ), marker


def test_listing_rows_are_the_typed_rows(bo_store, varied):
    # SQLite's values read untyped and converted give exactly what the columns' types give
    listing = QueueListing(bo_store, max_stale=0)
    q = Queue(bo_store)
    for status in ("queued", "claimed", "resolved"):
        page = listing.page(Filters(status=status), sort="id", size=100)
        typed = {it.id: it.row for it in q.list(status=status, sort="id", limit=None)}
        assert page.rows
        for it in page.rows:
            for col, value in it.row.items():
                assert value == typed[it.id][col] and type(value) is type(typed[it.id][col]), (it.id, col)
            assert page.payloads[it.id] == typed[it.id]["payload"]


def test_hinted_statements_compiled_once_per_shape_bind_the_same_values(bo_store, varied, frozen):
    # the same SQL and parameters as compiling every statement, over filters, sorts and cursors
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, params, context, many):
        if re.search(r"FROM items (INDEXED BY \w+|NOT INDEXED)", statement) and " AS d0" not in statement:
            seen.append((statement, params))  # the page's walks, not the count cube's scan

    cached, fresh = QueueListing(bo_store, max_stale=0), QueueListing(bo_store, max_stale=0)
    hinted = 0
    event.listen(bo_store.engine, "before_cursor_execute", record)
    try:
        for params in ({}, {"code": "T-TWO"}, {"bot": "toy"}, {"status": "claimed"}, {"kind": "system"}):
            for sort in ("id", "newest", "age"):
                f = Filters.parse(params)
                cursor = None
                for _ in range(4):
                    seen.clear()
                    a = cached.page(f, sort=sort, size=25, after=cursor, facets=False)
                    got = list(seen)
                    seen.clear()
                    fresh._hinted.clear()
                    b = fresh.page(f, sort=sort, size=25, after=cursor, facets=False)
                    assert got == seen and [it.row for it in a.rows] == [it.row for it in b.rows]
                    hinted += len(got)
                    if not a.next_cursor:
                        break
                    cursor = a.next_cursor
    finally:
        event.remove(bo_store.engine, "before_cursor_execute", record)
    assert hinted > 40 and 0 < len(cached._hinted) < hinted / 2  # shapes, not statements


PATHS = ["order_id", "employee.name", "lines.0.name", "lines[1].person.name", "a.b.c", "missing"]


def _random_value(rnd: random.Random, depth: int = 0) -> Any:
    k = rnd.random()
    if depth < 3 and k < 0.25:
        return {
            rnd.choice(["name", "person", "b", "c", "iban", "x"]): _random_value(rnd, depth + 1)
            for _ in range(3)
        }
    if depth < 3 and k < 0.4:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return rnd.choice(
        [
            None,
            True,
            0,
            12345,
            3.5,
            "",
            "Jane",
            HOSTILE,
            IBAN,
            f"pay {IBAN}",
            "password=hunter2x",
            "1234 5678",
        ]
    )


@pytest.mark.parametrize("installed", [True, False])
def test_a_title_masked_from_its_own_path_is_the_title_masked_from_the_whole_payload(installed):
    rnd = random.Random(7)
    classes = {
        "employee": DataClass.CONTACT,
        "employee.name": DataClass.CONTACT,
        "lines.*.name": DataClass.CONTACT,
        "lines.1.person": DataClass.NATIONAL_ID,
        "a.b": DataClass.PAY,
        "iban": DataClass.BANK_ACCOUNT,
        "order_id": DataClass.SECRET,
    }
    for clear in (frozenset(), frozenset({DataClass.CONTACT, DataClass.PAY})):
        for path in PATHS:
            masking = Masking(clear=clear)
            masking._policies["b"] = Policy(
                "b", installed=installed, classes=classes if installed else {}, title_field=path
            )
            for _ in range(300):
                payload = {
                    "order_id": _random_value(rnd),
                    "employee": _random_value(rnd),
                    "lines": [_random_value(rnd) for _ in range(rnd.randint(0, 3))],
                    "a": _random_value(rnd),
                    "iban": IBAN,
                }
                if rnd.random() < 0.1:
                    payload = rnd.choice([None, [], "text", {}])
                assert masking.title("b", _title_only(payload, path)) == masking.title("b", payload), (
                    path,
                    payload,
                )


def test_item_titles_are_those_of_the_whole_payloads(bo_store, varied):
    listing = QueueListing(bo_store, max_stale=0)
    page = listing.page(Filters(), size=100)
    assert item_titles(page.rows, page.payloads) == _reference_titles(page)
    assert len({t for t in item_titles(page.rows, page.payloads).values() if t}) > 3
