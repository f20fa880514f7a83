"""/rules: change control for rule sets in the inbox (issue 14.3).

``/rules`` lists the rule-set versions; ``/rules/{id}`` shows one with its preview (the bot's last
``?last=N`` decided items whose outcome would change under it, titles masked as in any list) and,
for the client approver, the approve and reject forms. The same core as ``backoffice rules``
(:mod:`backoffice.change_control`): permissions, maker != checker and auditing live there.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice.change_control import approve, get_version, list_versions, reject
from backoffice.change_control.preview import preview
from backoffice.inbox.ids import id_or_404
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.plugins import registry
from backoffice.users import Action, User, allowed

__all__ = ["router"]

router = APIRouter()

MAX_LAST = 500


@router.get("/rules")
def rules_home(
    request: Request, bot: str = "", user: User = Depends(require_action(Action.READ_RULES))
) -> Response:
    store = get_store(request)
    versions = list_versions(store, user.name, bot or None)
    return render(request, "rules.html", {"versions": versions, "bot": bot, "mode": store.settings.mode})


@router.get("/rules/{version_id}")
def rules_version(
    version_id: str,
    request: Request,
    last: int = 50,
    user: User = Depends(require_action(Action.READ_RULES)),
) -> Response:
    store = get_store(request)
    rec = get_version(store, user.name, id_or_404(version_id))
    last = min(max(1, last), MAX_LAST)
    result = None
    problem = None
    found = registry().find(rec.bot)
    if found is None:
        problem = f"bot {rec.bot} is not installed here: no preview"
    elif rec.status == "proposed":
        try:
            result = preview(store, found, rec.id, user.name, last=last)
        except Exception as exc:  # the page still shows the record and the decision forms
            problem = f"no preview: {exc}"
    ctx = {
        "rec": rec,
        "result": result,
        "problem": problem,
        "last": last,
        "may_decide": allowed(user.role, Action.APPROVE_RULES) and rec.status == "proposed",
        "own": rec.proposer == user.name,
    }
    return render(request, "rules_version.html", ctx)


@router.post("/rules/{version_id}/approve")
def rules_approve(
    version_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.APPROVE_RULES)),
) -> Response:
    reason = str(form.get("reason") or "").strip() or None
    rec = approve(get_store(request), id_or_404(version_id), user.name, reason=reason)
    return RedirectResponse(f"/rules/{rec.id}", status_code=303)


@router.post("/rules/{version_id}/reject")
def rules_reject(
    version_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.APPROVE_RULES)),
) -> Response:
    rec = reject(get_store(request), id_or_404(version_id), user.name, reason=str(form.get("reason") or ""))
    return RedirectResponse(f"/rules/{rec.id}", status_code=303)
