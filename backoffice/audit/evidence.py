"""Content-addressed evidence files: stored once under their sha256, checked by re-hashing."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backoffice.errors import IntegrityError, NotFound
from backoffice.items import EvidenceRef
from backoffice.schema import evidence
from backoffice.store import Store, utcnow

__all__ = ["check_evidence", "evidence_path", "put_evidence"]


def evidence_path(store: Store, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound(f"not an evidence hash: {sha256!r}")
    return store.evidence_dir / sha256[:2] / sha256


def put_evidence(
    store: Store, data: bytes | Path, name: str, media_type: str = "application/octet-stream"
) -> EvidenceRef:
    """Store a file by its sha256 (idempotent) and return a reference to it."""
    content = data.read_bytes() if isinstance(data, Path) else data
    digest = hashlib.sha256(content).hexdigest()
    path = evidence_path(store, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    row = {"sha256": digest, "name": name[:300], "media_type": media_type, "size": len(content)}
    with store.write() as conn:
        if conn.dialect.name == "postgresql":  # the same file stored by two processes at once: one row
            conn.execute(pg_insert(evidence).values(**row, created_at=utcnow()).on_conflict_do_nothing())
        elif conn.execute(select(evidence.c.sha256).where(evidence.c.sha256 == digest)).first() is None:
            conn.execute(insert(evidence).values(**row, created_at=utcnow()))
    return EvidenceRef(sha256=digest, name=name, media_type=media_type, size=len(content))


def check_evidence(store: Store, sha256: str) -> None:
    """Raise IntegrityError if an evidence file is missing or altered."""
    path = evidence_path(store, sha256)
    if not path.exists():
        raise IntegrityError(f"evidence file {sha256} is missing", file=str(path))
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise IntegrityError(f"evidence file {sha256} was altered", file=str(path))
