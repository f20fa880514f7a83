"""PostgreSQL: one audit entry appended in ONE statement, the head locked only from there to commit.

The usual append (:func:`backoffice.audit.chain.append_many`) reads and locks the head, computes
the entry's hash in Python, then inserts the entry and moves the head: every writer waits for the
head row's lock during two statements and the commit. Here the server does it in one statement::

    WITH h AS (SELECT seq + 1, hash FROM audit_head WHERE id = 1
               AND signature = SIGN(seq, hash)             -- the head is intact
               AND EXISTS (anchor exactly as checked)      -- the anchor this process checked
               FOR UPDATE),                                -- waits for the writer before, then
                                                           -- sees its head (read committed)
         e AS (SELECT seq, prev, HASH(prev, seq) FROM h),  -- the entry's hash, sha256 / HMAC
         ins AS (INSERT INTO audit SELECT ... FROM e RETURNING seq, hash)
    UPDATE audit_head SET seq, hash, signature = SIGN(new seq, new hash) FROM ins RETURNING seq

The hashed bytes are exactly :func:`~backoffice.audit.chain.entry_hash`'s: Python renders the
canonical JSON of the entry's fields around the two it cannot know before the lock (``prev_hash``
and ``seq``), the server puts those in. When the statement appends nothing (no head yet, a head
whose signature does not match, an anchor this process did not check, or changed), the caller
takes the usual way, which creates the head or raises what it raises.

Only for a store WITHOUT ``BACKOFFICE_AUDIT_KEY``. A keyed chain's hash is an HMAC: computed by
the server, the key (or its HMAC pads, which are as good as the key) would have to be sent to the
database, and the key is what protects the chain against those who can write to the database
and read its statement logs. A keyed store takes the usual way: the key stays in the process.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, String, bindparam, text

from backoffice.audit.anchor import Anchor
from backoffice.audit.fields import HASHED_FIELDS
from backoffice.jsonutil import canonical

__all__ = ["append_one", "entry_parts"]

# the hashed fields but data and evidence (hashed after them, as stored), in the order
# canonical() writes their keys
_SORTED = tuple(sorted(name for name in HASHED_FIELDS if name not in ("data", "evidence")))


def entry_parts(row: dict[str, Any]) -> tuple[str, str, str]:
    """The hashed message of :func:`~backoffice.audit.chain.entry_hash` less ``prev_hash`` and
    ``seq``: it is ``prev + pre + prev + mid + str(seq) + post``. ``row`` holds the other fields,
    ``data`` and ``evidence`` as stored."""
    pieces: list[str] = []
    buf = "\n{"
    for i, name in enumerate(_SORTED):
        sep = "," if i else ""
        if name == "prev_hash":
            pieces.append(buf + sep + '"prev_hash":"')
            buf = '"'
        elif name == "seq":
            pieces.append(buf + sep + '"seq":')
            buf = ""
        else:
            buf += sep + canonical({name: row[name]})[1:-1]
    pieces.append(buf + "}\n" + row["data"] + "\n" + row["evidence"])
    return pieces[0], pieces[1], pieces[2]


def _digest(message: str) -> str:
    """SQL for the hex SHA-256 of a text (PostgreSQL 11's built-in ``sha256``)."""
    return f"encode(sha256(convert_to({message}, 'UTF8')), 'hex')"


def _signature(seq: str, hash_: str) -> str:
    """SQL for :func:`~backoffice.audit.anchor.head_signature` of a head (canonical JSON of
    ``{"head": {"seq": ..., "hash": ...}}``)."""
    return _digest(f"""'{{"head":{{"hash":"' || {hash_} || '","seq":' || ({seq})::text || '}}}}'""")


# the columns the statement binds: all hashed fields but those the server fills in
_COLUMNS = tuple(name for name in HASHED_FIELDS if name not in ("seq", "prev_hash"))


@functools.cache
def _statement() -> Any:
    message = "e0.prev || :c_pre || e0.prev || :c_mid || (e0.seq)::text || :c_post"
    sql = f"""
WITH h AS (
    SELECT audit_head.seq + 1 AS seq, audit_head.hash AS prev FROM audit_head
    WHERE audit_head.id = 1
      AND audit_head.signature = {_signature("audit_head.seq", "audit_head.hash")}
      AND EXISTS (
        SELECT 1 FROM audit_anchor WHERE audit_anchor.id = 1 AND audit_anchor.store_id = :n_store_id
          AND audit_anchor.created_at = :n_created_at AND audit_anchor.key_fp = :n_key_fp
          AND audit_anchor.first_seq = :n_first_seq AND audit_anchor.alg = :n_alg
          AND audit_anchor.signature = :n_signature)
    FOR UPDATE OF audit_head
),
e AS (SELECT e0.seq, e0.prev, {_digest(message)} AS hash FROM h AS e0),
ins AS (
    INSERT INTO audit (seq, {", ".join(_COLUMNS)}, prev_hash, hash)
    SELECT e.seq, {", ".join(f":a_{c}" for c in _COLUMNS)}, e.prev, e.hash FROM e
    RETURNING audit.seq, audit.hash
)
UPDATE audit_head SET seq = ins.seq, hash = ins.hash,
    signature = {_signature("ins.seq", "ins.hash")}
FROM ins WHERE audit_head.id = 1
RETURNING audit_head.seq
"""
    binds: list[Any] = [bindparam(f"a_{c}", type_=String()) for c in _COLUMNS]
    binds += [bindparam(n, type_=String()) for n in ("c_pre", "c_mid", "c_post")]
    return text(sql).bindparams(*binds)


def append_one(conn: Connection, row: dict[str, Any], anchor: Anchor) -> int | None:
    """Append the entry ``row`` (its fields but ``seq``, ``prev_hash`` and ``hash``; ``data`` and
    ``evidence`` as stored) after the head of an UNKEYED chain, if the head is intact and the
    anchor is ``anchor`` (one this process checked); its seq, or None when nothing was appended."""
    pre, mid, post = entry_parts(row)
    params: dict[str, Any] = {f"a_{c}": row[c] for c in _COLUMNS}
    params.update(
        c_pre=pre,
        c_mid=mid,
        c_post=post,
        n_store_id=anchor.store_id,
        n_created_at=anchor.created_at,
        n_key_fp=anchor.key_fp,
        n_first_seq=anchor.first_seq,
        n_alg=anchor.alg,
        n_signature=anchor.signature,
    )
    seq = conn.execute(_statement(), params).scalar()
    return None if seq is None else int(seq)
