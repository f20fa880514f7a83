"""/queue: filters, sort, keyset pages, counts per filter, saved views, "awaiting my approval",
export to xlsx/CSV, and bulk claim, release, reassign, reject, approve and postpone.

Every bulk action goes through the core for each item on its own (permission, maker-checker,
limits; each audited), and the result page lists each item's outcome, so a partial failure is
reported per item. "Select all" needs no script: a box that applies the action to every item
on the page, or to every item matching the filters (up to :data:`BULK_MAX`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.errors import BackofficeError, InputError, NotFound
from backoffice.inbox.ids import id_or_404
from backoffice.inbox.listing import AGES, PAGE_SIZES, SORT_LABELS, SORTS, Filters, Page, QueueListing
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render, templates
from backoffice.lifecycle import QUEUED, effective_status
from backoffice.pii import Masking
from backoffice.queue import ROOT_CAUSES, STATUSES, Queue, QueueItem, SlaState
from backoffice.queue.approvals import awaiting
from backoffice.queue.assignment import assign
from backoffice.queue.export import export_view
from backoffice.queue.postpone import parse_until, postpone, resume
from backoffice.queue.saved_views import VIEW_KEYS, delete_view, list_views, save_view
from backoffice.store import Store
from backoffice.users import ROLES, Action, User, allowed, list_users

__all__ = ["BULK_ACTIONS", "BULK_MAX", "QueueRow", "bulk_step", "item_titles", "queue_rows", "router"]

router = APIRouter()

BULK_MAX = 500
BULK_ACTIONS = ("claim", "release", "reassign", "reject", "approve", "postpone", "resume")
_CHECKER_VIEW = "awaiting"


def _title_only(payload: Any, path: str) -> Any:
    """``payload`` cut down to the one path a title reads (``employee.name``; list positions as
    in :func:`backoffice.pii.value_at`): the rest is neither read nor masked.

    Masking a payload masks each value by the declarations along its own path (a declared record
    masks every value inside it the same way), never by its neighbours, so the title masked from
    this is the one masked from the whole payload; a 100-row page spent a tenth of its CPU
    masking whole payloads for their titles (tests/inbox/test_queue_render.py compares both)."""
    parts = [p for p in re.sub(r"\[(\d+)\]", r".\1", path).split(".") if p]

    def cut(node: Any, i: int) -> Any:
        if i == len(parts):
            return node
        part = parts[i]
        if isinstance(node, dict):
            return {part: cut(node[part], i + 1)} if part in node else {}
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            at = int(part)
            return [None] * at + [cut(node[at], i + 1)]
        return None

    return cut(payload, 0)


def item_titles(rows: list[QueueItem], payloads: dict[int, Any]) -> dict[int, str]:
    """Each listed item's label: the (masked) payload value at its bot's ``title_field``."""
    masking = Masking()  # one registry look-up per bot on the page
    out: dict[int, str] = {}
    for it in rows:
        if it.id not in payloads:
            continue
        field = masking.policy(it.bot).title_field
        payload = payloads[it.id]
        out[it.id] = masking.title(it.bot, _title_only(payload, field) if field else payload)
    return out


_SLA_LABELS = {"ok": "on time", "at_risk": "at risk", "overdue": "overdue", "none": "–"}


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One row of the queue table, its cells as the page shows them (the template escapes them).

    Worked out here once per row instead of in the template's expressions (a 100-row page spent
    a third of its CPU in them): the status as shown (an expired claim reads as open), the SLA
    state, the masked title and amount, ages and due times as text."""

    id: int
    sla: str
    sla_label: str
    title: str
    system: bool
    bot: str
    codes: list[str]
    status: str
    approver_only: bool
    owner: str
    tier: str | None  # shown when it differs from the owner role
    assignee: str
    assigned_to: str | None  # shown when it differs from the assignee
    amount: str
    priority: Any
    age: str
    back: str | None  # "back in ..." of a postponed item, on the postponed view only
    due: str


def queue_rows(rows: list[QueueItem], titles: Mapping[int, str], *, postponed: bool) -> list[QueueRow]:
    """The table's rows for ``rows`` (their labels in ``titles``); ``postponed``: the postponed
    view, which says when each item comes back."""
    filters = templates.env.filters  # the page's own filters: one way to show amounts and times
    since, until, money, shown_amount = (
        filters["since"],
        filters["until"],
        filters["money"],
        filters["shown_amount"],
    )
    out: list[QueueRow] = []
    for it in rows:
        r = it.row
        i = r["id"]
        status = effective_status(str(r["status"]), r["lease_until"], it.now)
        sla = _sla_state(status, r, it.now)
        assignee = None if status == "open" else r["assignee"]
        tier, owner, assigned = r["tier"], r["owner_role"], r["assigned_to"]
        out.append(
            QueueRow(
                id=i,
                sla=sla,
                sla_label=_SLA_LABELS[sla],
                title=titles.get(i) or f"item {i}",
                system=r["kind"] == "system",
                bot=r["bot"],
                codes=(r["codes"] or "").split(),
                status=status.replace("_", " "),
                approver_only=bool(r["approver_only"]),
                owner=owner or "–",
                tier=tier if tier and tier != owner else None,
                assignee=assignee or "–",
                assigned_to=assigned if assigned and assigned != assignee else None,
                amount=money(shown_amount(r), r["currency"]),
                priority=r["priority"],
                age=since(r["queued_at"]),
                back=until(r["postponed_until"]) if r["postponed_until"] and postponed else None,
                due=until(r["due_at"]),
            )
        )
    return out


def _sla_state(status: str, r: Mapping[str, Any], now: datetime) -> SlaState:
    """:attr:`QueueItem.sla_state` for a status already worked out."""
    if status not in QUEUED or r["due_at"] is None:
        return "none"
    if now >= r["due_at"]:
        return "overdue"
    if r["at_risk_at"] is not None and now >= r["at_risk_at"]:
        return "at_risk"
    return "ok"


def listing(request: Request) -> QueueListing:
    lst: QueueListing = request.app.state.listing
    return lst


def _workers(request: Request) -> list[str]:
    return [u.name for u in list_users(get_store(request)) if u.active and allowed(u.role, Action.WORK)]


def _awaiting_page(request: Request, user: User, f: Filters) -> Page:
    rows = awaiting(get_store(request), user.name, bot=f.bot or None)
    return Page(
        rows=rows,
        payloads={it.id: it.row["payload"] for it in rows},
        total=len(rows),
        next_cursor=None,
        prev_cursor=None,
    )


@router.get("/queue")
def queue_page(request: Request, user: User = Depends(require_action(Action.READ_QUEUE))) -> Response:
    params = dict(request.query_params)
    sort = params.get("sort", "due")
    view = params.get("view", "")
    try:
        size = int(params.get("size", "50"))
    except ValueError:
        size = 50
    error = None
    try:
        f = Filters.parse(params)
        if view == _CHECKER_VIEW:
            page = _awaiting_page(request, user, f)  # refused (and audited) for non-checkers
        else:
            page = listing(request).page(
                f,
                sort=sort,
                size=size,
                after=params.get("after") or None,
                before=params.get("before") or None,
            )
    except InputError as exc:
        error = str(exc)
        f = Filters()
        sort, size, view = "due", 50, ""
        page = listing(request).page(f)
    base = {
        **f.query(),
        **({"view": view} if view else {}),
        **({"sort": sort} if sort != "due" else {}),
        **({"size": str(size)} if size != 50 else {}),
    }

    def link(**changes: str) -> str:
        q = {**base, **changes}
        return "/queue?" + urlencode({k: v for k, v in q.items() if v})

    def facet_link(dim: str, value: str) -> str:
        q = {**f.query(), dim: value}
        if sort != "due":
            q["sort"] = sort
        return "/queue?" + urlencode({k: v for k, v in q.items() if v})

    def export_link(fmt: str) -> str:
        return "/queue/export?" + urlencode({**base, "format": fmt})

    store = get_store(request)
    can_assign = allowed(user.role, Action.ASSIGN)
    ctx = {
        "f": f,
        "page": page,
        "sort": sort,
        "size": size,
        "view": view,
        "sorts": {k: SORT_LABELS[k] for k in SORTS},
        "sizes": PAGE_SIZES,
        "ages": list(AGES),
        "statuses": ("queued", *STATUSES),
        "roles": ROLES,
        "root_causes": ROOT_CAUSES,
        "rows": queue_rows(page.rows, item_titles(page.rows, page.payloads), postponed=bool(f.postponed)),
        "link": link,
        "facet_link": facet_link,
        "export_link": export_link,
        "counts_as_of": page.counts_as_of,
        "saved_views": list_views(store, user.name),
        "current_query": base,
        "workers": _workers(request) if can_assign else [],
        "can_assign": can_assign,
        "bulk_max": BULK_MAX,
        "error": error,
    }
    return render(request, "queue.html", ctx, status_code=400 if error else 200)


@router.get("/queue/export")
def queue_export(request: Request, user: User = Depends(require_action(Action.READ_QUEUE))) -> Response:
    """The current view (its filters and sort, every page) as xlsx or CSV, masked as listed."""
    params = dict(request.query_params)
    fmt = params.get("format", "xlsx")
    f = Filters.parse(params)
    sort = params.get("sort", "due")
    store = get_store(request)
    if params.get("view") == _CHECKER_VIEW:
        rows = awaiting(store, user.name, bot=f.bot or None)
        data, _ = export_view(
            store, user.name, fmt, filters={"view": _CHECKER_VIEW, "bot": f.bot or None}, rows=rows
        )
    else:
        if sort not in SORTS:
            raise InputError(f"unknown sort {sort!r}", field="sort")
        data, _ = export_view(store, user.name, fmt, filters=f.core(), sort=sort)
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if fmt == "xlsx"
        else "text/csv; charset=utf-8"
    )
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="queue.{fmt}"'}
    )


@router.post("/queue/views")
def save_current_view(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Save the page's current filters under a name (the user's own views)."""
    query = {k: str(form.get(f"q_{k}") or "") for k in VIEW_KEYS}
    saved = save_view(get_store(request), user.name, str(form.get("name") or ""), query)
    return RedirectResponse("/queue?" + urlencode(saved.query), status_code=303)


@router.post("/queue/views/delete")
def delete_saved_view(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    delete_view(get_store(request), user.name, str(form.get("name") or ""))
    return RedirectResponse("/queue", status_code=303)


@router.post("/queue/next")
def claim_next(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Claim the most urgent open item matching the page's filters and open it."""
    params = {k: str(v) for k, v in form.items() if k in Filters.__dataclass_fields__ and k != "status"}
    f = Filters.parse(params)
    core = {k: v for k, v in f.core().items() if v not in (None, False) and k != "status"}
    it = Queue(get_store(request)).claim_next(user.name, **core)  # refusals audited by the core
    if it is None:
        ctx = {
            "heading": "Nothing to claim",
            "message": "No open item matches these filters.",
            "back": "/queue",
        }
        return render(request, "problem.html", ctx, status_code=404)
    return RedirectResponse(f"/items/{it.id}?done=claimed", status_code=303)


def _ids(request: Request, form: FormData, user: User) -> list[int]:
    """The items a bulk action applies to: the ticked ones, every one on the page, or every one
    matching the page's filters (``select_all``)."""
    scope = str(form.get("select_all") or "")
    raw: list[Any]
    if scope == "page":
        raw = form.getlist("page_ids")
    elif scope == "filters":
        params = {k[2:]: str(v) for k, v in form.items() if k.startswith("f_")}
        f = Filters.parse(params)
        if params.get("view") == _CHECKER_VIEW:
            return [it.id for it in awaiting(get_store(request), user.name, bot=f.bot or None)][:BULK_MAX]
        return [it.id for it in Queue(get_store(request)).list(limit=BULK_MAX, sort="due", **f.core())]
    else:
        raw = form.getlist("ids")
    ids: list[int] = []
    for value in raw:
        try:
            i = id_or_404(str(value))
        except NotFound:
            continue  # not a number, or no row could have it
        if i not in ids:
            ids.append(i)
    return ids[:BULK_MAX]


def bulk_step(store: Store, user: User, action: str, form: Mapping[str, Any]) -> Callable[[int], str]:
    """The function that does ``action`` on one item and says what happened (or raises); ``form``
    holds the action's fields (``to``, ``reason``, ``root_cause``, ``until``). The JSON API's
    ``/api/v1/bulk`` uses it too."""
    q = Queue(store)
    reason = str(form.get("reason") or "")
    root_cause = str(form.get("root_cause") or "") or None
    if action == "claim":

        def claim(i: int) -> str:
            q.claim(i, user.name)
            return "claimed"

        return claim
    if action == "release":

        def release(i: int) -> str:
            q.release(i, user.name)
            return "released"

        return release
    if action == "reassign":
        to = str(form.get("to") or "") or None

        def reassign(i: int) -> str:
            it = assign(store, i, user.name, to)
            return f"assigned to {it.row['assigned_to']}" if it.row["assigned_to"] else "assignment removed"

        return reassign
    if action == "approve":

        def approve(i: int) -> str:
            it = q.resolve(i, user.name, "approve", reason, root_cause=root_cause)
            return "approved" if it.status == "resolved" else "sent for approval"

        return approve
    if action == "reject":

        def reject(i: int) -> str:
            it = q.get(i)
            if it.status == "open":  # a worker's rejection needs the claim: take it first
                q.claim(i, user.name)
            return (
                "rejected"
                if q.resolve(i, user.name, "reject", reason, root_cause=root_cause).status == "resolved"
                else "refused"
            )

        return reject
    if action == "postpone":
        until = parse_until(str(form.get("until") or ""))

        def postpone_one(i: int) -> str:
            postpone(store, i, user.name, until, reason)
            return f"postponed until {until:%Y-%m-%d %H:%M} UTC"

        return postpone_one
    if action == "resume":

        def resume_one(i: int) -> str:
            resume(store, i, user.name, reason)
            return "back in the queue"

        return resume_one
    raise InputError(f"unknown bulk action {action!r}; one of {', '.join(BULK_ACTIONS)}", field="action")


@router.post("/queue/bulk")
def bulk(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Claim, release, reassign, reject, approve, postpone or resume many items; each goes through the
    core's rules and is audited on its own; the result page reports each item."""
    action = str(form.get("action") or "")
    results: list[tuple[int, bool, str]] = []
    try:
        ids = _ids(request, form, user)
        step = bulk_step(get_store(request), user, action, form) if ids else None
    except InputError as exc:
        ids, step = [], None
        results.append((0, False, str(exc)))
    if step is None and not results:
        results.append((0, False, "select at least one item"))
    for item_id in ids:
        if step is None:
            break
        try:
            results.append((item_id, True, step(item_id)))
        except BackofficeError as exc:  # denials are audited by the core
            results.append((item_id, False, str(exc)))
    ok = sum(1 for _, good, _ in results if good)
    return render(
        request,
        "bulk.html",
        {"results": results, "ok": ok, "action": action, "back": str(form.get("back") or "/queue")},
        status_code=200 if ok or not results else 409,
    )
