"""Comments on queue items: free text by people who may read the queue, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from backoffice.errors import InputError
from backoffice.queue.transitions import audit_item, load
from backoffice.schema import comments
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["add_comment", "comments_of"]


def add_comment(store: Store, item_id: int, user_name: str, text: str) -> None:
    user = require(store, user_name, Action.READ_QUEUE, f"item:{item_id}")
    text = text.strip()
    if not text:
        raise InputError("a comment needs text", field="text")
    with store.write() as conn:
        it = load(store, conn, item_id)
        conn.execute(insert(comments).values(item_id=item_id, user=user.name, text=text[:5000], at=utcnow()))
        audit_item(store, conn, user, "item.commented", it, {"text": text[:5000]})


def comments_of(store: Store, item_id: int) -> list[dict[str, Any]]:
    with store.read() as conn:
        q = select(comments).where(comments.c.item_id == item_id).order_by(comments.c.id)
        return [dict(r._mapping) for r in conn.execute(q)]
