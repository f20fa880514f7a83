"""The anchor of the audit chain and its signed head.

The chain's head (``audit_head``: the last entry's seq and hash) is signed with HMAC-SHA256
under ``BACKOFFICE_AUDIT_KEY`` (plain SHA-256 without a key), so a database writer without the
key cannot cut entries off the end and rewind the head. The anchor (``audit_anchor``, one row
written with the first entry) records the store's id, when its log began and the fingerprint
of the key the log is written with, also signed: a deleted head next to a surviving anchor, or
a store holding users, runs or items but no anchor, is a wiped log.

Every writer checks, before appending, that it holds the anchor's key (:func:`writable_head`):
a process without the key, or with another, is refused with a :class:`ConfigError` instead of
appending entries that no later verify could check.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backoffice.errors import ConfigError, IntegrityError
from backoffice.jsonutil import canonical
from backoffice.schema import audit_anchor, audit_head, items, runs, users
from backoffice.store import Store, utcnow

__all__ = [
    "GENESIS",
    "UNKEYED",
    "Anchor",
    "audit_key",
    "check_anchor",
    "fingerprint",
    "head_signature",
    "read_anchor",
    "read_head",
    "records_before",
    "sign",
    "store_has_records",
    "verified_anchor",
    "writable_head",
]

GENESIS = "0" * 64
UNKEYED = "none"  # the fingerprint recorded for a log written without a key
ANCHOR_SLACK = timedelta(minutes=5)  # records may be this much older than the log's first entry


def audit_key(store: Store) -> bytes | None:
    key = store.settings.audit_key
    return key.get_secret_value().encode() if key is not None else None


def fingerprint(key: bytes | None) -> str:
    """A key's fingerprint (an HMAC of a fixed text: it names the key without revealing it)."""
    if key is None:
        return UNKEYED
    return hmac.new(key, b"backoffice audit key fingerprint", hashlib.sha256).hexdigest()[:32]


def sign(key: bytes | None, body: dict[str, Any]) -> tuple[str, str]:
    """``(alg, signature)`` of a canonical JSON body: HMAC-SHA256 with the key, else SHA-256."""
    message = canonical(body).encode()
    if key is not None:
        return "hmac-sha256", hmac.new(key, message, hashlib.sha256).hexdigest()
    return "sha256", hashlib.sha256(message).hexdigest()


@functools.lru_cache(maxsize=64)
def head_signature(key: bytes | None, seq: int, hash_: str) -> str:
    """The head's signature (a pure function of its arguments, remembered for the last heads: an
    append signs the head it writes, and the next append in the same process checks that head
    when no other writer came in between)."""
    return sign(key, {"head": {"seq": seq, "hash": hash_}})[1]


@dataclass(frozen=True)
class Anchor:
    store_id: str
    created_at: str
    key_fp: str
    first_seq: int  # 0 for a log begun with its anchor; the head's seq when an older log adopted one
    alg: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {
            "anchor": {
                "store_id": self.store_id,
                "created_at": self.created_at,
                "key_fp": self.key_fp,
                "first_seq": self.first_seq,
            }
        }


def read_anchor(conn: Connection) -> Anchor | None:
    row = conn.execute(select(audit_anchor).where(audit_anchor.c.id == 1)).first()
    if row is None:
        return None
    return Anchor(
        str(row.store_id),
        str(row.created_at),
        str(row.key_fp),
        int(row.first_seq),
        str(row.alg),
        str(row.signature),
    )


def read_head(conn: Connection, *, lock: bool = False) -> tuple[int, str, str | None] | None:
    q = select(audit_head.c.seq, audit_head.c.hash, audit_head.c.signature).where(audit_head.c.id == 1)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        return None
    return int(row.seq), str(row.hash), row.signature


def _key_problem(anchor: Anchor, key: bytes | None) -> str | None:
    """Why this process may not write to (or verify) a log anchored with ``anchor``'s key."""
    fp = fingerprint(key)
    if anchor.key_fp == fp:
        return None
    if anchor.key_fp == UNKEYED:
        return (
            f"this store's audit log is written without a key, but BACKOFFICE_AUDIT_KEY is set "
            f"(fingerprint {fp}); unset it to write to this store"
        )
    if key is None:
        return (
            f"this store's audit log is keyed (key fingerprint {anchor.key_fp}) and BACKOFFICE_AUDIT_KEY "
            "is not set: set it to that key to write to this store"
        )
    return (
        f"BACKOFFICE_AUDIT_KEY (fingerprint {fp}) is not the key of this store's audit log "
        f"(fingerprint {anchor.key_fp}): set it to that key to write to this store"
    )


def check_anchor(anchor: Anchor, key: bytes | None) -> None:
    """Raise ConfigError if ``key`` is not the anchor's, IntegrityError if the anchor was altered."""
    problem = _key_problem(anchor, key)
    if problem is not None:
        raise ConfigError(problem)
    alg, sig = sign(key, anchor.body())
    if alg != anchor.alg or not hmac.compare_digest(sig, anchor.signature):
        raise IntegrityError(
            "the audit log's anchor was altered: its signature does not match", first_bad_seq=1
        )


def records_before(conn: Connection, at: str) -> str | None:
    """What the store holds that is older than ``at`` (ISO time) by more than a few minutes: a
    log whose anchor is younger than the records it should have recorded was wiped and restarted."""
    cutoff = datetime.fromisoformat(at) - ANCHOR_SLACK
    for name, column in (
        ("user", users.c.created_at),
        ("run", runs.c.started_at),
        ("item", items.c.created_at),
    ):
        first = conn.execute(select(func.min(column))).scalar_one()
        if first is not None and first < cutoff:
            return f"a {name} from {first.isoformat(timespec='seconds')}"
    return None


def store_has_records(conn: Connection) -> str | None:
    """What the store holds that an audit log must have recorded (``None`` when it is empty)."""
    for name, table in (("users", users), ("runs", runs), ("items", items)):
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
        if n:
            return f"{n} {name}"
    return None


def _new_anchor(conn: Connection, key: bytes | None, first_seq: int) -> None:
    now = utcnow().isoformat(timespec="microseconds")
    anchor = Anchor(str(uuid.uuid4()), now, fingerprint(key), first_seq, "", "")
    alg, sig = sign(key, anchor.body())
    row = {
        "id": 1,
        "store_id": anchor.store_id,
        "created_at": anchor.created_at,
        "key_fp": anchor.key_fp,
        "first_seq": first_seq,
        "alg": alg,
        "signature": sig,
    }
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(audit_anchor).values(**row).on_conflict_do_nothing())
    else:
        conn.execute(insert(audit_anchor).values(**row))


def _locked_head(conn: Connection) -> Any:
    """The head (locked on PostgreSQL) and the anchor, read in one statement; None without a head."""
    return conn.execute(_head_query()).first()


@functools.cache
def _head_query() -> Any:
    a = audit_anchor.c
    return (
        select(
            audit_head.c.seq,
            audit_head.c.hash,
            audit_head.c.signature,
            a.id.label("anchor_id"),
            a.store_id,
            a.created_at,
            a.key_fp,
            a.first_seq,
            a.alg,
            a.signature.label("anchor_signature"),
        )
        .select_from(audit_head.outerjoin(audit_anchor, a.id == 1))
        .where(audit_head.c.id == 1)
        .with_for_update(of=audit_head)
    )


@functools.lru_cache(maxsize=32)
def _anchor_checked(anchor: Anchor, key: bytes | None) -> bool:
    """:func:`check_anchor`, remembered for an anchor that passed (a pure function of its
    arguments: the anchor as read in this transaction and the key; a failure is never cached)."""
    check_anchor(anchor, key)
    return True


_VERIFIED: dict[str, tuple[Anchor, bytes | None]] = {}


def verified_anchor(store: Store, key: bytes | None) -> Anchor | None:
    """The anchor this process last found sound in ``store`` with ``key`` (a writer's check, as
    :func:`writable_head` makes it); None before any. A writer that relies on it must check that
    the stored anchor is still exactly this one (:mod:`backoffice.audit.pg_append` does)."""
    got = _VERIFIED.get(store.url)
    return got[0] if got is not None and got[1] == key else None


def writable_head(conn: Connection, store: Store) -> tuple[int, str]:
    """Lock the head and return ``(seq, hash)`` to append after, inside the writer's transaction.

    Refuses (ConfigError) a process whose key is not the anchor's, and (IntegrityError) to extend
    a head whose signature does not match or that is missing next to an anchor: appending would
    sign a truncated or wiped log as if it were intact. The head and the anchor are read in one
    statement (every append reads both).
    """
    key = audit_key(store)
    row = _locked_head(conn)
    if row is None:
        return _genesis(conn, store, key)
    seq, hash_, signature = int(row.seq), str(row.hash), row.signature
    if row.anchor_id is None:  # a log from before anchors: adopt this process's key from now on
        _new_anchor(conn, key, seq)
        return seq, hash_
    anchor = Anchor(
        str(row.store_id),
        str(row.created_at),
        str(row.key_fp),
        int(row.first_seq),
        str(row.alg),
        str(row.anchor_signature),
    )
    _anchor_checked(anchor, key)
    _VERIFIED[store.url] = (anchor, key)
    if signature is None or not hmac.compare_digest(head_signature(key, seq, hash_), signature):
        raise IntegrityError(
            f"the audit chain's head (entry {seq}) was altered: its signature does not match "
            "(entries cut off the end?); run backoffice audit verify",
            first_bad_seq=seq + 1,
        )
    return seq, hash_


def _genesis(conn: Connection, store: Store, key: bytes | None) -> tuple[int, str]:
    """The first write to a log: its head at genesis, and its anchor."""
    genesis = {"id": 1, "seq": 0, "hash": GENESIS, "signature": head_signature(key, 0, GENESIS)}
    if conn.dialect.name == "postgresql":
        # first writers race: the loser's insert does nothing (it waits for the winner), then it
        # locks the winner's head; only the writer that created the head may create the anchor
        stmt = pg_insert(audit_head).values(**genesis).on_conflict_do_nothing().returning(audit_head.c.id)
        if conn.execute(stmt).first() is None:
            return writable_head(conn, store)
    else:  # SQLite writers are serialized: nobody else is between the read and this insert
        conn.execute(insert(audit_head).values(**genesis))
    anchor = read_anchor(conn)
    if anchor is not None:
        raise IntegrityError(
            "the audit chain's head is missing but its anchor is not (the log was wiped?): "
            "run backoffice audit verify",
            first_bad_seq=1,
        )
    _new_anchor(conn, key, 0)
    return 0, GENESIS
