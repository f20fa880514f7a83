"""/login, /logout, /healthz and the landing page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import text
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

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
from backoffice.users import Action, User, allowed, authenticate

__all__ = ["router"]

router = APIRouter()


def _safe_next(value: object) -> str:
    url = value if isinstance(value, str) else ""
    if not url.startswith("/") or url.startswith("//") or "\\" in url or url.startswith("/login"):
        return "/"
    return url


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
    try:
        user = authenticate(get_store(request), name, password, source="inbox")  # audits both outcomes
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
