"""The CLI's client of the inbox's JSON API (``--server URL``; token from ``BACKOFFICE_TOKEN``).

With ``--server`` the queue commands act through the inbox as the token's user, so associates
and leads need no access to the store; the inbox checks the token and records ``auth: token``.
Without it they open the store directly (admins and bots), recorded as ``auth: local``.
"""

from __future__ import annotations

from typing import Any

import httpx
import typer

from backoffice.errors import (
    BackofficeError,
    ConflictError,
    InputError,
    NotFound,
    PermissionDenied,
    UsageError,
)
from backoffice.settings import get_settings

__all__ = ["Remote", "remote"]

_ERRORS: dict[int, type[BackofficeError]] = {
    400: InputError,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    409: ConflictError,
    422: InputError,
    429: PermissionDenied,
}


class Remote:
    """Calls ``/api/v1`` of the inbox at ``url`` with a bearer token."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server takes an http(s) URL, got {url!r}", field="server")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        from backoffice.store import current_engagement

        # the engagement this command works in: an inbox serving another refuses (409)
        headers = {"Accept": "application/json", "X-Backoffice-Engagement": current_engagement()}
        if auth:
            if not self.token:
                raise UsageError(
                    "--server needs a personal API token in BACKOFFICE_TOKEN (backoffice tokens create)"
                )
            headers["Authorization"] = f"Bearer {self.token}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            r = httpx.request(
                method,
                f"{self.url}/api/v1{path}",
                json=json,
                params=clean,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise BackofficeError(f"the inbox at {self.url} did not answer: {exc}") from None
        if r.status_code >= 400:
            try:
                body = r.json()
                detail = body.get("error") or body.get("detail") if isinstance(body, dict) else body
            except ValueError:
                detail = r.text[:200]
            raise _ERRORS.get(r.status_code, BackofficeError)(f"{detail} (HTTP {r.status_code})")
        return r.json()


def remote(ctx: typer.Context) -> Remote | None:
    """The Remote the command's group was given with ``--server``, if any."""
    found: Remote | None = ctx.find_object(Remote)
    return found


def make_remote(server: str | None) -> Remote | None:
    if not server:
        return None
    token = get_settings().token
    return Remote(server, token.get_secret_value() if token is not None else None)
