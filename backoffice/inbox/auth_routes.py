"""/login, /logout, /healthz and the landing page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from backoffice.audit import AuditEntry, append, record
from backoffice.audit.digests import write_digest
from backoffice.errors import PermissionDenied
from backoffice.inbox import throttle
from backoffice.inbox.security import (
    csrf_form,
    current_user,
    end_session,
    get_store,
    session_of,
    start_session,
)
from backoffice.inbox.web import render
from backoffice.users import Action, User, allowed, check_password, mark_logged_in

__all__ = ["router"]

router = APIRouter()


def _safe_next(value: object) -> str:
    url = value if isinstance(value, str) else ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url or url.startswith("/login"):
        return "/"
    return url


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


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
    client = _client(request)
    attempt = throttle.begin(store, name, client)  # counted before the password is checked
    if not attempt.allowed:
        ctx = {
            "next": nxt,
            "username": name,
            "error": f"too many failed logins; try again in {attempt.retry_after} seconds",
        }
        response = render(request, "login.html", ctx, status_code=429)
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    try:
        user = check_password(store, name, password, mark_login=False)
    except PermissionDenied as exc:
        if attempt.audit_failure:
            record(
                store,
                AuditEntry(
                    actor=name[:120] or "?",
                    action="login.failed",
                    data={
                        "source": "inbox",
                        "client": client[:200],
                        "failures": attempt.failures,
                        "auth": "password",
                    },
                    outcome="denied",
                ),
            )
        ctx = {"next": nxt, "username": name, "error": str(exc)}
        return render(request, "login.html", ctx, status_code=401)
    # One write transaction: the throttle's reset, the login time, its audit entry, the session.
    with store.write() as conn:
        throttle.succeeded(store, name, client, conn=conn)
        mark_logged_in(conn, user.name)
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="login",
                data={"source": "inbox", "client": client[:200], "auth": "password"},
                outcome="ok",
            ),
        )
        start_session(request, user.name, auth="password", conn=conn)
    write_digest(store)  # as audit.record does after its entry: the period's digest, when due
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
def logout(request: Request, form: FormData = Depends(csrf_form)) -> Response:
    session = session_of(request)
    if session.user is not None:
        record(
            get_store(request),
            AuditEntry(actor=session.user, action="logout", data={"source": "inbox", "auth": "session"}),
        )
    end_session(request, "logout")
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request, user: User = Depends(current_user)) -> Response:
    if allowed(user.role, Action.READ_QUEUE):
        return RedirectResponse("/queue", status_code=303)
    return render(request, "home.html")
