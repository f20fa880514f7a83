"""``backoffice inbox``: serve the exception inbox with uvicorn."""

from __future__ import annotations

import os
import threading
from typing import Annotated

import typer

from backoffice.cli._common import console

__all__ = ["inbox"]


def inbox(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: settings.inbox_host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings.inbox_port).")] = None,
    secure_cookie: Annotated[
        bool,
        typer.Option(
            "--secure-cookie",
            help="Mark the session cookie Secure (behind HTTPS; settings.inbox_secure_cookie).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes serving the inbox (default: settings.inbox_workers)."),
    ] = None,
) -> None:
    """Serve the web inbox (queue, items, KPIs) on 127.0.0.1:8765 by default.

    One inbox serves one engagement (--engagement NAME): its store, its users and their sessions;
    serve each engagement on a port of its own."""
    import uvicorn

    from backoffice.errors import UsageError
    from backoffice.inbox import create_app
    from backoffice.settings import get_settings
    from backoffice.store import Store

    settings = get_settings()
    store = Store.open()
    h, p = host or settings.inbox_host, port or settings.inbox_port
    n = workers or settings.inbox_workers
    console.print(
        f"inbox of engagement {store.engagement} on http://{h}:{p}/ (store {store.safe_url}, "
        f"{n} worker{'s' if n > 1 else ''}); Ctrl+C to stop"
    )
    if n > 1:
        # each worker process builds its app from the settings (uvicorn needs an import string),
        # in this engagement's store
        os.environ["BACKOFFICE_ENGAGEMENT"] = store.engagement
        if secure_cookie and not settings.inbox_secure_cookie:
            raise UsageError(
                "with --workers > 1, set BACKOFFICE_INBOX_SECURE_COOKIE=1 instead of --secure-cookie"
            )
        uvicorn.run(
            "backoffice.inbox.app:app_from_settings",
            factory=True,
            workers=n,
            host=h,
            port=p,
            log_level="warning",
            proxy_headers=False,
        )
        return
    app = create_app(store, secure_cookie=secure_cookie or settings.inbox_secure_cookie)
    # the queue page's counts: built while the server starts instead of in the first request
    threading.Thread(target=app.state.listing.warm, daemon=True, name="inbox-counts").start()
    uvicorn.run(app, host=h, port=p, log_level="warning", proxy_headers=False)
