"""``backoffice inbox``: serve the exception inbox with uvicorn."""

from __future__ import annotations

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
        bool, typer.Option("--secure-cookie", help="Mark the session cookie Secure (behind HTTPS).")
    ] = False,
) -> None:
    """Serve the web inbox (queue, items, KPIs) on 127.0.0.1:8765 by default."""
    import uvicorn

    from backoffice.inbox import create_app
    from backoffice.settings import get_settings
    from backoffice.store import Store

    settings = get_settings()
    store = Store.open()
    app = create_app(store, secure_cookie=secure_cookie)
    # the queue page's counts: built while the server starts instead of in the first request
    threading.Thread(target=app.state.listing.warm, daemon=True, name="inbox-counts").start()
    h, p = host or settings.inbox_host, port or settings.inbox_port
    console.print(f"inbox on http://{h}:{p}/ (store {store.safe_url}); Ctrl+C to stop")
    uvicorn.run(app, host=h, port=p, log_level="warning", proxy_headers=False)
