""":class:`Queue`: the exception queue on a store, one method per operation of the package's
modules (queries, transitions, maker-checker, comments, stats)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.sql import ColumnElement

from backoffice.queue import comments as _comments
from backoffice.queue import maker_checker, queries, transitions
from backoffice.queue import stats as _stats
from backoffice.queue.views import QueueItem
from backoffice.store import Store

__all__ = ["Queue"]


class Queue:
    """The exception queue on a store. Every method that changes state audits it.

    Items enter the queue only through the runner (:func:`backoffice.runner.process_batch`);
    tests use :func:`backoffice.testing.queue_items`, which takes that path too.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings

    # -- reading ----------------------------------------------------------------------------------
    def list(
        self, *, limit: int | None = 100, offset: int = 0, sort: str = "due", **filters: Any
    ) -> builtins.list[QueueItem]:
        """Items matching the filters (default: everything queued), sorted, one page."""
        return queries.list_items(self.store, limit=limit, offset=offset, sort=sort, **filters)

    def count(self, **filters: Any) -> int:
        return queries.count(self.store, **filters)

    def get(self, item_id: int) -> QueueItem:
        return queries.get(self.store, item_id)

    def comments(self, item_id: int) -> builtins.list[dict[str, Any]]:
        return _comments.comments_of(self.store, item_id)

    @staticmethod
    def _filters(*, now: datetime, **filters: Any) -> builtins.list[ColumnElement[bool]]:
        """The WHERE clauses of :meth:`list` (the inbox's listing shares them)."""
        return queries.filters(now=now, **filters)

    # -- transitions ------------------------------------------------------------------------------
    def claim(self, item_id: int, user_name: str) -> QueueItem:
        """Take an item for ``lease_minutes``. Exactly one of two concurrent claims wins."""
        return transitions.claim(self.store, item_id, user_name)

    def claim_next(self, user_name: str, **filters: Any) -> QueueItem | None:
        """Claim the most urgent open item matching the filters (then expired leases): first of the
        items assigned to ``user_name``, then of those assigned to nobody (never another's)."""
        return transitions.claim_next_for_user(self.store, user_name, **filters)

    def release(self, item_id: int, user_name: str) -> QueueItem:
        return transitions.release(self.store, item_id, user_name)

    def comment(self, item_id: int, user_name: str, text: str) -> None:
        _comments.add_comment(self.store, item_id, user_name, text)

    def resolve(
        self,
        item_id: int,
        user_name: str,
        decision: str,
        reason: str,
        *,
        root_cause: str | None = None,
        changes: Mapping[str, Any] | None = None,
        model: type[BaseModel] | None = None,
    ) -> QueueItem:
        """Decide an item; see :mod:`backoffice.queue.maker_checker` for who may do what."""
        return maker_checker.resolve(
            self.store,
            item_id,
            user_name,
            decision,
            reason,
            root_cause=root_cause,
            changes=changes,
            model=model,
        )

    def _above_limit(self, it: QueueItem) -> bool:
        """Does the check of ``it`` need an approver (the inbox shows it)?"""
        return maker_checker.above_limit(it, self.settings)

    def reopen(self, item_id: int, user_name: str, reason: str) -> QueueItem:
        return transitions.reopen(self.store, item_id, user_name, reason)

    def escalate(self, item_id: int, user_name: str | None, reason: str) -> QueueItem:
        """Move an item up one tier (associate -> team lead -> approver). ``None`` = the system."""
        return transitions.escalate(self.store, item_id, user_name, reason)

    def escalate_overdue(self) -> builtins.list[int]:
        """Escalate every overdue queued item not yet with the last tier. Returns their ids."""
        return transitions.escalate_overdue(self.store)

    # -- KPIs -------------------------------------------------------------------------------------
    def stats(self, *, bot: str | None = None) -> dict[str, Any]:
        """KPI figures: the inbox's KPI page shows exactly these."""
        return _stats.stats(self.store, bot=bot)
