"""Which run owns an item: registration by idempotency key, processing leases, and taking over
the items of runs that cannot be working on them any more (finished, failed, dead on this host,
lease expired), so overlapping runs never act on one item twice."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from backoffice import lifecycle
from backoffice.items import Item
from backoffice.jsonutil import jsonable
from backoffice.queue.routing import fx_rate
from backoffice.runner.runs import Run
from backoffice.schema import items, runs
from backoffice.store import utcnow

__all__ = ["Registered", "live_runs", "pid_alive", "register"]


@dataclass(frozen=True, slots=True)
class Registered:
    """What registration stored for one item, so recording neither builds it again nor
    rewrites it: the payload and source in their stored JSON form, and whether this call
    inserted the row (``fresh``: its violations and evidence are the empty lists it was
    registered with) or found it (taken over, or registered earlier by this run)."""

    payload: Any
    source: Any
    fresh: bool


def live_runs(conn: Connection, run_ids: set[str], now: datetime) -> set[str]:
    """Which of these runs may still be working: running, and not a dead process on this host."""
    if not run_ids:
        return set()
    host = socket.gethostname()
    live: set[str] = set()
    q = select(runs.c.id, runs.c.status, runs.c.host, runs.c.pid).where(runs.c.id.in_(list(run_ids)))
    for r in conn.execute(q):
        if r.status != "running":
            continue
        if r.host == host and r.pid is not None and not pid_alive(int(r.pid)):
            continue  # crashed on this machine: take its items over at once
        live.add(str(r.id))
    return live


def _text(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(
    conn: Connection,
    run: Run,
    batch: list[Item],
    *,
    personal: bool,
    registered: dict[str, Registered] | None = None,
) -> list[Item]:
    """Take ownership of the batch's items; return the ones this run must process.

    Unknown keys are registered as ``new``, owned by this run with a processing lease. A key
    already ``new`` is taken over only when its owner cannot be working on it any more (the
    owning run finished, failed, died on this host, or its lease expired); otherwise it is
    left to its live owner, so overlapping runs never act on one item twice. Keys that are
    done or queued are skipped.

    ``registered`` (when given) receives, per returned item, what was stored for it
    (:class:`Registered`), for :func:`~backoffice.runner.recording.record_outcomes`.
    """
    now = utcnow()
    lease = now + timedelta(minutes=run.settings.processing_lease_minutes)
    unique: dict[str, Item] = {}
    for it in batch:
        unique.setdefault(it.key, it)  # the same key twice in one input: the first wins
    keys = list(unique)
    company, rates = run.settings.company_currency, run.inputs.rates_to_company()
    stored = {k: (jsonable(it.payload), it.source.model_dump(mode="json")) for k, it in unique.items()}
    rows = [
        {
            "bot": run.bot,
            "key": it.key,
            "run_id": run.run_id,
            "kind": it.kind,
            "payload": stored[it.key][0],
            "source": stored[it.key][1],
            "amount": str(it.amount) if it.amount is not None else None,
            "personal": personal,
            "currency": it.currency,
            "fx_rate": _text(fx_rate(it.currency, company, rates)) if it.amount is not None else None,
            "violations": [],
            "codes": "",
            "evidence": [],
            "priority": 3,
            "approver_only": False,
            "attempts": 0,
            "escalations": 0,
            "lease_until": lease,
            "created_at": now,
            "updated_at": now,
        }
        for it in unique.values()
    ]
    lifecycle.register(conn, rows)
    existing: list[Any] = []
    for i in range(0, len(keys), 900):
        q = select(
            items.c.key, items.c.status, items.c.run_id, items.c.lease_until, items.c.created_at
        ).where(items.c.bot == run.bot, items.c.key.in_(keys[i : i + 900]), items.c.status == "new")
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        existing.extend(conn.execute(q))
    owners = {str(r.run_id) for r in existing if r.run_id and r.run_id != run.run_id}
    live = live_runs(conn, owners, now)
    mine: list[str] = []
    taken: list[str] = []  # owned by another run that cannot be working on it, or our lease lapsed
    fresh: set[str] = set()  # inserted by this call: ours, created at ``now`` to the microsecond
    for r in existing:
        expired = r.lease_until is None or r.lease_until < now
        if r.run_id == run.run_id or expired or r.run_id not in live:
            mine.append(r.key)
            if r.run_id != run.run_id or expired:
                taken.append(r.key)
            elif r.created_at == now:
                fresh.add(r.key)
    for i in range(0, len(taken), 900):  # rows this run just registered already carry its lease
        conn.execute(
            update(items)
            .where(items.c.bot == run.bot, items.c.key.in_(taken[i : i + 900]), items.c.status == "new")
            .values(run_id=run.run_id, lease_until=lease, updated_at=now)
        )
    owned = set(mine)
    if registered is not None:
        for k in owned:
            payload, source = stored[k]
            registered[k] = Registered(payload, source, k in fresh)
    return [unique[k] for k in keys if k in owned]
