"""The append-only, hash-chained audit log: entries, their hashes, appending, verifying.

Each entry's hash is ``sha256(prev_hash + canonical JSON of the entry)`` (see :func:`entry_hash`
for the exact bytes), or an HMAC-SHA256
with ``BACKOFFICE_AUDIT_KEY`` when set. The chain head lives in a one-row table that every
writer locks, so concurrent writers never fork the chain and never leave gaps.

:func:`verify` walks the chain and names the first bad sequence number for any edited,
deleted, inserted or reordered entry. Verification starts after the latest retention
checkpoint (:mod:`backoffice.audit.checkpoints`), since purged entries leave the chain from the front.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backoffice.audit.checkpoints import latest_checkpoint
from backoffice.authn import with_auth
from backoffice.errors import IntegrityError
from backoffice.jsonutil import canonical
from backoffice.schema import audit, audit_head
from backoffice.store import Store, utcnow

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "ROW_FIELDS",
    "AuditEntry",
    "VerifyResult",
    "append",
    "append_many",
    "chain_start",
    "entry_hash",
    "record",
    "verify",
    "verify_rows",
]

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "bot",
    "data",
    "ruleset_version",
    "evidence",
    "outcome",
    "prev_hash",
)
ROW_FIELDS = (*HASHED_FIELDS, "hash")  # an audit row as stored (and exported)


@dataclass
class AuditEntry:
    """One thing that happened. ``data`` holds before/after values and details."""

    actor: str
    action: str
    subject: str | None = None
    role: str | None = None
    bot: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ruleset_version: str | None = None
    evidence: Sequence[str] = ()
    outcome: str | None = None
    at: datetime | None = None


def _key(store: Store) -> bytes | None:
    key = store.settings.audit_key
    return key.get_secret_value().encode() if key is not None else None


def entry_hash(row: dict[str, Any], key: bytes | None) -> str:
    """The hash of a stored row: over ``prev_hash``, the canonical JSON of the scalar fields, and
    the ``data`` and ``evidence`` columns exactly as stored (already canonical JSON text)."""
    head = {name: row[name] for name in HASHED_FIELDS if name not in ("data", "evidence")}
    message = "\n".join((row["prev_hash"], canonical(head), row["data"], row["evidence"])).encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).first()
    if row is None:
        if conn.dialect.name == "postgresql":  # first writers race: the loser waits, then locks the row
            conn.execute(pg_insert(audit_head).values(id=1, seq=0, hash=GENESIS).on_conflict_do_nothing())
            return _head(conn)
        conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
    return int(row.seq), str(row.hash)


def append_many(conn: Connection, store: Store, new: Iterable[AuditEntry]) -> list[int]:
    """Append entries inside the caller's transaction; returns their sequence numbers."""
    pending = list(new)
    if not pending:
        return []
    key = _key(store)
    seq, prev = _head(conn)
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for entry in pending:
        seq += 1
        row = {
            "seq": seq,
            "at": (entry.at or now).isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "subject": entry.subject,
            "bot": entry.bot,
            "data": canonical(with_auth(entry.data)),
            "ruleset_version": entry.ruleset_version,
            "evidence": canonical(list(entry.evidence)),
            "outcome": entry.outcome,
            "prev_hash": prev,
        }
        row["hash"] = prev = entry_hash(row, key)
        rows.append(row)
    conn.execute(insert(audit), rows)
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
    return [r["seq"] for r in rows]


def append(conn: Connection, store: Store, entry: AuditEntry) -> int:
    """Append one entry inside the caller's transaction (with the change it records)."""
    return append_many(conn, store, [entry])[0]


def record(store: Store, entry: AuditEntry) -> int:
    """Append one entry in a transaction of its own: for events that change nothing else
    (a read of the log, an unmask, a denial, a login)."""
    with store.write() as conn:
        return append(conn, store, entry)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS
    start_seq: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "start_seq": self.start_seq,
        }


def verify_rows(
    rows: Iterable[dict[str, Any]],
    key: bytes | None,
    *,
    start_seq: int = 1,
    start_prev: str = GENESIS,
    expect_head: tuple[int, str] | None = None,
) -> VerifyResult:
    """Check a run of stored rows in order. Used for the live log and for exported packs."""
    expected_seq, prev, checked = start_seq, start_prev, 0
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            what = "missing (deleted)" if seq > expected_seq else "out of order or duplicated"
            return VerifyResult(False, checked, expected_seq, f"entry {expected_seq} is {what}; found {seq}")
        if row["prev_hash"] != prev:
            return VerifyResult(
                False,
                checked,
                seq,
                f"entry {seq} does not link to entry {seq - 1} (inserted, deleted or reordered)",
            )
        if entry_hash(row, key) != row["hash"]:
            hint = (
                " (or BACKOFFICE_AUDIT_KEY differs from the one it was written with)"
                if seq == start_seq
                else ""
            )
            return VerifyResult(
                False, checked, seq, f"entry {seq} was altered: its hash does not match{hint}"
            )
        prev = row["hash"]
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if expect_head is not None and (last_seq, prev) != expect_head:
        head_seq, _ = expect_head
        bad = min(last_seq, head_seq) + 1 if head_seq != last_seq else last_seq
        return VerifyResult(
            False, checked, bad, f"the chain ends at entry {last_seq} but its head records entry {head_seq}"
        )
    return VerifyResult(True, checked, None, None, last_seq, prev, start_seq)


def _stored_rows(store: Store, start_seq: int) -> Iterator[dict[str, Any]]:
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(
            select(audit).where(audit.c.seq >= start_seq).order_by(audit.c.seq)
        )
        for r in result:
            yield dict(r._mapping)


def chain_start(store: Store) -> tuple[int, str]:
    """``(start_seq, start_prev)`` for verifying the retained chain: after the latest checkpoint."""
    cp = latest_checkpoint(store)
    if cp is None:
        return 1, GENESIS
    return int(cp["seq"]) + 1, str(cp["hash"])


def verify(store: Store, *, start_seq: int | None = None, start_prev: str = GENESIS) -> VerifyResult:
    """Verify the whole chain (or from a checkpoint) against the recorded head.

    Without ``start_seq`` it starts after the latest signed retention checkpoint, if any
    (``backoffice.retention``: purged entries leave a checkpoint of the last one removed).
    """
    if start_seq is None:
        try:
            start_seq, start_prev = chain_start(store)
        except IntegrityError as exc:
            return VerifyResult(False, 0, exc.first_bad_seq, str(exc))
    with store.read() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    expect = (int(head.seq), str(head.hash)) if head is not None else (start_seq - 1, start_prev)
    return verify_rows(
        _stored_rows(store, start_seq),
        _key(store),
        start_seq=start_seq,
        start_prev=start_prev,
        expect_head=expect,
    )
