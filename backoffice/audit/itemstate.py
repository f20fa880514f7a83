"""Items checked against the audit entries that changed them.

:class:`ItemReplay` follows the log (as a ``verify_rows`` observer) and keeps, per item, the
status, decision, maker and checker that its entries leave it in; :meth:`ItemReplay.check` then
compares every stored item with that. An item marked resolved and approved by a checker
directly in the database, with no entry recording it, is found here.

What each action does (the transitions of :mod:`backoffice.lifecycle` and the decisions of
:mod:`backoffice.queue.maker_checker`): a bot's entry with outcome ``done`` finishes the item;
``item.queued`` and ``item.released`` leave it open; ``item.claimed`` claimed;
``item.approval_requested`` pending approval with the maker and their decision; ``item.resolved``
resolved with the maker's decision; ``item.approved`` / ``item.approval_refused`` resolved with
the checker's; ``item.closed`` closed; ``item.reopened`` open with no decision. Reprocessing takes
a resolved item back to ``new`` without an entry (the run's entries follow), so a resolved item
may be ``new``. Other actions (comments, escalations, denials) change none of the four.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backoffice.errors import IntegrityError
from backoffice.schema import items
from backoffice.store import Store

__all__ = ["ItemReplay"]

UNKNOWN = "<purged>"  # a field set by entries that retention removed: not checked
_STATUS = {
    "item.queued": "open",
    "item.released": "open",
    "item.claimed": "claimed",
    "item.approval_requested": "pending_approval",
    "item.resolved": "resolved",
    "item.approved": "resolved",
    "item.approval_refused": "resolved",
    "item.closed": "closed",
    "item.reopened": "open",
}
_ALSO = {"resolved": ("new",)}  # reprocessing (no entry of its own)


class ItemReplay:
    """Per item ``[status, decision, maker, checker, last seq, last action]`` from the log."""

    def __init__(self, *, purged: bool) -> None:
        self.purged = purged  # entries before a retention checkpoint are gone
        self.state: dict[int, list[Any]] = {}

    def observe(self, row: dict[str, Any]) -> None:
        subject = row["subject"]
        if not subject or not subject.startswith("item:") or row["outcome"] == "denied":
            return
        action = row["action"]
        status = _STATUS.get(action)
        if status is None:
            if row["role"] == "bot" and row["outcome"] == "done":
                status = "done"
            else:
                return
        try:
            item_id = int(subject[5:])
        except ValueError:
            return
        st = self.state.get(item_id)
        if st is None:
            fill = UNKNOWN if self.purged else None
            st = self.state[item_id] = [status, fill, fill, fill, 0, ""]
        st[0], st[4], st[5] = status, int(row["seq"]), action
        if action in ("item.approval_requested", "item.resolved"):
            st[1], st[2] = row["outcome"], row["actor"]
        elif action in ("item.approved", "item.approval_refused"):
            st[1], st[3] = row["outcome"], row["actor"]
        elif action == "item.reopened":
            st[1] = st[2] = st[3] = None

    def check(self, store: Store) -> None:
        """Raise IntegrityError for the first item whose stored state its entries do not explain."""
        q = select(items.c.id, items.c.status, items.c.decision, items.c.maker, items.c.checker).order_by(
            items.c.id
        )
        with store.engine.connect() as conn:
            for r in conn.execution_options(yield_per=5000).execute(q):
                st = self.state.get(int(r.id))
                if st is None:
                    if self.purged:
                        continue
                    st = ["new", None, None, None, 0, "no entry"]
                expected, seq, action = st[0], st[4], st[5]
                where = f"entry {seq} ({action})" if seq else "no audit entry"
                if r.status != expected and r.status not in _ALSO.get(expected, ()):
                    raise IntegrityError(
                        f"item {r.id} is {r.status!r} but its audit entries leave it {expected!r} "
                        f"(last: {where}): changed outside the audited actions",
                        first_bad_seq=seq or None,
                    )
                for i, name in ((1, "decision"), (2, "maker"), (3, "checker")):
                    want, got = st[i], getattr(r, name)
                    if want != UNKNOWN and want != got:
                        raise IntegrityError(
                            f"item {r.id} has {name} {got!r} but its audit entries record {want!r} "
                            f"(last: {where}): changed outside the audited actions",
                            first_bad_seq=seq or None,
                        )
