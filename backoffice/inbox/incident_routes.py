"""/incidents: system failures that stopped a run (issue 14.5), in the inbox.

``/incidents`` lists them (``?status=open|acknowledged|resolved|unresolved``); ``/incidents/{id}``
shows one with its timeline (its ``incident.*`` audit entries) and the forms the reader may use:
the client approver's notification decision, the provider's acknowledge and resolve. The same
core as ``backoffice incidents`` (:mod:`backoffice.incidents`): permissions and auditing live there.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from backoffice import incidents as inc
from backoffice.inbox.ids import id_or_404
from backoffice.inbox.security import csrf_form, get_store, require_action
from backoffice.inbox.web import render
from backoffice.users import Action, User, allowed

__all__ = ["router"]

router = APIRouter()


@router.get("/incidents")
def incidents_home(
    request: Request, status: str = "", user: User = Depends(require_action(Action.READ_INCIDENTS))
) -> Response:
    rows = inc.list_incidents(get_store(request), user.name, status=status or None)
    return render(request, "incidents.html", {"incidents": rows, "status": status, "statuses": inc.STATUSES})


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: str, request: Request, user: User = Depends(require_action(Action.READ_INCIDENTS))
) -> Response:
    store = get_store(request)
    i = inc.get_incident(store, user.name, id_or_404(incident_id))
    ctx = {
        "i": i,
        "timeline": inc.timeline(store, user.name, i.id),
        "may_decide": allowed(user.role, Action.DECIDE_INCIDENTS) and i.notify is None,
        "may_handle": allowed(user.role, Action.HANDLE_INCIDENTS) and i.status != "resolved",
    }
    return render(request, "incident.html", ctx)


def _note(form: FormData) -> str | None:
    return str(form.get("note") or "").strip() or None


@router.post("/incidents/{incident_id}/decide")
def incident_decide(
    incident_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.DECIDE_INCIDENTS)),
) -> Response:
    notify = str(form.get("notify") or "")
    if notify not in ("yes", "no"):
        from backoffice.errors import UsageError

        raise UsageError("choose whether to notify: yes or no", field="notify")
    i = inc.decide(
        get_store(request),
        id_or_404(incident_id),
        user.name,
        notify=notify == "yes",
        reason=str(form.get("reason") or ""),
    )
    return RedirectResponse(f"/incidents/{i.id}", status_code=303)


@router.post("/incidents/{incident_id}/ack")
def incident_ack(
    incident_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.HANDLE_INCIDENTS)),
) -> Response:
    i = inc.acknowledge(get_store(request), id_or_404(incident_id), user.name, note=_note(form))
    return RedirectResponse(f"/incidents/{i.id}", status_code=303)


@router.post("/incidents/{incident_id}/resolve")
def incident_resolve(
    incident_id: str,
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.HANDLE_INCIDENTS)),
) -> Response:
    i = inc.resolve(get_store(request), id_or_404(incident_id), user.name, note=_note(form))
    return RedirectResponse(f"/incidents/{i.id}", status_code=303)
