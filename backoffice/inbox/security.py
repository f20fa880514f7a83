"""Sessions, CSRF and permission checks for the inbox.

- Sessions live in a signed cookie (itsdangerous, key from ``settings.session_secret`` or
  ``BACKOFFICE_HOME/session.key``) that expires after ``settings.session_max_age_minutes``.
  The cookie holds the user name and the session's CSRF token; the user is re-read from the
  store on every request, so a deactivated user or a changed role takes effect at once.
- Every form carries ``csrf_token`` (see :func:`csrf_token`); POST routes depend on
  :func:`csrf_form`, which refuses a missing or wrong token with 403.
- :func:`current_user` redirects anonymous visitors to ``/login``; :func:`require_action` and
  :func:`require_role` refuse other users with an audited denial page.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.datastructures import FormData

from backoffice.errors import NotFound, PermissionDenied
from backoffice.store import Store
from backoffice.users import Action, User, allowed, deny, get_user

__all__ = [
    "COOKIE",
    "CsrfError",
    "LoginRequired",
    "Session",
    "SessionCodec",
    "csrf_form",
    "csrf_token",
    "current_user",
    "get_store",
    "load_secret",
    "require_action",
    "require_role",
]

COOKIE = "bo_session"


class LoginRequired(Exception):
    """Raised for anonymous requests; the app turns it into a redirect to /login."""

    def __init__(self, next_url: str = "/queue") -> None:
        super().__init__("login required")
        self.next_url = next_url


class CsrfError(Exception):
    """A form came without the session's CSRF token (403)."""


@dataclass
class Session:
    """What the signed cookie carries."""

    csrf: str
    user: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"c": self.csrf, "u": self.user}


def load_secret(store: Store) -> str:
    """The signing key: settings.session_secret, else HOME/session.key (created once, mode 0600)."""
    configured = store.settings.session_secret
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value()
    path: Path = store.home / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class SessionCodec:
    """Signs and checks session cookies; ``max_age`` in seconds."""

    def __init__(self, secret: str, max_age: int) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="backoffice-inbox-session")
        self.max_age = max_age

    def dumps(self, session: Session) -> str:
        return self._s.dumps(session.to_dict())

    def loads(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return Session(csrf=data["c"], user=user if isinstance(user, str) else None)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def session_of(request: Request) -> Session:
    """The request's session (a fresh anonymous one if the cookie is missing, bad or expired).

    A fresh session is remembered on ``request.state`` and written as a cookie by the app's
    middleware, so the CSRF token of a login form survives to its POST.
    """
    cached: Session | None = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    codec: SessionCodec = request.app.state.sessions
    session = codec.loads(request.cookies.get(COOKIE))
    if session is None:
        session = Session(csrf=secrets.token_urlsafe(24))
        request.state.session_dirty = True
    request.state.session = session
    return session


def start_session(request: Request, user: str) -> None:
    """After a login: a new session (new CSRF token; the old cookie is never reused)."""
    request.state.session = Session(csrf=secrets.token_urlsafe(24), user=user)
    request.state.session_dirty = True


def end_session(request: Request) -> None:
    request.state.session = Session(csrf=secrets.token_urlsafe(24))
    request.state.session_dirty = True


def csrf_token(request: Request) -> str:
    """The token to put in every form as ``<input type=hidden name=csrf_token>``."""
    return session_of(request).csrf


async def csrf_form(request: Request) -> FormData:
    """Dependency for POST routes: the parsed form, after checking its CSRF token."""
    session = session_of(request)
    if session.user is None and request.url.path != "/login":
        raise LoginRequired("/queue")  # an anonymous POST goes to the login page, not a CSRF error
    form = await request.form()
    sent = form.get("csrf_token")
    expected = session.csrf
    if not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise CsrfError("the form is out of date or did not come from this site; reload the page and retry")
    return form


def _next_url(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return path


def current_user(request: Request) -> User:
    """Dependency: the logged-in user, or a redirect to /login for anonymous requests."""
    cached: User | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    session = session_of(request)
    if session.user is None:
        raise LoginRequired(_next_url(request) if request.method == "GET" else "/queue")
    try:
        user = get_user(get_store(request), session.user)
    except NotFound:
        end_session(request)
        raise LoginRequired(_next_url(request) if request.method == "GET" else "/queue") from None
    request.state.user = user
    return user


def denied(request: Request, user: User, what: str, why: str) -> PermissionDenied:
    """Audit a refused request and return the error to raise (rendered as the denial page)."""
    subject = getattr(request.state, "subject", None)
    return deny(get_store(request), user.name, user.role, what, subject, why)


def require_action(action: Action) -> Callable[..., User]:
    """Dependency factory: the current user if the permission matrix allows ``action``."""

    def dep(request: Request, user: User = Depends(current_user)) -> User:
        if not allowed(user.role, action):
            raise denied(
                request,
                user,
                f"{request.method} {request.url.path}",
                f"{user.name} ({user.role}) may not {action.value.replace('_', ' ')}",
            )
        return user

    return dep


def require_role(*roles: str) -> Callable[..., User]:
    """Dependency factory: the current user if its role is one of ``roles``."""

    def dep(request: Request, user: User = Depends(current_user)) -> User:
        if user.role not in roles:
            raise denied(
                request,
                user,
                f"{request.method} {request.url.path}",
                f"{user.name} ({user.role}) may not open this page; roles allowed: {', '.join(roles)}",
            )
        return user

    return dep


def login_redirect(next_url: str) -> str:
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/queue"
    return "/login?next=" + quote(next_url, safe="")
