"""/qa: QA sampling in the inbox (QA analysts): draw a seeded sample of a bot's finished items,
review each sampled item (pass, or fail with a reason and root cause: a fail reopens the item).
The same core as ``backoffice queue sample`` / ``queue review`` (:mod:`backoffice.queue.sampling`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.errors import InputError
from backoffice.inbox.ids import id_or_404
from backoffice.inbox.queue_routes import item_titles
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.pii import Masking
from backoffice.plugins import registry
from backoffice.queue import ROOT_CAUSES, Queue
from backoffice.queue.postpone import parse_until
from backoffice.queue.sampling import VERDICTS, draw, get_sample, list_samples, review
from backoffice.users import Action, User

__all__ = ["router"]

router = APIRouter()


def _int(form: FormData, name: str) -> int:
    raw = str(form.get(name) or "").strip()
    if not raw.lstrip("-").isdigit() or len(raw) > 12:
        raise InputError(f"{name} must be a whole number", field=name)
    return int(raw)


def _date(form: FormData, name: str) -> datetime | None:
    raw = str(form.get(name) or "").strip()
    return parse_until(raw) if raw else None


@router.get("/qa")
def qa_home(request: Request, user: User = Depends(require_action(Action.REOPEN))) -> Response:
    try:
        bots = registry().names()
    except Exception:  # a broken plugin must not take the page down
        bots = []
    return render(request, "qa.html", {"samples": list_samples(get_store(request)), "bots": bots})


@router.post("/qa/samples")
def qa_draw(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.REOPEN)),
) -> Response:
    s = draw(
        get_store(request),
        user.name,
        str(form.get("bot") or ""),
        _int(form, "size"),
        _int(form, "seed"),
        date_from=_date(form, "from"),
        date_to=_date(form, "to"),
    )
    return RedirectResponse(f"/qa/samples/{s.id}", status_code=303)


@router.get("/qa/samples/{sample_id}")
def qa_sample(
    sample_id: str, request: Request, user: User = Depends(require_action(Action.REOPEN))
) -> Response:
    store = get_store(request)
    s = get_sample(store, id_or_404(sample_id))
    q = Queue(store)
    rows = [q.get(int(r["item_id"])) for r in s.reviews]
    masking = Masking()
    shown = {it.id: it.to_dict(masking=masking) for it in rows}
    ctx = {
        "sample": s,
        "items": shown,
        "titles": item_titles(rows, {it.id: it.row["payload"] for it in rows}),
        "verdicts": VERDICTS,
        "root_causes": ROOT_CAUSES,
        "done": request.query_params.get("done"),
    }
    return render(request, "qa_sample.html", ctx)


@router.post("/qa/samples/{sample_id}/items/{item_id}")
def qa_verdict(
    sample_id: str,
    item_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.REOPEN)),
) -> Response:
    sid, iid = id_or_404(sample_id), id_or_404(item_id)
    root_cause = str(form.get("root_cause") or "") or None
    got = review(
        get_store(request),
        iid,
        user.name,
        str(form.get("verdict") or ""),
        reason=str(form.get("reason") or ""),
        root_cause=root_cause,
        sample_id=sid,
    )
    done = "reopened" if got["reopened"] else got["verdict"]
    return RedirectResponse(f"/qa/samples/{sid}?done={done}#item-{iid}", status_code=303)
