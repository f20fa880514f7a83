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

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, insert, select, update

from backoffice.audit.anchor import (
    GENESIS,
    audit_key,
    check_anchor,
    head_signature,
    read_anchor,
    read_head,
    records_before,
    store_has_records,
    verified_anchor,
    writable_head,
)
from backoffice.audit.checkpoints import latest_checkpoint
from backoffice.audit.digests import write_digest
from backoffice.audit.fields import HASHED_FIELDS, ROW_FIELDS
from backoffice.audit.pg_append import append_one
from backoffice.authn import with_auth
from backoffice.errors import ConfigError, IntegrityError
from backoffice.jsonutil import canonical as _canonical
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


_key = audit_key


_SCALARS = tuple(name for name in HASHED_FIELDS if name not in ("data", "evidence"))
# each scalar's JSON key as canonical() writes it, in canonical()'s (sorted) order
_SCALAR_KEYS = tuple((name, f"{encode_basestring(name)}:") for name in sorted(_SCALARS))


def _head_json(row: dict[str, Any]) -> str:
    """``canonical({name: row[name] for name in _SCALARS})``, the same text, written directly for
    the values an entry has (text, None, a whole number: half the time of the encoder's generic
    walk, which ran for every append and every verified row); any other value takes canonical()."""
    out = []
    for name, key in _SCALAR_KEYS:
        value = row[name]
        kind = type(value)
        if kind is str:
            out.append(key + encode_basestring(value))  # what the encoder does with ensure_ascii=False
        elif value is None:
            out.append(key + "null")
        elif kind is int:
            out.append(key + int.__repr__(value))
        else:
            return _canonical({name: row[name] for name in _SCALARS})
    return "{" + ",".join(out) + "}"


def entry_hash(row: dict[str, Any], key: bytes | None) -> str:
    """The hash of a stored row: over ``prev_hash``, the canonical JSON of the scalar fields, and
    the ``data`` and ``evidence`` columns exactly as stored (already canonical JSON text)."""
    message = "\n".join((row["prev_hash"], _head_json(row), row["data"], row["evidence"])).encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def append_many(conn: Connection, store: Store, new: Iterable[AuditEntry]) -> list[int]:
    """Append entries inside the caller's transaction; returns their sequence numbers."""
    pending = list(new)
    if not pending:
        return []
    key = _key(store)
    now = utcnow().isoformat(timespec="microseconds")
    fields = [_fields(entry, now) for entry in pending]
    if key is None and len(fields) == 1 and conn.dialect.name == "postgresql":
        anchor = verified_anchor(store, key)
        if anchor is not None:
            # the head read, locked, hashed after and moved in one statement (pg_append; never
            # with a key: the server would need it)
            seq = append_one(conn, fields[0], anchor)
            if seq is not None:
                return [seq]
    seq, prev = writable_head(conn, store)
    rows: list[dict[str, Any]] = []
    for row in fields:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev
        row["hash"] = prev = entry_hash(row, key)
        rows.append(row)
    head = {"p_seq": seq, "p_hash": prev, "p_signature": head_signature(key, seq, prev)}
    if len(rows) == 1 and conn.dialect.name == "postgresql":
        # one round trip fewer while the head is locked (every writer waits for that lock)
        conn.execute(_pg_append_one(), {**{f"a_{k}": v for k, v in rows[0].items()}, **head})
    elif len(rows) == 1:
        conn.execute(_INSERT, rows[0])
        conn.execute(_HEAD_UPDATE, head)
    else:
        # many entries (a batch's outcomes): one executemany of the driver's own statement; the
        # columns are plain text and integers, so SQLAlchemy's per-row parameter processing (a
        # dict per row, through each column's bind processor) changes nothing but costs time
        sql, order = _driver_insert(conn.dialect)
        conn.exec_driver_sql(sql, [tuple(r[n] for n in order) for r in rows] if order else rows)
        conn.execute(_HEAD_UPDATE, head)
    return [r["seq"] for r in rows]


def _fields(entry: AuditEntry, now: str) -> dict[str, Any]:
    """An entry's stored fields but its place in the chain (``seq``, ``prev_hash``, ``hash``)."""
    return {
        "at": entry.at.isoformat(timespec="microseconds") if entry.at else now,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "subject": entry.subject,
        "bot": entry.bot,
        "data": _canonical(with_auth(entry.data)),
        "ruleset_version": entry.ruleset_version,
        "evidence": _canonical(list(entry.evidence)) if entry.evidence else "[]",
        "outcome": entry.outcome,
    }


# built once: an append is two statements after the head's read, and building them costs more
# than running them
_INSERT = insert(audit)
_HEAD_UPDATE = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(
        seq=bindparam("p_seq", type_=audit_head.c.seq.type),
        hash=bindparam("p_hash", type_=audit_head.c.hash.type),
        signature=bindparam("p_signature", type_=audit_head.c.signature.type),
    )
)


_DRIVER_INSERTS: dict[tuple[str, str, str], tuple[str, tuple[str, ...] | None]] = {}


def _driver_insert(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """``_INSERT`` compiled for ``dialect``: its SQL text, and the order of its parameters when the
    driver takes them by position (None: by name, the rows' dicts as they are)."""
    which = (dialect.name, dialect.driver, dialect.paramstyle)
    found = _DRIVER_INSERTS.get(which)
    if found is None:
        compiled = _INSERT.compile(dialect=dialect, column_keys=[c.name for c in audit.c])
        if any(c.type.bind_processor(dialect) is not None for c in audit.c):  # pragma: no cover
            raise ConfigError(f"audit columns need bind processing on {dialect.name}")
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        found = _DRIVER_INSERTS[which] = (compiled.string, order)
    return found


@functools.cache
def _pg_append_one() -> Any:
    """PostgreSQL: one entry inserted and the head moved in one statement (a data-modifying CTE)."""
    appended = (
        insert(audit)
        .values({c.name: bindparam(f"a_{c.name}", type_=c.type) for c in audit.c})
        .cte("appended")
    )
    return _HEAD_UPDATE.add_cte(appended)


def append(conn: Connection, store: Store, entry: AuditEntry) -> int:
    """Append one entry inside the caller's transaction (with the change it records)."""
    return append_many(conn, store, [entry])[0]


def record(store: Store, entry: AuditEntry) -> int:
    """Append one entry in a transaction of its own: for events that change nothing else
    (a read of the log, an unmask, a denial, a login)."""
    with store.write() as conn:
        seq = append(conn, store, entry)
    write_digest(store)  # the period's digest file, when one is due
    return seq


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
    observe: Callable[[dict[str, Any]], None] | None = None,
) -> VerifyResult:
    """Check a run of stored rows in order. Used for the live log and for exported packs.

    ``observe`` sees each row once its hash checked (the other checks of ``audit verify`` ride
    on this one streaming pass); an IntegrityError it raises ends the walk at that row."""
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
        if observe is not None:
            try:
                observe(row)
            except IntegrityError as exc:
                return VerifyResult(False, checked, exc.first_bad_seq or seq, str(exc))
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


def _head_problem(store: Store, conn: Connection, start_seq: int, start_prev: str) -> VerifyResult | None:
    """The anchor and the signed head checked; ``None`` when they are sound."""
    key = _key(store)
    anchor = read_anchor(conn)
    head = read_head(conn)
    if anchor is not None:
        try:
            check_anchor(anchor, key)
        except ConfigError as exc:
            return VerifyResult(False, 0, anchor.first_seq + 1, str(exc).replace("to write to", "to verify"))
        except IntegrityError as exc:
            return VerifyResult(False, 0, exc.first_bad_seq, str(exc))
    if head is None:
        if anchor is not None:
            return VerifyResult(
                False,
                0,
                start_seq,
                "the chain's head was deleted while its anchor remains: the log was wiped",
            )
        records = store_has_records(conn)
        if records is not None:
            return VerifyResult(
                False,
                0,
                start_seq,
                f"the audit log is empty but the store holds {records}: the log was wiped",
            )
        return None
    seq, hash_, signature = head
    if anchor is None:
        return None  # a log from before signed heads: its next write signs it
    if signature is None or not hmac.compare_digest(head_signature(key, seq, hash_), signature):
        return VerifyResult(
            False,
            0,
            seq + 1,
            f"the chain's head (entry {seq}) was altered: its signature does not match "
            "(entries cut off the end and the head rewound?)",
        )
    if anchor.first_seq == 0 and start_seq == 1:
        older = records_before(conn, anchor.created_at)
        if older is not None:
            return VerifyResult(
                False,
                0,
                1,
                f"the audit log began at {anchor.created_at} but the store holds {older}: "
                "the log was wiped and begun again",
            )
    return None


def verify(
    store: Store,
    *,
    start_seq: int | None = None,
    start_prev: str = GENESIS,
    observe: Callable[[dict[str, Any]], None] | None = None,
) -> VerifyResult:
    """Verify the whole chain (or from a checkpoint) against the signed head and the anchor.

    Without ``start_seq`` it starts after the latest signed retention checkpoint, if any
    (``backoffice.retention``: purged entries leave a checkpoint of the last one removed).
    ``observe`` sees every row whose hash checked (see :func:`verify_rows`).
    """
    if start_seq is None:
        try:
            start_seq, start_prev = chain_start(store)
        except IntegrityError as exc:
            return VerifyResult(False, 0, exc.first_bad_seq, str(exc))
    with store.read() as conn:
        problem = _head_problem(store, conn, start_seq, start_prev)
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if problem is not None:
        return problem
    expect = (int(head.seq), str(head.hash)) if head is not None else (start_seq - 1, start_prev)
    return verify_rows(
        _stored_rows(store, start_seq),
        _key(store),
        start_seq=start_seq,
        start_prev=start_prev,
        expect_head=expect,
        observe=observe,
    )
