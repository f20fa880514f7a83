"""The queue page's data: filters, keyset pagination and counts per filter, fast at 1,000,000 items.

Rows: for each stored status the filter covers, one indexed query walks ``ix_items_status_due``
(or the primary key / ``ix_items_queued_at``) in sort order from the keyset cursor and stops
after one page; the pages are merged in Python. No OFFSET, no sort of the whole backlog.

Counts (total and per filter value) come from a *cube*: one grouped query over the queued
items by (status, bot, owner role, SLA state, kind, codes, assignee, age bucket, assigned user,
postponed), with the earliest due time of each group, from which
any filter combination's count, every facet and the first due time a page can start from are
summed in Python. The cube is rebuilt when the audit chain head moved (every queue transition
writes an audit entry in its transaction) and it is older than ``max_stale`` seconds, or after
``COUNT_TTL`` seconds (SLA states move with the clock); the rebuild runs in a background thread
while pages show the previous counts with their "as of" time (``max_stale=0``: rebuild in the
request, always exact).

Building the cube is one grouped scan of the queued items, linear in their number (on SQLite a
plain table scan when they are a large share of the items: walking the status index would look
every row up by id, ~3x the CPU; about 2.5 s CPU at 1,000,000 queued). So that a big queue does
not spend its CPU recounting, the cube is not rebuilt more often than ``REFRESH_FACTOR`` times
its own build time (at most a tenth of a core on counts); the page's "counts as of" says how old
they are.

The filter semantics are the core's (:meth:`backoffice.queue.Queue._filters`), so the page
shows what ``backoffice queue list`` would.
"""

from __future__ import annotations

import base64
import heapq
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, and_, case, column, func, literal, or_, select, text, type_coerce
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import NullType

from backoffice.errors import InputError
from backoffice.queue import QUEUED, STATUSES, Queue, QueueItem
from backoffice.schema import UTC_DT, UTCDateTime, audit, audit_head, items
from backoffice.store import Store, utcnow

__all__ = ["AGES", "PAGE_SIZES", "SORTS", "Filters", "Page", "QueueListing"]

COUNT_TTL = 30.0
REFRESH_FACTOR = 10.0  # the cube is rebuilt at most every REFRESH_FACTOR x its last build time
_MAX_CHANGED = 500  # audit entries since the cube was built, beyond which no due floor is used
PAGE_SIZES = (25, 50, 100)
AGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}
#: sort name -> (columns, descending). The item id is always the last key (unique, stable).
SORTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "due": (("due_at", "id"), False),
    "priority": (("priority", "due_at", "id"), False),
    "age": (("queued_at", "id"), False),
    "newest": (("id",), True),
    "id": (("id",), False),
}
SORT_LABELS = {
    "due": "Due first",
    "priority": "Priority",
    "age": "Oldest first",
    "newest": "Newest first",
    "id": "Id",
}
#: Indexes (status, sort key) the page walks for a status that is a small share of the items
#: (issue 15: proposed as migration 0017; used when the store has them).
_STATUS_ORDER = {
    "id": "ix_items_status_id",  # (status, id)
    "newest": "ix_items_status_id",
    "age": "ix_items_status_queued",  # (status, queued_at, id)
}
_DATETIME_COLS = {"due_at", "queued_at"}
_LIGHT = (
    "id",
    "bot",
    "status",
    "kind",
    "priority",
    "owner_role",
    "tier",
    "assignee",
    "lease_until",
    "due_at",
    "at_risk_at",
    "queued_at",
    "amount",
    "personal",
    "currency",
    "codes",
    "maker",
    "approver_only",
    "assigned_to",
    "postponed_until",
)
# the listed columns untyped (SQLite): their values come back as stored, and _from_sqlite turns
# them into what the columns' types would (the typed result processing was ~15 us a row)
_RAW_LIGHT = [type_coerce(items.c[c], NullType()) for c in _LIGHT]
_RAW_TEXT: list[Any] = [column(c) for c in _LIGHT]
_UTC_LIGHT = tuple(c for c in _LIGHT if isinstance(items.c[c].type, UTCDateTime))
_BOOL_LIGHT = tuple(c for c in _LIGHT if isinstance(items.c[c].type, Boolean))


@dataclass(frozen=True)
class Filters:
    """The queue page's query parameters, validated."""

    status: str = "queued"
    bot: str = ""
    code: str = ""
    owner_role: str = ""
    assignee: str = ""
    age: str = ""
    sla: str = ""
    kind: str = ""
    assigned: str = ""  # assigned to this user (a team lead's or automatic assignment)
    postponed: str = ""  # "": postponed items hidden (they come back when due); "yes": only those

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        def get(name: str) -> str:
            return (params.get(name) or "").strip()[:120]

        f = cls(
            status=get("status") or "queued",
            bot=get("bot"),
            code=get("code"),
            owner_role=get("owner_role"),
            assignee=get("assignee"),
            age=get("age"),
            sla=get("sla"),
            kind=get("kind"),
            assigned=get("assigned"),
            postponed=get("postponed"),
        )
        if f.status not in (*STATUSES, "queued"):
            raise InputError(f"unknown status {f.status!r}", field="status")
        if f.age and f.age not in AGES:
            raise InputError(f"unknown age {f.age!r}; one of {', '.join(AGES)}", field="age")
        if f.sla and f.sla not in ("ok", "at_risk", "overdue"):
            raise InputError(f"unknown SLA state {f.sla!r}", field="sla")
        if f.kind and f.kind not in ("business", "system"):
            raise InputError(f"unknown kind {f.kind!r}", field="kind")
        if f.postponed not in ("", "yes"):
            raise InputError(f"postponed is 'yes' or empty, not {f.postponed!r}", field="postponed")
        return f

    def core(self, **override: str) -> dict[str, Any]:
        """Keyword arguments for the core's filters."""
        values = {**self.__dict__, **override}
        return {
            "status": values["status"] or None,
            "bot": values["bot"] or None,
            "code": values["code"] or None,
            "owner_role": values["owner_role"] or None,
            "assignee": values["assignee"] or None,
            "kind": values["kind"] or None,
            "sla": values["sla"] or None,
            "older_than": AGES.get(values["age"]) if values["age"] else None,
            "assigned_to": values["assigned"] or None,
            "postponed": values["postponed"] == "yes",
        }

    def query(self, **override: str) -> dict[str, str]:
        """The non-empty filters as query parameters (for links)."""
        values = {**self.__dict__, **override}
        return {k: v for k, v in values.items() if v and not (k == "status" and v == "queued")}


@dataclass
class Page:
    rows: list[QueueItem]
    payloads: dict[int, dict[str, Any]]
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    counts_as_of: datetime | None = None  # when the count cube behind total and facets was built


def _stored_statuses(status: str) -> tuple[str, ...]:
    if status == "queued":
        return QUEUED
    if status == "open":
        return ("open", "claimed")  # a claim whose lease ran out is open again
    return (status,)


def _encode(values: list[Any]) -> str:
    out = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(out).encode()).decode().rstrip("=")


def _decode(cursor: str, cols: tuple[str, ...]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(cols):
            raise ValueError
        out: list[Any] = []
        for col, v in zip(cols, raw, strict=True):
            if v is None:
                out.append(None)
            elif col in _DATETIME_COLS:
                out.append(datetime.fromisoformat(v))
            else:
                out.append(int(v))
        return out
    except (ValueError, TypeError):
        raise InputError("the page link is not valid; start from the first page", field="after") from None


def _after(cols: tuple[str, ...], values: list[Any], forward: bool) -> ColumnElement[bool]:
    """(c1, c2, id) > (v1, v2, vid) spelled out (NULLs sort first, as in SQLite and our ORDER BY)."""
    clauses: list[ColumnElement[bool]] = []
    for i, col in enumerate(cols):
        c = items.c[col]
        v = values[i]
        eq = [
            items.c[cols[j]].is_(None) if values[j] is None else items.c[cols[j]] == values[j]
            for j in range(i)
        ]
        if v is None:
            beyond: ColumnElement[bool] = c.is_not(None) if forward else literal(False)
        else:
            beyond = (c > v) if forward else or_(c < v, c.is_(None))
        clauses.append(and_(*eq, beyond))
    return or_(*clauses)


class QueueListing:
    """Queue pages on a store."""

    def __init__(self, store: Store, *, max_stale: float = 5.0) -> None:
        self.store = store
        self.queue = Queue(store)
        self.max_stale = max_stale
        self._cube: Cube | None = None
        self._known_indexes: frozenset[str] | None = None
        self._refreshing = threading.Lock()
        self._hinted: dict[Any, _Hinted] = {}  # compiled hinted statements by shape

    # -- rows -----------------------------------------------------------------------------------
    def page(
        self,
        f: Filters,
        *,
        sort: str = "due",
        size: int = 50,
        after: str | None = None,
        before: str | None = None,
        facets: bool = True,
    ) -> Page:
        if sort not in SORTS:
            raise InputError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}", field="sort")
        if size not in PAGE_SIZES:
            size = 50
        cols, desc = SORTS[sort]
        now = utcnow()
        where = self.queue._filters(now=now, **f.core())
        forward = before is None
        cursor = after if forward else before
        ascending = forward != desc
        order = [items.c[c].asc() if ascending else items.c[c].desc() for c in cols]
        # SQLite: the stored values as they are, converted by _from_sqlite (see there)
        raw = self.store.is_sqlite
        light = _RAW_LIGHT if raw else [items.c[c] for c in _LIGHT]
        found: list[dict[str, Any]] = []
        # one read transaction for the whole page: counts, rows and payloads see one snapshot
        with self.store.read() as conn:
            cube: Cube | None = None
            head = 0
            if f.status in ("queued", *QUEUED):
                head = _read_head(conn)
                cube = self._current(head, conn)
                total = cube.count(f)
            else:
                total = int(conn.execute(select(func.count()).select_from(items).where(*where)).scalar_one())
            if cursor:
                # descending sorts walk "forward" towards smaller values
                where = [*where, _after(cols, _decode(cursor, cols), forward != desc)]
            floor = (
                self._due_floor(conn, f, where, cube=cube, head=head)
                if cube is not None and sort == "due"
                else None
            )
            if floor is not None:
                # every matching item is due at or after ``floor``: the due-ordered index walk
                # starts there instead of stepping over the earlier backlog (not for the priority
                # order: its index walk skips nothing by due time, and the extra range would lead
                # SQLite's planner to the due index and a sort of every queued item)
                where = [*where, items.c.due_at >= floor]
            max_id: list[int] = []  # read at most once per page
            for stored in _stored_statuses(f.status):
                q = select(*light).where(items.c.status == stored, *where).order_by(*order).limit(size + 1)
                hint = self._access_path(conn, cube, f, stored, sort, max_id)
                result: Any = (
                    _execute_hinted(conn, q, hint, _RAW_TEXT, self._hinted) if hint else conn.execute(q)
                )
                if raw:
                    found.extend(_from_sqlite(result, conn.dialect))
                else:
                    found.extend(dict(r._mapping) for r in result)
            key = _sort_key(cols)
            merged = (
                heapq.nsmallest(size + 1, found, key=key)
                if ascending
                else heapq.nlargest(size + 1, found, key=key)
            )
            more = len(merged) > size
            merged = merged[:size]
            if not forward:
                merged.reverse()
            ids = [r["id"] for r in merged]
            payloads: dict[int, Any] = {}
            if ids and raw:
                q = select(items.c.id, type_coerce(items.c.payload, NullType())).where(items.c.id.in_(ids))
                payloads = {int(i): _json_from_sqlite(p) for i, p in conn.execute(q)}
            elif ids:
                q = select(items.c.id, items.c.payload).where(items.c.id.in_(ids))
                payloads = {int(i): p for i, p in conn.execute(q)}
        rows = [QueueItem(r, now) for r in merged]
        first = [merged[0][c] for c in cols] if merged else None
        last = [merged[-1][c] for c in cols] if merged else None
        if forward:
            next_cursor = _encode(last) if more and last else None
            prev_cursor = _encode(first) if cursor and first else None
        else:
            next_cursor = _encode(last) if last else None
            prev_cursor = _encode(first) if more and first else None
        return Page(
            rows=rows,
            payloads=payloads,
            total=total,
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
            facets=cube.facets(f) if facets and cube is not None else {},
            counts_as_of=cube.as_of if cube is not None else None,
        )

    def _due_floor(
        self,
        conn: Any,
        f: Filters,
        where: list[ColumnElement[bool]],
        *,
        cube: Cube | None = None,
        head: int | None = None,
    ) -> datetime | None:
        """The cube's due floor, lowered for items changed since the cube was built.

        Every change of a queued item writes an audit entry naming it (``item:ID``) in the same
        transaction, so the items changed since the cube's chain head are known exactly; if any
        of them now matches and is due earlier, the floor moves down to it.
        """
        cube = cube or self._cube  # a page passes the cube and chain head it read
        if cube is None or f.status not in ("queued", *QUEUED):
            return None
        floor = cube.due_floor(f)
        if floor is None:
            return None
        if head is None:
            head = _read_head(conn)
        if head == cube.head:
            return floor
        subjects = conn.execute(
            select(audit.c.subject)
            .where(audit.c.seq > cube.head, audit.c.seq <= head)
            .limit(_MAX_CHANGED + 1)
        ).all()
        if len(subjects) > _MAX_CHANGED or head - cube.head > _MAX_CHANGED:
            return None
        changed = {
            int(sub[5:]) for (sub,) in subjects if sub and sub.startswith("item:") and sub[5:].isdigit()
        }
        if changed:
            earliest = conn.execute(
                select(func.min(items.c.due_at)).where(items.c.id.in_(changed), *where)
            ).scalar()
            if earliest is not None and earliest < floor:
                return earliest
        return floor

    def _access_path(
        self, conn: Any, cube: Cube | None, f: Filters, stored: str, sort: str, max_id: list[int]
    ) -> str | None:
        """SQLite: walk the sort order's own index when many rows match (the planner would pick
        the status index and sort every match); for a status that is a small share of the items,
        its (status, sort key) index when the store has it (:data:`_STATUS_ORDER`); the status
        index (or the filter's own) stays for selective filters.

        The share of matching rows comes from the count cube; PostgreSQL plans this itself.
        ``max_id`` holds the highest item id once read (one read per page, not per status).
        """
        if not self.store.is_sqlite or sort not in ("id", "newest", "age") or stored not in QUEUED:
            return None
        if cube is None:
            return None
        matching = cube.count(Filters(**{**f.__dict__, "status": stored}))
        if not max_id:
            max_id.append(int(conn.execute(select(func.max(items.c.id))).scalar() or 0))
        if matching * 20 >= max_id[0]:
            return "NOT INDEXED" if sort in ("id", "newest") else "INDEXED BY ix_items_queued_at"
        # under 5 % of the table: with an index on (status, sort key) walk that status in sort
        # order when the filters keep 5 % of it or more (about 20 entries per row shown); fewer
        # matches: the filters' own index (assigned user, assignee) or the status index and a
        # sort of the matches, never a walk of the whole status for a handful of items
        ordered = _STATUS_ORDER[sort]
        if ordered not in self._indexes(conn):
            return None  # without it the status index finds them and SQLite sorts them
        in_status = cube.count(Filters(status=stored, postponed=f.postponed))
        if matching * 20 >= in_status:
            return f"INDEXED BY {ordered}"
        if f.assigned:
            return "INDEXED BY ix_items_assigned_to"
        if f.assignee:
            return "INDEXED BY ix_items_assignee"
        if f.bot:
            return "INDEXED BY ix_items_bot_status"  # (bot, status) entries are in id order
        return "INDEXED BY ix_items_status_due"

    def _indexes(self, conn: Any) -> frozenset[str]:
        """The optional indexes of :data:`_STATUS_ORDER` the store has (read once)."""
        if self._known_indexes is None:
            names = tuple(_STATUS_ORDER.values())
            self._known_indexes = frozenset(
                str(name)
                for (name,) in conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN (:a, :b)"),
                    {"a": names[0], "b": names[-1]},
                )
            )
        return self._known_indexes

    # -- counts ---------------------------------------------------------------------------------
    def _head(self) -> int:
        with self.store.read() as conn:
            return _read_head(conn)

    def cube(self) -> Cube:
        """The current count cube (see the module docstring for how fresh it is)."""
        with self.store.read() as conn:
            return self._current(_read_head(conn), conn)

    def _current(self, head: int, conn: Any) -> Cube:
        """The cube to use at audit chain head ``head``; a rebuild in the request reads on ``conn``."""
        cube = self._cube
        if cube is None:
            return self._refresh(head, conn)
        age = time.monotonic() - cube.built
        # a cube that is slow to build is rebuilt less often (not when the pages must be exact)
        pause = REFRESH_FACTOR * cube.cost if self.max_stale > 0 else 0.0
        stale = (cube.head != head and age >= max(self.max_stale, pause)) or age >= max(COUNT_TTL, pause)
        if stale:
            if self.max_stale <= 0:
                return self._refresh(head, conn)
            if not self._refreshing.locked():
                threading.Thread(target=self._refresh, args=(head,), daemon=True).start()
        return cube

    def _refresh(self, head: int, conn: Any = None) -> Cube:
        with self._refreshing:
            cube = self._cube
            if cube is not None and cube.head == head and time.monotonic() - cube.built < 1.0:
                return cube
            cube = Cube.build(self.store, head, conn)
            self._cube = cube
            return cube

    def warm(self) -> None:
        """Build the count cube now (e.g. in a thread when the server starts)."""
        self._refresh(self._head())

    def clear_cache(self) -> None:
        self._cube = None

    def count(self, f: Filters) -> int:
        if f.status in ("queued", *QUEUED):
            return self.cube().count(f)
        return self.queue.count(**f.core())

    def facets(self, f: Filters) -> dict[str, list[tuple[str, int]]]:
        """Per filter: each value with the number of queued items matching it and the other filters."""
        if f.status not in ("queued", *QUEUED):
            return {}
        return self.cube().facets(f)


_DIMS = ("status", "bot", "owner_role", "sla", "kind", "code", "assignee", "age", "assigned", "postponed")
_NO_FACET = ("assignee", "age", "assigned")


@dataclass
class Cube:
    """Counts of queued items per (status, bot, owner role, SLA state, kind, codes, assignee, age,
    assigned user, postponed or not), and each group's earliest due time (None when one of its
    items has none)."""

    head: int
    built: float
    as_of: datetime
    rows: list[tuple[tuple[Any, ...], int]]
    first_due: list[datetime | None] = field(default_factory=list)  # per row of ``rows``
    cost: float = 0.0  # seconds it took to build
    _memo: dict[tuple[str, Filters], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, store: Store, head: int, conn: Any = None, *, scan: bool | None = None) -> Cube:
        """Count the queued items; on ``conn`` when given (the caller's read transaction).

        ``scan`` (SQLite): read the whole table rather than walk the status index; by default
        when the queued items are 5 % of the items or more.
        """
        if conn is None:
            with store.read() as own:
                return cls.build(store, head, own, scan=scan)
        t0 = time.perf_counter()
        now = utcnow()
        c = items.c
        live_claim = and_(c.status != "open", c.lease_until >= now)
        age_rank = case(
            *[
                (c.queued_at <= now - delta, literal(len(AGES) - i))
                for i, delta in enumerate(reversed(AGES.values()))
            ],
            else_=literal(0),
        )
        exprs = [
            case((and_(c.status == "claimed", c.lease_until < now), literal("open")), else_=c.status),
            c.bot,
            c.owner_role,
            case(
                (c.due_at <= now, literal("overdue")),
                (c.at_risk_at <= now, literal("at_risk")),
                (c.at_risk_at > now, literal("ok")),
                else_=literal("none"),
            ),
            c.kind,
            c.codes,
            case((live_claim, c.assignee), else_=None),
            age_rank,
            c.assigned_to,
            case((c.postponed_until > now, literal("yes")), else_=literal("")),
        ]
        labelled = [e.label(f"d{i}") for i, e in enumerate(exprs)]
        aggregates = [
            func.count().label("n"),
            func.count(c.due_at).label("n_due"),
            func.min(c.due_at).label("first_due"),  # see due_floor
        ]
        q = (
            select(*labelled, *aggregates)
            .where(c.status.in_(QUEUED))
            .group_by(*[lab.name for lab in labelled])
        )
        result: Any = None
        if store.is_sqlite and scan is None:
            queued = int(
                conn.execute(select(func.count()).select_from(items).where(c.status.in_(QUEUED))).scalar_one()
            )
            scan = queued * 20 >= int(conn.execute(select(func.max(c.id))).scalar() or 0)
        if store.is_sqlite and scan:
            # 5 % or more of the items: scan the table (in id order, page after page) instead
            # of walking the status index and looking every row up by id
            result = _execute_hinted(
                conn, q, "NOT INDEXED", [column(e.name, e.type) for e in (*labelled, *aggregates)]
            )
        rows: list[tuple[tuple[Any, ...], int]] = []
        first_due: list[datetime | None] = []
        for r in result if result is not None else conn.execute(q):
            *key, n, n_due, first = r
            rows.append((tuple(key), int(n)))
            first_due.append(first if int(n_due) == int(n) else None)
        return cls(
            head=head,
            built=time.monotonic(),
            as_of=now,
            rows=rows,
            first_due=first_due,
            cost=time.perf_counter() - t0,
        )

    @staticmethod
    def _match(dim: str, value: Any, wanted: str) -> bool:
        if dim == "status":
            return wanted == "queued" or value == wanted
        if dim == "code":
            return f" {wanted} " in (value or "")
        if dim == "age":
            return int(value) >= list(AGES).index(wanted) + 1
        return bool(value == wanted)

    def _wanted(self, f: Filters) -> list[tuple[int, str, str]]:
        # ``postponed`` always applies: "" hides the postponed items, "yes" shows only them
        return [(i, d, getattr(f, d)) for i, d in enumerate(_DIMS) if getattr(f, d) or d == "postponed"]

    def count(self, f: Filters) -> int:
        key = ("count", f)
        if key not in self._memo:
            if len(self._memo) > 256:
                self._memo.clear()
            wanted = self._wanted(f)
            self._memo[key] = sum(
                n for row, n in self.rows if all(self._match(d, row[i], w) for i, d, w in wanted)
            )
        return int(self._memo[key])

    def due_floor(self, f: Filters) -> datetime | None:
        """The earliest due time of the items matching ``f`` when the cube was built, or None
        (nothing matched, or a matching item has no due time: those sort first).

        Valid only while the queue has not changed since the cube was built and for filters
        whose matches can only shrink as time passes (no SLA, age or ``open`` filter). Hidden
        postponed items come back when their time is up without a change: the floor counts them
        as matching.
        """
        if f.sla or f.age or f.status == "open":
            return None
        wanted = [(i, d, w) for i, d, w in self._wanted(f) if not (d == "postponed" and w == "")]
        firsts = [
            first
            for (key, n), first in zip(self.rows, self.first_due, strict=True)
            if n and all(self._match(d, key[i], w) for i, d, w in wanted)
        ]
        if not firsts or any(first is None for first in firsts):
            return None
        return min(first for first in firsts if first is not None)

    def facets(self, f: Filters) -> dict[str, list[tuple[str, int]]]:
        key = ("facets", f)
        if key not in self._memo:
            if len(self._memo) > 256:
                self._memo.clear()
            self._memo[key] = self._facets(f)
        return dict(self._memo[key])

    def _facets(self, f: Filters) -> dict[str, list[tuple[str, int]]]:
        wanted = self._wanted(f)
        out: dict[str, Counter[str]] = {d: Counter() for d in _DIMS if d not in _NO_FACET}
        ages: Counter[str] = Counter()
        for key, n in self.rows:
            misses = [i for i, d, w in wanted if not self._match(d, key[i], w)]
            if len(misses) > 1:
                continue
            for i, dim in enumerate(_DIMS):
                if misses and misses[0] != i:
                    continue
                value = key[i]
                if dim == "code":
                    for code in (value or "").split():
                        out[dim][code] += n
                elif dim == "age":
                    for j, name in enumerate(AGES, start=1):
                        if int(value) >= j:
                            ages[name] += n
                elif dim in _NO_FACET:
                    continue
                elif value is not None:
                    out[dim][str(value)] += n
        out["status"]["queued"] = sum(out["status"][s] for s in QUEUED)
        result = {d: sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0])) for d, cnt in out.items()}
        result["age"] = [(name, ages[name]) for name in AGES]
        return result


def _read_head(conn: Any) -> int:
    return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0)


def _sqlite_param(value: Any) -> Any:
    if isinstance(value, datetime):  # stored as naive UTC text, as schema.UTCDateTime binds it
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@dataclass(frozen=True)
class _Hinted:
    """A hinted statement compiled once for its shape: the SQL with ``FROM items <hint>``, the
    bind names of the shape's parameters in SQLAlchemy's cache-key order (and whether each is an
    expanded IN list), and the parameters of the first statement of the shape (those the shape
    fixes, e.g. ``OFFSET 0``, are kept; the others are overwritten by each statement's own)."""

    stmt: Any
    names: tuple[str, ...]
    expanding: tuple[bool, ...]
    fixed: dict[str, Any]


_HINT_CACHE_MAX = 256


def _execute_hinted(
    conn: Any, q: Any, hint: str, columns: list[Any], cache: dict[Any, _Hinted] | None = None
) -> Any:
    """Run ``q`` on SQLite with ``FROM items <hint>`` (SQLAlchemy renders no SQLite index hints).

    With ``cache`` (one per listing), the SQL of each statement shape is compiled once: the next
    statement of that shape (same filters, cursor and sort; other values) takes its parameter
    values from its SQLAlchemy cache key, as SQLAlchemy's own compiled cache does (compiling the
    statement was a third of a 100-row page's CPU).
    """
    ck = q._generate_cache_key() if cache is not None else None
    key: Any = None
    if ck is not None and cache is not None:
        lengths = tuple(len(b.effective_value) for b in ck.bindparams if b.expanding)
        key = (hint, ck.key, lengths, tuple(c.key for c in columns))
        shape = cache.get(key)
        if shape is not None:
            params = dict(shape.fixed)
            for name, expanding, bp in zip(shape.names, shape.expanding, ck.bindparams, strict=True):
                value = bp.effective_value
                if expanding:
                    for i, v in enumerate(value, start=1):
                        params[f"{name}_{i}"] = _sqlite_param(v)
                else:
                    params[name] = _sqlite_param(value)
            return conn.execute(shape.stmt, params)
    compiled = q.compile(
        dialect=sqlite_dialect(paramstyle="named"), compile_kwargs={"render_postcompile": True}
    )
    sql = str(compiled)
    marker = "\nFROM items \n"
    if marker not in sql:
        return conn.execute(q)
    params = {name: _sqlite_param(value) for name, value in compiled.params.items()}
    stmt = text(sql.replace(marker, f"\nFROM items {hint} \n", 1)).columns(*columns)
    if key is not None and cache is not None:
        names = [compiled.bind_names.get(bp) for bp in ck.bindparams]  # type: ignore[union-attr]
        if all(names):
            if len(cache) >= _HINT_CACHE_MAX:
                cache.clear()
            lists = tuple(bool(bp.expanding) for bp in ck.bindparams)  # type: ignore[union-attr]
            # every value the shape does not fix is overwritten from the next statement's key
            cache[key] = _Hinted(stmt, tuple(str(n) for n in names), lists, params)
    return conn.execute(stmt, params)


def _from_sqlite(result: Any, dialect: Any) -> Any:
    """The rows of an untyped listing query on SQLite as dicts, each value as its column's type
    gives it: times through :class:`~backoffice.schema.UTCDateTime` (SQLite's own DATETIME
    processing is ``datetime.fromisoformat``, which that does for text), booleans as ``bool``."""
    utc = UTC_DT.process_result_value
    for row in result:
        d = dict(zip(_LIGHT, row, strict=True))
        for c in _UTC_LIGHT:
            if d[c] is not None:
                d[c] = utc(d[c], dialect)
        for c in _BOOL_LIGHT:
            if d[c] is not None:
                d[c] = bool(d[c])
        yield d


def _json_from_sqlite(value: Any) -> Any:
    """A JSON column's stored value as SQLAlchemy's JSON type on SQLite gives it (``json.loads``;
    a number SQLite's JSON functions left as a number stays one)."""
    if value is None or isinstance(value, int | float):
        return value
    return json.loads(value)


def _sort_key(cols: tuple[str, ...]) -> Any:
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        # NULLs first, as SQLite orders them ascending
        return tuple((row[c] is not None, row[c]) if row[c] is not None else (False, 0) for c in cols)

    return key
