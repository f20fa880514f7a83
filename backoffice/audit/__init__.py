"""The audit: an append-only, hash-chained log, content-addressed evidence files, and what is
built on them.

- :mod:`~backoffice.audit.chain`: entries, their hashes, appending, verifying the chain;
- :mod:`~backoffice.audit.checkpoints`: signed checkpoints where the chain starts after a purge;
- :mod:`~backoffice.audit.evidence`: evidence files stored and checked by their sha256;
- :mod:`~backoffice.audit.queries`: listing entries;
- :mod:`~backoffice.audit.story`: everything about one item, in order;
- :mod:`~backoffice.audit.pack`: evidence packs (format, control totals, export, offline verify).

This package re-exports the log and the evidence files; the story and the packs are imported
from their modules (they build on users and masking, which write to the log themselves).
"""

from __future__ import annotations

from backoffice.audit.chain import (
    GENESIS,
    HASHED_FIELDS,
    AuditEntry,
    VerifyResult,
    append,
    append_many,
    entry_hash,
    record,
    verify,
    verify_rows,
)
from backoffice.audit.evidence import check_evidence, evidence_path, put_evidence
from backoffice.audit.queries import entries

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "AuditEntry",
    "VerifyResult",
    "append",
    "append_many",
    "check_evidence",
    "entries",
    "entry_hash",
    "evidence_path",
    "put_evidence",
    "record",
    "verify",
    "verify_rows",
]
