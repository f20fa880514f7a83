"""The queue page's listing agrees with the core's Queue.list/count for every filter, sort and page."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from backoffice.errors import InputError
from backoffice.inbox.listing import AGES, SORTS, Cube, Filters, QueueListing
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.queue.postpone import postpone
from backoffice.rules import RuleSet, Violation, rule
from backoffice.schema import items
from backoffice.store import utcnow
from backoffice.testing import queue_items


def _rules() -> RuleSet:
    def make(code: str, hours: float, role: str, priority: int):
        @rule(code=code, owner_role=role, sla=timedelta(hours=hours), priority=priority)
        def check(model, ctx):
            return []

        return check

    return RuleSet(
        "mix",
        [
            make("A-ONE", 4, "associate", 2),
            make("B-TWO", 24, "team_lead", 3),
            make("C-THREE", 48, "associate", 1),
        ],
    )


@pytest.fixture
def mixed(bo_store, bo_users):
    """90 queued items over two bots and three codes, with ages from minutes to 9 days, some
    claimed (one with an expired lease), some waiting for approval, some decided."""
    rs = _rules()
    codes = ["A-ONE", "B-TWO", "C-THREE"]
    its = []
    for i in range(90):
        vs = [Violation(code=codes[i % 3], message="m", field="amount")]
        if i % 7 == 0:
            vs.append(Violation(code=codes[(i + 1) % 3], message="m2"))
        its.append(
            Item(
                bot=("alpha", "beta")[i % 2],
                key=f"m{i}",
                payload={"n": i},
                source=SourceRef(file="f.csv", locator=f"row {i}"),
                amount=Decimal(i * 100),
                currency="EUR",
                kind="system" if i % 11 == 0 else "business",
                violations=vs,
            )
        )
    q = Queue(bo_store)
    ids = queue_items(bo_store, its, ruleset=rs)
    now = utcnow()
    with bo_store.write() as conn:
        for n, item_id in enumerate(ids):
            back = timedelta(hours=(n * 2.5) % 220)  # up to ~9 days old
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    queued_at=now - back,
                    due_at=now - back + timedelta(hours=24 + n % 5 * 10),
                    at_risk_at=now - back + timedelta(hours=18 + n % 5 * 7),
                )
            )
    for item_id in ids[:6]:
        q.claim(item_id, "associate")
    q.claim(ids[6], "associate2")
    with bo_store.write() as conn:  # associate2's lease ran out: the item is open again
        conn.execute(update(items).where(items.c.id == ids[6]).values(lease_until=now - timedelta(minutes=1)))
    for item_id in ids[:3]:
        q.resolve(item_id, "associate", "approve", "ok")  # business ones wait for a checker
    q.resolve(ids[3], "associate", "reject", "no")
    return ids


GRID = {
    "status": ["queued", "open", "claimed", "pending_approval", "resolved"],
    "bot": ["", "alpha"],
    "code": ["", "B-TWO"],
    "owner_role": ["", "associate"],
    "sla": ["", "ok", "at_risk", "overdue"],
    "age": ["", "1d", "7d"],
    "kind": ["", "system"],
    "assignee": ["", "associate"],
}


def _combos():
    keys = list(GRID)
    for values in itertools.product(*GRID.values()):
        combo = dict(zip(keys, values, strict=True))
        # keep the grid small: at most two filters besides status at once
        if sum(1 for k, v in combo.items() if v and k != "status") <= 2:
            yield combo


def test_counts_and_facets_match_the_core_for_every_filter_combination(bo_store, mixed):
    listing = QueueListing(bo_store, max_stale=0)
    q = Queue(bo_store)
    checked = 0
    for combo in _combos():
        f = Filters.parse(combo)
        assert listing.count(f) == q.count(**f.core()), combo
        facets = listing.facets(f)
        if f.status in ("queued", "open", "claimed", "pending_approval"):
            for value, n in facets["bot"]:
                assert n == q.count(**f.core(bot=value)), (combo, value)
            for value, n in facets["sla"]:
                if value != "none":
                    assert n == q.count(**f.core(sla=value)), (combo, value)
            for value, n in facets["age"]:
                assert n == q.count(**f.core(age=value)), (combo, value)
        checked += 1
    assert checked > 200


@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_pages_equal_the_core_list_in_both_directions(bo_store, mixed, sort):
    listing = QueueListing(bo_store, max_stale=0)
    q = Queue(bo_store)
    for combo in ({}, {"bot": "beta"}, {"status": "open", "code": "A-ONE"}, {"sla": "ok", "age": "1d"}):
        f = Filters.parse(combo)
        expected = [it.id for it in q.list(limit=None, sort=sort, **f.core())]
        pages, cursor = [], None
        while True:
            page = listing.page(f, sort=sort, size=25, after=cursor, facets=False)
            pages.append(page)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        walked = [it.id for p in pages for it in p.rows]
        assert walked == expected, (sort, combo)
        if len(pages) > 1:  # and back again from the last page
            back = listing.page(f, sort=sort, size=25, before=pages[-1].prev_cursor, facets=False)
            assert [it.id for it in back.rows] == [it.id for it in pages[-2].rows]


def test_bad_parameters_are_input_errors(bo_store):
    with pytest.raises(InputError):
        Filters.parse({"status": "gone"})
    with pytest.raises(InputError):
        Filters.parse({"age": "2y"})
    with pytest.raises(InputError):
        QueueListing(bo_store).page(Filters(), after="%%%")
    assert set(AGES) == {"1h", "1d", "3d", "7d"}


def _floor(listing, f):
    with listing.store.read() as conn:
        return listing._due_floor(conn, f, listing.queue._filters(now=utcnow(), **f.core()))


def test_due_floor_skips_the_earlier_backlog_only_while_it_is_provably_safe(bo_store, bo_users):
    rs = _rules()  # A-ONE due in 4 h, C-THREE in 48 h
    q = Queue(bo_store)
    its = [
        Item(
            bot="alpha",
            key=f"f{i}",
            payload={"n": i},
            source=SourceRef(file="f.csv"),
            violations=[Violation(code="C-THREE" if i % 10 == 0 else "A-ONE", message="m")],
        )
        for i in range(60)
    ]
    queue_items(bo_store, its, ruleset=rs)
    listing = QueueListing(bo_store, max_stale=0)
    late = Filters(code="C-THREE")
    page = listing.page(late, size=25)
    floor = _floor(listing, late)
    assert floor is not None and floor > utcnow() + timedelta(hours=23)  # past all A-ONE items
    assert [it.id for it in page.rows] == [it.id for it in q.list(code="C-THREE", sort="due")]
    assert _floor(listing, Filters(code="C-THREE", sla="ok")) is None  # grows with time
    assert _floor(listing, Filters(status="open", code="C-THREE")) is None
    # a new matching item due earlier (4 h): the floor follows the items changed since the cube
    stale = QueueListing(bo_store, max_stale=3600)
    stale.page(late)
    before = _floor(stale, late)
    queue_items(
        bo_store,
        [
            Item(
                bot="alpha",
                key="new",
                payload={},
                source=SourceRef(file="f.csv"),
                violations=[Violation(code="C-THREE", message="m"), Violation(code="A-ONE", message="m")],
            )
        ],
        ruleset=rs,
    )
    after = _floor(stale, late)
    assert (
        after is not None
        and after < before
        and after == Queue(bo_store).list(code="A-ONE", bot="alpha", sort="newest", limit=1)[0].due_at
    )
    assert len(stale.page(late, size=100).rows) == q.count(code="C-THREE")


def test_the_cube_is_the_same_from_a_table_scan_and_from_the_status_index(bo_store, mixed):
    scanned = Cube.build(bo_store, 0, scan=True)
    walked = Cube.build(bo_store, 0, scan=False)
    assert sorted(zip(scanned.rows, scanned.first_due, strict=True), key=repr) == sorted(
        zip(walked.rows, walked.first_due, strict=True), key=repr
    )
    assert sum(n for _, n in scanned.rows) == Queue(bo_store).count(postponed=None)
    # each group's first due time is its items' earliest
    q = Queue(bo_store)
    for f in (Filters(bot="alpha"), Filters(code="B-TWO"), Filters(kind="system", owner_role="associate")):
        due = [it.due_at for it in q.list(limit=None, sort="due", **f.core())]
        assert scanned.due_floor(f) == min(due)


def test_due_floor_counts_postponed_items_that_come_back_by_themselves(bo_store, bo_users):
    rs = _rules()  # A-ONE due in 4 h, C-THREE in 48 h
    its = [
        Item(
            bot="alpha",
            key=f"p{i}",
            payload={"n": i},
            source=SourceRef(file="f.csv"),
            violations=[Violation(code="C-THREE", message="m")]
            + ([Violation(code="A-ONE", message="m")] if i == 0 else []),
        )
        for i in range(30)
    ]
    ids = queue_items(bo_store, its, ruleset=rs)
    early = ids[0]  # due in 4 h, the others in 48 h
    postpone(bo_store, early, "associate", utcnow() + timedelta(hours=1), "waiting for the vendor")
    late = Filters(code="C-THREE")
    listing = QueueListing(bo_store, max_stale=3600)
    assert early not in [it.id for it in listing.page(late, size=100).rows]  # hidden, cube built
    with bo_store.write() as conn:  # an hour passes: the postponement is over, nothing audited
        conn.execute(
            update(items).where(items.c.id == early).values(postponed_until=utcnow() - timedelta(seconds=1))
        )
    page = listing.page(late, size=25)
    assert page.rows[0].id == early
    assert [it.id for it in page.rows] == [it.id for it in Queue(bo_store).list(code="C-THREE", limit=25)]


def test_a_cube_slow_to_build_is_rebuilt_less_often(bo_store, bo_users):
    queue_items(bo_store, 3)
    listing = QueueListing(bo_store, max_stale=5)
    old = listing.cube()
    queue_items(bo_store, 1, start=3)  # the chain head moved: the counts are out of date
    old.built = time.monotonic() - 10  # 10 s old, past max_stale
    old.cost = 2.0  # but it took 2 s to build: not again before 20 s
    assert listing.cube() is old
    time.sleep(0.2)
    assert listing._cube is old and not listing._refreshing.locked()
    old.cost = 0.1  # cheap: rebuilt (in the background) once max_stale has passed
    assert listing.cube() is old
    deadline = time.monotonic() + 30
    while listing._cube is old and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listing._cube is not old and listing.count(Filters()) == 4
    exact = QueueListing(bo_store, max_stale=0)  # exact pages ignore the build time
    cube = exact.cube()
    cube.cost = 1000.0
    queue_items(bo_store, 1, start=4)
    assert exact.cube() is not cube and exact.count(Filters()) == 5


@pytest.mark.parametrize("sort", ["id", "newest", "age"])
def test_pages_walk_the_status_order_indexes_when_the_store_has_them(bo_store, mixed, sort):
    # the indexes of migration 0017: the hinted walks give the core's list
    with bo_store.write() as conn:
        conn.execute(update(items).where(items.c.id.in_(mixed[10:12])).values(assigned_to="associate2"))
    listing = QueueListing(bo_store, max_stale=0)
    hints: set[str | None] = set()
    access_path = listing._access_path

    def recorded(*args):
        hint = access_path(*args)
        hints.add(hint)
        return hint

    listing._access_path = recorded
    q = Queue(bo_store)
    for combo in (
        {},
        {"status": "pending_approval"},
        {"assigned": "associate2"},
        {"assignee": "associate"},
        {"bot": "beta", "code": "A-ONE"},
        {"status": "claimed", "kind": "system"},
        {"code": "C-THREE", "kind": "system"},
        {"bot": "alpha", "kind": "system", "code": "A-ONE"},
    ):
        f = Filters.parse(combo)
        expected = [it.id for it in q.list(limit=None, sort=sort, **f.core())]
        walked, cursor = [], None
        while True:
            page = listing.page(f, sort=sort, size=25, after=cursor, facets=False)
            walked += [it.id for it in page.rows]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert walked == expected, (sort, combo)
    assert listing._known_indexes == {"ix_items_status_id", "ix_items_status_queued"}
    ordered = "INDEXED BY " + ("ix_items_status_queued" if sort == "age" else "ix_items_status_id")
    assert {
        ordered,
        "INDEXED BY ix_items_assigned_to",
        "INDEXED BY ix_items_bot_status",
        "INDEXED BY ix_items_status_due",
    } <= hints, hints
