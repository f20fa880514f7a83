"""/login, /logout, /healthz and the landing page."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select, text
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from backoffice.audit import AuditEntry, append
from backoffice.errors import PermissionDenied
from backoffice.inbox.security import (
    csrf_form,
    current_user,
    end_session,
    get_store,
    session_of,
    start_session,
)
from backoffice.inbox.web import render
from backoffice.schema import audit
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, authenticate

__all__ = ["router"]

router = APIRouter()

#: After MAX_FAILURES failed logins of one user name within LOCKOUT, further attempts are refused
#: (and audited as ``login.locked``) until the window has passed.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


def _safe_next(value: object) -> str:
    url = value if isinstance(value, str) else ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url or url.startswith("/login"):
        return "/"
    return url


def _recent_failures(store: Store, name: str) -> int:
    """Failed inbox logins of ``name`` in the last LOCKOUT period (read from the audit log)."""
    since = (utcnow() - LOCKOUT).isoformat(timespec="microseconds")
    q = (
        select(func.count())
        .select_from(audit)
        .where(audit.c.actor == name[:120], audit.c.action == "login.failed", audit.c.at >= since)
    )
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


def _audit_lockout(store: Store, name: str) -> None:
    with store.write() as conn:
        append(
            conn,
            store,
            AuditEntry(
                actor=name[:120] or "?", action="login.locked", data={"source": "inbox"}, outcome="denied"
            ),
        )


@router.get("/healthz")
def healthz(request: Request) -> Response:
    with get_store(request).read() as conn:
        conn.execute(text("SELECT 1"))
    return JSONResponse({"ok": True})


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    session_of(request)  # make sure a session (with its CSRF token) exists for the form
    return render(request, "login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login")
def login(request: Request, form: FormData = Depends(csrf_form)) -> Response:
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    nxt = _safe_next(form.get("next"))
    store = get_store(request)
    if _recent_failures(store, name) >= MAX_FAILURES:
        _audit_lockout(store, name)
        ctx = {
            "next": nxt,
            "username": name,
            "error": f"too many failed logins for this user; try again in {LOCKOUT.seconds // 60} minutes",
        }
        return render(request, "login.html", ctx, status_code=429)
    try:
        user = authenticate(store, name, password, source="inbox")  # audits both outcomes
    except PermissionDenied as exc:
        ctx = {"next": nxt, "username": name, "error": str(exc)}
        return render(request, "login.html", ctx, status_code=401)
    start_session(request, user.name)
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(csrf_form)) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, user: User = Depends(current_user)) -> Response:
    if allowed(user.role, Action.READ_QUEUE):
        return RedirectResponse("/queue", status_code=303)
    return render(request, "home.html")
