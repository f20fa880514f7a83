"""/owners: the ownership register in the inbox (issue 14.2).

``/owners`` shows the register in force for the engagement (``?engagement=``, default
``default``): per bot and rule code the delivery owner, the decision owner and backup, the
response-time commitment, the escalation thresholds and path; who is away now (their backups hold
their items and approvals); and the proposals waiting, each with its diff against the register in
force. ``/owners/{id}`` shows one version; the client approver approves or rejects a proposal
there. The same core as ``backoffice owners`` (:mod:`backoffice.ownership`): permissions,
maker != checker and auditing live there.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.inbox.ids import id_or_404
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.ownership import (
    DEFAULT_ENGAGEMENT,
    absences,
    approve,
    current_register,
    get_version,
    list_versions,
    reject,
)
from backoffice.users import Action, User, allowed

__all__ = ["router"]

router = APIRouter()


@router.get("/owners")
def owners_home(
    request: Request,
    engagement: str = DEFAULT_ENGAGEMENT,
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    store = get_store(request)
    engagement = engagement.strip() or DEFAULT_ENGAGEMENT
    versions = list_versions(store, user.name, engagement)
    ctx = {
        "engagement": engagement,
        "register": current_register(store, engagement),
        "pending": [v for v in versions if v.status == "proposed"],
        "history": [v for v in versions if v.status != "proposed"],
        "away": absences(store, current=True),
        "may_decide": allowed(user.role, Action.APPROVE_OWNERS),
    }
    return render(request, "owners.html", ctx)


@router.get("/owners/{version_id}")
def owners_version(
    version_id: str, request: Request, user: User = Depends(require_action(Action.READ_QUEUE))
) -> Response:
    store = get_store(request)
    rec = get_version(store, user.name, id_or_404(version_id))
    ctx = {
        "rec": rec,
        "register": rec.register,
        "may_decide": allowed(user.role, Action.APPROVE_OWNERS) and rec.status == "proposed",
        "own": rec.proposer == user.name,
    }
    return render(request, "owners_version.html", ctx)


@router.post("/owners/{version_id}/approve")
def owners_approve(
    version_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.APPROVE_OWNERS)),
) -> Response:
    reason = str(form.get("reason") or "").strip() or None
    rec = approve(get_store(request), id_or_404(version_id), user.name, reason=reason)
    return RedirectResponse(f"/owners/{rec.id}", status_code=303)


@router.post("/owners/{version_id}/reject")
def owners_reject(
    version_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.APPROVE_OWNERS)),
) -> Response:
    reason = str(form.get("reason") or "").strip() or None
    rec = reject(get_store(request), id_or_404(version_id), user.name, reason=reason)
    return RedirectResponse(f"/owners/{rec.id}", status_code=303)
