"""Sessions, CSRF, Origin and permission checks for the inbox.

- Sessions are kept server-side (table ``sessions``) so they can be ended: on logout, on a
  password or role change of their user (a session remembers the role and a fingerprint of the
  password hash it was opened with), and on deactivation. A session ends after
  ``settings.session_idle_minutes`` without a request and ``settings.session_max_age_minutes``
  after login at the latest. The cookie is signed (itsdangerous, key from
  ``settings.session_secret`` or ``BACKOFFICE_HOME/session.key``) and carries the session's
  secret (the table stores only its sha256) and, before login, the CSRF token of the login form.
- Every form carries ``csrf_token`` (see :func:`csrf_token`); POST routes depend on
  :func:`csrf_form`, which refuses a missing or wrong token, and a request whose ``Origin`` (or,
  without it, ``Referer``) names another site, with 403.
- :func:`current_user` redirects anonymous visitors to ``/login``; :func:`require_action` and
  :func:`require_role` refuse other users with an audited denial page.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Connection, insert, select, update
from starlette.datastructures import FormData

from backoffice.errors import NotFound, PermissionDenied
from backoffice.schema import sessions, users
from backoffice.store import Store, utcnow
from backoffice.users import (
    Action,
    User,
    allowed,
    credential_fingerprint,
    deny,
    get_user,
    session_binding,
)

__all__ = [
    "COOKIE",
    "CsrfError",
    "LoginRequired",
    "Session",
    "SessionCodec",
    "csrf_form",
    "csrf_token",
    "current_user",
    "end_session",
    "get_store",
    "load_secret",
    "require_action",
    "require_role",
    "same_origin",
    "session_of",
    "start_session",
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
    """A request's session: anonymous (``user`` None, only a CSRF token) or a stored login."""

    csrf: str
    user: str | None = None
    sid: str | None = None  # the secret in the cookie; the store keeps its sha256
    auth: str | None = None  # how the session was opened (password)

    def to_dict(self) -> dict[str, Any]:
        if self.sid is not None:
            return {"c": "", "s": self.sid}
        return {"c": self.csrf}


def session_key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


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
        """The cookie's content (not yet checked against the store), None if missing or bad."""
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        sid = data.get("s")
        return Session(csrf=data["c"], sid=sid if isinstance(sid, str) else None)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def session_of(request: Request) -> Session:
    """The request's session (a fresh anonymous one if the cookie is missing, bad, or names a
    session that has ended).

    A fresh session is remembered on ``request.state`` and written as a cookie by the app's
    middleware, so the CSRF token of a login form survives to its POST.
    """
    cached: Session | None = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    codec: SessionCodec = request.app.state.sessions
    session = codec.loads(request.cookies.get(COOKIE))
    if session is not None and session.sid is not None:
        session = _stored(request, get_store(request), session.sid)
    if session is None:
        session = Session(csrf=secrets.token_urlsafe(24))
        request.state.session_dirty = True
    request.state.session = session
    return session


def _stored(request: Request, store: Store, sid: str) -> Session | None:
    """The live stored session for ``sid``; ends it (with the reason) if it has run out.

    One read (the session joined with its user, whose row also gives the request's
    :class:`User`); a write transaction only when the session ends or its last-seen time is
    due to be written (at most every ``_TOUCH_SECONDS``), so a page view takes no write lock."""
    key = session_key(sid)
    u = users.c
    q = (
        select(sessions, u.role.label("u_role"), u.password_hash, u.active, u.last_login_at)
        .select_from(sessions.outerjoin(users, u.name == sessions.c.user))
        .where(sessions.c.id == key)
    )
    with store.read() as conn:
        row = conn.execute(q).first()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    idle = timedelta(minutes=int(store.settings.session_idle_minutes))
    active = row.u_role is not None and bool(row.active)
    reason = None
    if now >= row.expires_at:
        reason = "expired"
    elif now - row.last_seen_at >= idle:
        reason = "idle"
    elif not active:
        reason = "deactivated"
    elif row.u_role != row.role:
        reason = "role_changed"
    elif credential_fingerprint(row.password_hash) != row.credential:
        reason = "password_changed"
    if reason is not None:
        with store.write() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == key, sessions.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
        return None
    if (now - row.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
        with store.write() as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.id == key, sessions.c.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    request.state.session_user = User(  # what current_user returns, without a second read
        name=row.user,
        role=row.u_role,
        active=True,
        last_login_at=row.last_login_at,
        has_password=bool(row.password_hash),
    )
    return Session(csrf=row.csrf, user=row.user, sid=sid, auth=row.auth)


#: A session's last request time is written at most this often (not on every request).
_TOUCH_SECONDS = 15


def start_session(
    request: Request, user: str, *, auth: str = "password", conn: Connection | None = None
) -> None:
    """After a login: a new stored session (new secret, new CSRF token; the old cookie is never
    reused, and a session the old cookie named is ended). Inside the caller's write transaction
    ``conn`` when given (the login's), else in one of its own."""
    store = get_store(request)
    old = getattr(request.state, "session", None)
    binding = session_binding(store, user, conn=conn)
    if binding is None:
        raise LoginRequired("/queue")
    sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), utcnow()
    with contextlib.nullcontext(conn) if conn is not None else store.write() as tx:
        if old is not None and old.sid is not None:
            _end(tx, old.sid, "replaced")
        tx.execute(
            insert(sessions).values(
                id=session_key(sid),
                user=user,
                csrf=csrf,
                auth=auth,
                role=binding[0],
                credential=binding[1],
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(minutes=int(store.settings.session_max_age_minutes)),
            )
        )
    request.state.session = Session(csrf=csrf, user=user, sid=sid, auth=auth)
    request.state.session_dirty = True


def _end(conn: Any, sid: str, reason: str) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.id == session_key(sid), sessions.c.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


def end_session(request: Request, reason: str = "logout") -> None:
    """End the request's stored session (if any) and start an anonymous one."""
    current: Session | None = getattr(request.state, "session", None)
    if current is not None and current.sid is not None:
        with get_store(request).write() as conn:
            _end(conn, current.sid, reason)
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
    if not same_origin(request):
        raise CsrfError("the request came from another site (Origin/Referer); it was refused")
    form = await request.form()
    sent = form.get("csrf_token")
    expected = session.csrf
    if not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise CsrfError("the form is out of date or did not come from this site; reload the page and retry")
    return form


def same_origin(request: Request) -> bool:
    """False if the request's ``Origin`` (or, without it, ``Referer``) names another host.

    Browsers send ``Origin`` on every cross-site POST; a request with neither header (a script,
    an old browser, a privacy setting) is judged by its CSRF token alone."""
    claimed = request.headers.get("origin")
    if claimed is None:
        claimed = request.headers.get("referer")
        if claimed is None:
            return True
    if claimed.strip().lower() == "null":
        return False
    parts = urlsplit(claimed.strip())
    host = request.headers.get("host") or request.url.netloc
    return bool(parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower())


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
    user: User | None = getattr(request.state, "session_user", None)  # read with the session
    try:
        if user is None or user.name != session.user:
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
