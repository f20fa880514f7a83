"""The human exception queue.

Operations: list/filter/count, get, claim (with a lease; an expired lease returns the item),
claim_next (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), release, comment, resolve (approve /
correct with field changes / reject, with reason and root-cause code), reopen, escalate,
escalate_overdue, stats. Each transition and its audit entry commit in one transaction; two
concurrent claims of one item: exactly one wins. Status changes are
:mod:`backoffice.lifecycle` events; items enter the queue only from the runner.

Modules: :mod:`~backoffice.queue.views` (QueueItem), :mod:`~backoffice.queue.queries` (filters,
sorts, pages, counts), :mod:`~backoffice.queue.routing` (owner, tier, SLA of a queued item),
:mod:`~backoffice.queue.transitions` (claim, release, reopen, escalate),
:mod:`~backoffice.queue.maker_checker` (decisions, two-person approval),
:mod:`~backoffice.queue.comments`, :mod:`~backoffice.queue.stats` (KPIs) and
:mod:`~backoffice.queue.facade` (:class:`Queue`, one method per operation).
"""

from __future__ import annotations

from backoffice.lifecycle import QUEUED, STATUSES
from backoffice.queue.facade import Queue
from backoffice.queue.maker_checker import DECISIONS, ROOT_CAUSES
from backoffice.queue.routing import QUEUE_FIELD_NAMES, TIERS, queue_fields
from backoffice.queue.views import QueueItem, SlaState

__all__ = [
    "DECISIONS",
    "QUEUED",
    "QUEUE_FIELD_NAMES",
    "ROOT_CAUSES",
    "STATUSES",
    "TIERS",
    "Queue",
    "QueueItem",
    "SlaState",
    "queue_fields",
]
