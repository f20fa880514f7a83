"""Buttons that run flows now, in Prefect's embedded mode: reprocess resolved items, escalate overdue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import Response

from backoffice.audit import AuditEntry, append
from backoffice.errors import InputError
from backoffice.inbox.security import csrf_form, denied, get_store, require_action
from backoffice.inbox.web import render
from backoffice.schema import items
from backoffice.store import Store
from backoffice.users import Action, User, allowed

__all__ = ["resolved_bots", "router"]

router = APIRouter()


def resolved_bots(store: Store) -> list[str]:
    """Bots that have resolved items waiting to go back to them."""
    with store.read() as conn:
        q = select(items.c.bot).where(items.c.status == "resolved").distinct().order_by(items.c.bot)
        return [str(b) for (b,) in conn.execute(q)]


def _audit(store: Store, user: User, action: str, data: dict[str, Any], outcome: str) -> None:
    with store.write() as conn:
        append(
            conn,
            store,
            AuditEntry(actor=user.name, role=user.role, action=action, data=data, outcome=outcome),
        )


@router.post("/reprocess")
def reprocess_now(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.READ_QUEUE)),
) -> Response:
    """Run the reprocess-resolved flow for the bots with resolved items (or the one asked for)."""
    from backoffice.orchestration.maintenance import reprocess_resolved

    store = get_store(request)
    if not (allowed(user.role, Action.WORK) or allowed(user.role, Action.RUN)):
        raise denied(request, user, "reprocess", f"{user.name} ({user.role}) may not run the reprocess flow")
    bot = str(form.get("bot") or "").strip()
    item = str(form.get("item") or "").strip()
    waiting = resolved_bots(store)
    bots = [bot] if bot else waiting
    if bot and bot not in waiting:
        bots = []
    result: dict[str, Any] = {}
    error = None
    if bots:
        _audit(store, user, "reprocess.requested", {"bots": bots, "from": "inbox"}, "started")
        try:
            result = reprocess_resolved(bots=bots)
        except InputError as exc:
            error = str(exc)
        except Exception as exc:  # the flow failed: say so, the items stay resolved
            error = f"the reprocess flow failed: {type(exc).__name__}: {exc}"
        _audit(store, user, "reprocess.finished", {"bots": bots, "error": error}, "failed" if error else "ok")
    back = f"/items/{item}" if item.isdigit() else "/kpis"
    ctx = {
        "result": result,
        "bots": bots,
        "back": back,
        "error": error,
        "item": item if item.isdigit() else None,
    }
    return render(request, "reprocess.html", ctx, status_code=500 if error else 200)


@router.post("/escalate-overdue")
def escalate_now(
    request: Request,
    form: FormData = Depends(csrf_form),
    user: User = Depends(require_action(Action.ESCALATE)),
) -> Response:
    """Run the escalate-overdue flow now."""
    from backoffice.orchestration.maintenance import escalate_overdue

    result = escalate_overdue()
    ctx = {"heading": "Escalation", "message": None, "escalated": result, "back": "/kpis"}
    return render(request, "escalated.html", ctx)
