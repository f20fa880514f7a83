"""The login throttle: growing delays per user, per client and per (user, client), not a lock.

Every attempt first takes a slot in one write transaction (the store's write lock, and the
throttle rows locked ``FOR UPDATE`` on PostgreSQL), *before* the password is checked: the
attempt counts as a failure until it succeeds, so concurrent guesses cannot all be evaluated.
Each key allows a few free failures, then every further one must wait twice as long as the
last (capped). The key of one client and one user name grows fastest; the user name alone
grows slowly and is capped at a short delay, so that nobody can keep a user out by guessing
from elsewhere; a client alone is slowed when it sprays many user names. A success resets the
keys of that user and that pair.

The audit stays bounded: a failure (``login.failed``) and a refusal (``login.locked``) are
recorded while their count is small and then only at powers of two, with the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from backoffice.audit import AuditEntry, append
from backoffice.schema import login_throttle
from backoffice.store import Store, utcnow

__all__ = ["POLICIES", "Attempt", "Policy", "begin", "notable", "succeeded"]


@dataclass(frozen=True)
class Policy:
    free: int  # failures without delay
    base_seconds: float  # the first delay; doubles with each further failure
    cap_seconds: float

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2 ** (failures - self.free)))


POLICIES: dict[str, Policy] = {
    "pair": Policy(free=5, base_seconds=2, cap_seconds=15 * 60),
    "client": Policy(free=30, base_seconds=1, cap_seconds=15 * 60),
    "user": Policy(free=20, base_seconds=1, cap_seconds=60),
}


def notable(count: int) -> bool:
    """Whether the count-th failure or refusal of a key is audited (bounded: log of the count)."""
    return count <= 5 or count & (count - 1) == 0


@dataclass
class Attempt:
    allowed: bool
    retry_after: int = 0  # seconds, when refused
    failures: dict[str, int] | None = None  # per key kind, this attempt counted
    audit_failure: bool = False


def _keys(name: str, client: str) -> dict[str, str]:
    name, client = name[:120], client[:200]
    return {"pair": f"pair:{name}@{client}", "client": f"client:{client}", "user": f"user:{name}"}


def _row(conn: Connection, key: str) -> tuple[int, int, datetime | None]:
    q = select(login_throttle).where(login_throttle.c.key == key)
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(
            pg_insert(login_throttle).values(key=key, failures=0, refusals=0).on_conflict_do_nothing()
        )
        row = conn.execute(q.with_for_update()).first()
    else:
        row = conn.execute(q).first()
        if row is None:
            conn.execute(insert(login_throttle).values(key=key, failures=0, refusals=0))
            row = conn.execute(q).first()
    assert row is not None
    return int(row.failures), int(row.refusals), row.next_allowed_at


def begin(store: Store, name: str, client: str) -> Attempt:
    """Take a slot for one login attempt (counted as a failure until :func:`succeeded`).

    Refused (and audited within bounds) while any of the three keys must still wait."""
    keys = _keys(name, client)
    with store.write() as conn:
        state = {kind: _row(conn, key) for kind, key in keys.items()}
        now = utcnow()  # after the rows are locked: an earlier clock would see a later slot as waiting
        waits = [(nxt - now) for _, _, nxt in state.values() if nxt is not None and nxt > now]
        if waits:
            wait = max(waits)
            refusals = state["pair"][1] + 1
            conn.execute(
                update(login_throttle).where(login_throttle.c.key == keys["pair"]).values(refusals=refusals)
            )
            if notable(refusals):
                append(
                    conn,
                    store,
                    AuditEntry(
                        actor=name[:120] or "?",
                        action="login.locked",
                        data={"source": "inbox", "client": client[:200], "refusals": refusals},
                        outcome="denied",
                    ),
                )
            return Attempt(allowed=False, retry_after=max(1, int(wait.total_seconds() + 0.999)))
        counted: dict[str, int] = {}
        for kind, key in keys.items():
            failures = state[kind][0] + 1
            counted[kind] = failures
            delay = POLICIES[kind].delay(failures)
            conn.execute(
                update(login_throttle)
                .where(login_throttle.c.key == key)
                .values(
                    failures=failures, last_failure_at=now, next_allowed_at=now + delay if delay else None
                )
            )
    return Attempt(
        allowed=True,
        failures=counted,
        audit_failure=notable(counted["user"]) and notable(counted["client"]),
    )


def succeeded(store: Store, name: str, client: str, *, conn: Connection | None = None) -> None:
    """The attempt was right: the user's and the pair's counts start again (the client's stays).

    Inside the caller's write transaction ``conn`` when given (the login's, with its audit entry
    and its new session), else in one of its own."""
    if conn is None:
        with store.write() as own:
            _reset(own, name, client)
    else:
        _reset(conn, name, client)


def _reset(conn: Connection, name: str, client: str) -> None:
    keys = _keys(name, client)
    conn.execute(delete(login_throttle).where(login_throttle.c.key.in_([keys["pair"], keys["user"]])))
    row = conn.execute(
        select(login_throttle.c.failures).where(login_throttle.c.key == keys["client"])
    ).first()
    if row is not None and row.failures > 0:  # this attempt was counted against the client too
        conn.execute(
            update(login_throttle)
            .where(login_throttle.c.key == keys["client"])
            .values(failures=row.failures - 1, next_allowed_at=None)
        )
