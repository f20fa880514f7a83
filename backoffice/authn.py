"""How the human behind the current action was authenticated, for the audit log.

The inbox sets it per request (``session`` for a logged-in browser, ``token`` for the JSON API,
``password`` for a login), the CLI for its process (``local``: direct store access). Every audit
entry written while it is set carries it as ``data["auth"]`` (unless the entry names it itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["AUTH_KINDS", "authenticated", "current", "with_auth"]

AUTH_KINDS = ("password", "session", "token", "local")

_current: ContextVar[str | None] = ContextVar("backoffice_auth", default=None)


def current() -> str | None:
    return _current.get()


@contextmanager
def authenticated(kind: str) -> Iterator[None]:
    """Within the block, audit entries record ``auth: kind``."""
    if kind not in AUTH_KINDS:
        raise ValueError(f"unknown authentication kind {kind!r}")
    token = _current.set(kind)
    try:
        yield
    finally:
        _current.reset(token)


def with_auth(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``auth`` added from the current context (unchanged if unset or present)."""
    kind = _current.get()
    if kind is None or "auth" in data:
        return data
    return {**data, "auth": kind}
