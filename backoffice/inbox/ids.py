"""Numbers from URLs and forms, bounded to what the store's integer columns hold.

A 20-digit number is no row of ours: it answers 404 (a path) or 400 (a filter), never a
database overflow (500)."""

from __future__ import annotations

from backoffice.errors import InputError, NotFound

__all__ = ["MAX_ID", "id_or_404", "int_or_400"]

MAX_ID = 2**63 - 1  # a signed 64-bit integer (SQLite INTEGER, PostgreSQL BIGINT)


def id_or_404(text: object, what: str = "item") -> int:
    """The id named in a path: digits up to :data:`MAX_ID`, else NotFound."""
    value = str(text)
    if not value.isdigit() or len(value) > 19 or int(value) > MAX_ID:
        raise NotFound(f"no {what} {value[:40]!r}")
    return int(value)


def int_or_400(text: object, field: str) -> int:
    """A whole number from a form or query: 0..:data:`MAX_ID`, else InputError."""
    value = str(text).strip()
    if not value.isdigit() or len(value) > 19 or int(value) > MAX_ID:
        raise InputError(f"{field} is a whole number up to {MAX_ID}, got {value[:40]!r}", field=field)
    return int(value)
