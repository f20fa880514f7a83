"""Saved views: a user's named filter sets on the queue page, kept per user in the store.

A view is the queue page's query parameters (filters, sort, page size) under a name; saving a
name again replaces it. Every user who may read the queue keeps their own views; no one sees
another's. Saving and deleting are audited (``view.saved``, ``view.deleted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from backoffice.audit import AuditEntry, append
from backoffice.errors import InputError, NotFound
from backoffice.schema import saved_views
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["VIEW_KEYS", "SavedView", "delete_view", "list_views", "save_view"]

#: the query parameters a view keeps (the queue page's filters, sort and page size)
VIEW_KEYS = (
    "status",
    "bot",
    "code",
    "owner_role",
    "assignee",
    "assigned",
    "age",
    "sla",
    "kind",
    "postponed",
    "view",
    "sort",
    "size",
)
MAX_VIEWS = 50


@dataclass(frozen=True)
class SavedView:
    name: str
    query: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "query": self.query}


def _clean(query: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(query[k])[:120] for k in VIEW_KEYS if query.get(k) not in (None, "")}


def save_view(store: Store, user_name: str, name: str, query: Mapping[str, Any]) -> SavedView:
    """Save ``query`` as the user's view ``name`` (replacing a view of that name)."""
    user = require(store, user_name, Action.READ_QUEUE, f"view:{name}")
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise InputError("a view's name is 1-60 characters", field="name")
    clean = _clean(query)
    now = utcnow()
    c = saved_views.c
    with store.write() as conn:
        found = conn.execute(select(c.id).where(c.user == user.name, c.name == name)).scalar()
        if found is None:
            n = len(conn.execute(select(c.id).where(c.user == user.name)).all())
            if n >= MAX_VIEWS:
                raise InputError(f"you have {n} saved views; delete one first", field="name")
            conn.execute(
                insert(saved_views).values(
                    user=user.name, name=name, query=clean, created_at=now, updated_at=now
                )
            )
        else:
            conn.execute(update(saved_views).where(c.id == found).values(query=clean, updated_at=now))
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="view.saved",
                subject=f"view:{name}",
                data={"query": clean, "replaced": found is not None},
            ),
        )
    return SavedView(name, clean)


def list_views(store: Store, user_name: str) -> list[SavedView]:
    user = require(store, user_name, Action.READ_QUEUE)
    c = saved_views.c
    with store.read() as conn:
        rows = conn.execute(select(c.name, c.query).where(c.user == user.name).order_by(c.name)).all()
    return [SavedView(str(n), dict(q or {})) for n, q in rows]


def delete_view(store: Store, user_name: str, name: str) -> None:
    user = require(store, user_name, Action.READ_QUEUE, f"view:{name}")
    c = saved_views.c
    with store.write() as conn:
        n = conn.execute(delete(saved_views).where(c.user == user.name, c.name == name)).rowcount
        if n != 1:
            raise NotFound(f"you have no saved view {name!r}")
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name, role=user.role, action="view.deleted", subject=f"view:{name}", data={}
            ),
        )
