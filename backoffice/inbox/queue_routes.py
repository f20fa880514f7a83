"""/queue: filters, sort, keyset pages, counts per filter, bulk claim/approve."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.errors import BackofficeError, InputError, NotFound
from backoffice.inbox.ids import id_or_404
from backoffice.inbox.listing import AGES, PAGE_SIZES, SORT_LABELS, SORTS, Filters, QueueListing
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.pii import Masking
from backoffice.queue import ROOT_CAUSES, STATUSES, Queue, QueueItem
from backoffice.users import ROLES, Action, User

__all__ = ["item_titles", "router"]

router = APIRouter()


def item_titles(rows: list[QueueItem], payloads: dict[int, Any]) -> dict[int, str]:
    """Each listed item's label: the (masked) payload value at its bot's ``title_field``."""
    masking = Masking()  # one registry look-up per bot on the page
    return {it.id: masking.title(it.bot, payloads.get(it.id)) for it in rows if it.id in payloads}


def listing(request: Request) -> QueueListing:
    lst: QueueListing = request.app.state.listing
    return lst


@router.get("/queue")
def queue_page(request: Request, user: User = Depends(require_action(Action.READ_QUEUE))) -> Response:
    params = dict(request.query_params)
    sort = params.get("sort", "due")
    try:
        size = int(params.get("size", "50"))
    except ValueError:
        size = 50
    error = None
    try:
        f = Filters.parse(params)
        page = listing(request).page(
            f, sort=sort, size=size, after=params.get("after") or None, before=params.get("before") or None
        )
    except InputError as exc:
        error = str(exc)
        f = Filters()
        sort, size = "due", 50
        page = listing(request).page(f)
    base = {
        **f.query(),
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

    cube = listing(request).cube() if f.status in ("queued", "open", "claimed", "pending_approval") else None
    ctx = {
        "f": f,
        "page": page,
        "sort": sort,
        "size": size,
        "sorts": {k: SORT_LABELS[k] for k in SORTS},
        "sizes": PAGE_SIZES,
        "ages": list(AGES),
        "statuses": ("queued", *STATUSES),
        "roles": ROLES,
        "root_causes": ROOT_CAUSES,
        "titles": item_titles(page.rows, page.payloads),
        "link": link,
        "facet_link": facet_link,
        "counts_as_of": cube.as_of if cube else None,
        "error": error,
    }
    return render(request, "queue.html", ctx, status_code=400 if error else 200)


@router.post("/queue/next")
def claim_next(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Claim the most urgent open item matching the page's filters and open it."""
    params = {k: str(v) for k, v in form.items() if k in Filters.__dataclass_fields__ and k != "status"}
    f = Filters.parse(params)
    core = {k: v for k, v in f.core().items() if v is not None and k != "status"}
    it = Queue(get_store(request)).claim_next(user.name, **core)  # refusals audited by the core
    if it is None:
        ctx = {
            "heading": "Nothing to claim",
            "message": "No open item matches these filters.",
            "back": "/queue",
        }
        return render(request, "problem.html", ctx, status_code=404)
    return RedirectResponse(f"/items/{it.id}?done=claimed", status_code=303)


@router.post("/queue/bulk")
def bulk(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Claim or approve many items; each goes through the core's rules and is audited on its own."""
    action = str(form.get("action") or "")
    ids: list[int] = []
    for raw in form.getlist("ids"):
        try:
            ids.append(id_or_404(raw))
        except NotFound:
            continue  # not a number, or no row could have it
    q = Queue(get_store(request))
    results: list[tuple[int, bool, str]] = []
    if not ids:
        results.append((0, False, "select at least one item"))
    elif action == "claim":
        for item_id in ids[:500]:
            try:
                q.claim(item_id, user.name)
                results.append((item_id, True, "claimed"))
            except BackofficeError as exc:  # denials are audited by the core
                results.append((item_id, False, str(exc)))
    elif action == "approve":
        reason = str(form.get("reason") or "")
        root_cause = str(form.get("root_cause") or "") or None
        for item_id in ids[:500]:
            try:
                it = q.resolve(item_id, user.name, "approve", reason, root_cause=root_cause)
                results.append(
                    (item_id, True, "approved" if it.status == "resolved" else "sent for approval")
                )
            except BackofficeError as exc:
                results.append((item_id, False, str(exc)))
    else:
        results.append((0, False, f"unknown bulk action {action!r}"))
    ok = sum(1 for _, good, _ in results if good)
    return render(
        request,
        "bulk.html",
        {"results": results, "ok": ok, "action": action, "back": str(form.get("back") or "/queue")},
        status_code=200 if ok or not results else 409,
    )
