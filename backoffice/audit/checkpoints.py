"""Signed checkpoints: where the retained audit chain starts after a purge.

A purge (:func:`backoffice.retention.purge`) removes a prefix of the chain and first writes a
checkpoint ``(seq, hash, at, purged)`` of the last removed entry, signed with HMAC-SHA256 under
``BACKOFFICE_AUDIT_KEY`` (else plain SHA-256), and a ``retention.purged`` entry carrying it.
:func:`latest_checkpoint` checks the signature and that witness entry before verification trusts it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import Column, Integer, String, Table, select

from backoffice.errors import IntegrityError
from backoffice.jsonutil import canonical
from backoffice.schema import audit, metadata
from backoffice.store import Store

__all__ = ["audit_checkpoints", "checkpoints", "latest_checkpoint", "sign_checkpoint"]

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("purged", Integer, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("alg", String(20), nullable=False),
    Column("signature", String(64), nullable=False),
)


def sign_checkpoint(store: Store, seq: int, hash_: str, at: str, purged: int) -> tuple[str, str]:
    """``(alg, signature)`` of a checkpoint: HMAC-SHA256 with the audit key, else SHA-256."""
    message = canonical({"seq": seq, "hash": hash_, "at": at, "purged": purged}).encode()
    key = store.settings.audit_key
    if key is not None:
        return "hmac-sha256", hmac.new(key.get_secret_value().encode(), message, hashlib.sha256).hexdigest()
    return "sha256", hashlib.sha256(message).hexdigest()


def checkpoints(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        q = select(audit_checkpoints).order_by(audit_checkpoints.c.seq)
        return [dict(r._mapping) for r in conn.execute(q)]


def latest_checkpoint(store: Store) -> dict[str, Any] | None:
    """The newest checkpoint, its signature and its ``retention.purged`` entry checked.

    Raises IntegrityError naming the checkpoint if it was altered or forged.
    """
    with store.read() as conn:
        row = conn.execute(
            select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        ).first()
        if row is None:
            return None
        cp = dict(row._mapping)
        witness = conn.execute(
            select(audit.c.seq, audit.c.data).where(
                audit.c.action == "retention.purged", audit.c.subject == f"checkpoint:{cp['seq']}"
            )
        ).first()
    alg, sig = sign_checkpoint(store, cp["seq"], cp["hash"], cp["at"], cp["purged"])
    if alg != cp["alg"] or not hmac.compare_digest(sig, cp["signature"]):
        hint = " (or BACKOFFICE_AUDIT_KEY differs from the one it was signed with)" if alg != "sha256" else ""
        raise IntegrityError(
            f"checkpoint at entry {cp['seq']} was altered: its signature does not match{hint}",
            first_bad_seq=cp["seq"],
        )
    if witness is None:
        raise IntegrityError(
            f"checkpoint at entry {cp['seq']} has no retention.purged entry in the log (forged or log cut)",
            first_bad_seq=cp["seq"] + 1,
        )
    recorded = json.loads(witness.data).get("checkpoint", {})
    if recorded.get("hash") != cp["hash"] or recorded.get("signature") != cp["signature"]:
        raise IntegrityError(
            f"checkpoint at entry {cp['seq']} differs from the one recorded in entry {witness.seq}",
            first_bad_seq=int(witness.seq),
        )
    return cp
