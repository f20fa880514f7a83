"""Reading the audit log: entries, filtered, with ``data`` and ``evidence`` parsed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backoffice.schema import audit
from backoffice.store import Store

__all__ = ["entries"]


def entries(
    store: Store,
    *,
    subject: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    bot: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    descending: bool = False,
) -> list[dict[str, Any]]:
    """Entries as dicts (``data`` and ``evidence`` parsed), filtered."""
    q = select(audit)
    if subject is not None:
        q = q.where(audit.c.subject == subject)
    if actor is not None:
        q = q.where(audit.c.actor == actor)
    if action is not None:
        q = q.where(audit.c.action == action)
    if bot is not None:
        q = q.where(audit.c.bot == bot)
    if since is not None:
        q = q.where(audit.c.at >= since.isoformat(timespec="microseconds"))
    if until is not None:
        q = q.where(audit.c.at <= until.isoformat(timespec="microseconds"))
    q = q.order_by(audit.c.seq.desc() if descending else audit.c.seq)
    if limit is not None:
        q = q.limit(limit)
    with store.read() as conn:
        return [_parsed(dict(r._mapping)) for r in conn.execute(q)]


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    row["data"] = json.loads(row["data"])
    row["evidence"] = json.loads(row["evidence"])
    return row
