"""The inbox application factory."""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.authn import authenticated
from backoffice.errors import BackofficeError, ConflictError, InputError, NotFound, PermissionDenied
from backoffice.inbox.api_routes import ApiAuthError
from backoffice.inbox.security import (
    COOKIE,
    CsrfError,
    LoginRequired,
    SessionCodec,
    load_secret,
    login_redirect,
)
from backoffice.inbox.web import render
from backoffice.plugins import installed, using
from backoffice.store import Store

__all__ = ["BUILTIN_ROUTERS", "OPTIONAL_ROUTERS", "app_from_settings", "create_app"]

#: The inbox's own pages, in order.
BUILTIN_ROUTERS: tuple[str, ...] = (
    "backoffice.inbox.auth_routes",
    "backoffice.inbox.queue_routes",
    "backoffice.inbox.item_routes",
    "backoffice.inbox.kpi_routes",
    "backoffice.inbox.qa_routes",
    "backoffice.inbox.rules_routes",
    "backoffice.inbox.owners_routes",
    "backoffice.inbox.incident_routes",
    "backoffice.inbox.governance_routes",
    "backoffice.inbox.ops_routes",
    "backoffice.inbox.api_routes",
)

#: Routers other modules add to the inbox when they are installed: module path -> attribute.
OPTIONAL_ROUTERS: dict[str, str] = {"backoffice.inbox.audit_routes": "router"}

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
    "object-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
_ITEM_PATH = re.compile(r"^/items/(\d+)")


def _back(request: Request) -> str:
    m = _ITEM_PATH.match(request.url.path)
    return f"/items/{m.group(1)}" if m else "/queue"


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiAuthError)
    async def _api_auth(request: Request, exc: ApiAuthError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect(exc.next_url), status_code=303)

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        ctx = {"heading": "Form expired", "message": str(exc), "back": _back(request)}
        return render(request, "problem.html", ctx, status_code=403)

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, exc: PermissionDenied) -> Response:
        # Whoever raised it audited it (users.deny / security.denied).
        if _api(request):
            return JSONResponse({"error": str(exc)}, status_code=403)
        return render(request, "denied.html", {"message": str(exc), "back": _back(request)}, status_code=403)

    def _problem(heading: str, status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            if _api(request):
                return JSONResponse({"error": str(exc), "kind": heading}, status_code=status)
            ctx = {"heading": heading, "message": str(exc), "back": _back(request)}
            return render(request, "problem.html", ctx, status_code=status)

        return handler

    app.add_exception_handler(NotFound, _problem("Not found", 404))
    app.add_exception_handler(ConflictError, _problem("Conflict", 409))
    app.add_exception_handler(InputError, _problem("Not accepted", 400))
    app.add_exception_handler(BackofficeError, _problem("Error", 500))


class _SessionAndHeaders:
    """Pure ASGI middleware (no extra task and streams per request, as ``@app.middleware`` has):
    sets the bots and the authentication kind for the request's audit entries, and on the
    response the session cookie (when the session changed) and the security headers."""

    def __init__(self, app: ASGIApp, inbox: FastAPI, secure_cookie: bool) -> None:
        self.app, self.inbox, self.secure_cookie = app, inbox, secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if state.get("session_dirty"):
                    headers.append("set-cookie", self._cookie(state["session"]))
                headers.setdefault("Content-Security-Policy", _CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                if path not in ("/static/inbox.css",):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        # How the human behind this request authenticated, for the audit entries it writes (the
        # context is copied into the route's thread). A login records ``password`` itself.
        # The bots as this app found them (looked up on every page; see plugins.Installed).
        kind = "token" if path.startswith("/api/") else "session"
        with using(self.inbox.state.registry), authenticated(kind):
            await self.app(scope, receive, send_with_headers)

    def _cookie(self, session: Any) -> str:
        codec: SessionCodec = self.inbox.state.sessions
        carrier = Response()
        carrier.set_cookie(
            COOKIE,
            codec.dumps(session),
            max_age=codec.max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure_cookie,
            path="/",
        )
        return carrier.headers["set-cookie"]


def _install_middleware(app: FastAPI, secure_cookie: bool) -> None:
    app.add_middleware(_SessionAndHeaders, inbox=app, secure_cookie=secure_cookie)


def _optional_routers() -> list[APIRouter]:
    out: list[APIRouter] = []
    for module, attr in OPTIONAL_ROUTERS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # not installed (yet): the inbox works without it
            raise
        out.append(getattr(mod, attr))
    return out


def create_app(
    store: Store | None = None,
    *,
    routers: Iterable[APIRouter] = (),
    secure_cookie: bool = False,
    count_staleness: float = 5.0,
) -> FastAPI:
    """The inbox as an ASGI app on ``store`` (default: the store named by the settings).

    ``routers`` are included after the built-in ones, then every installed
    :data:`OPTIONAL_ROUTERS` entry (e.g. the audit explorer). ``secure_cookie`` marks the
    session cookie ``Secure`` (set it when serving behind HTTPS). ``count_staleness``: how many
    seconds the queue page's counts may lag behind the queue (0 = always exact; see
    :mod:`backoffice.inbox.listing`).
    """
    from backoffice.inbox.listing import QueueListing

    store = store or Store.open()
    threads = int(store.settings.inbox_threads)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the sync routes' threads (anyio's default: 40); see settings.inbox_threads
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(
        title="backoffice inbox", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.store = store
    app.state.registry = installed()
    app.state.listing = QueueListing(store, max_stale=count_staleness)
    max_age = int(store.settings.session_max_age_minutes) * 60
    app.state.sessions = SessionCodec(load_secret(store), max_age)
    _install_handlers(app)
    _install_middleware(app, secure_cookie)
    app.mount("/static", StaticFiles(directory=str(_static_dir())), name="static")
    for module in BUILTIN_ROUTERS:
        app.include_router(importlib.import_module(module).router)
    for router in [*routers, *_optional_routers()]:
        app.include_router(router)
    return app


def app_from_settings() -> FastAPI:
    """The app on the store the settings name, its queue counts warming up in a thread: what
    ``backoffice inbox`` serves, in each worker process when it runs several (a uvicorn factory)."""
    store = Store.open()
    app = create_app(store, secure_cookie=bool(store.settings.inbox_secure_cookie))
    threading.Thread(target=app.state.listing.warm, daemon=True, name="inbox-counts").start()
    return app


def _static_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).with_name("static"))
