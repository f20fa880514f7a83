"""``audit verify`` in full: the chain, its signed head and anchor, the digests kept outside the
database, the evidence files and every item's state, in one streaming pass over the log.

- the chain (:func:`backoffice.audit.chain.verify`): every entry's hash and link, the signed head,
  the anchor and its key;
- with ``digests``: the digest files' signatures and chain, every digested entry's hash, and that
  the log reaches the newest digest (:mod:`backoffice.audit.digests`);
- unless ``quick``: every evidence file the log or the evidence table names, re-hashed;
- every item's status, decision, maker and checker against its entries
  (:mod:`backoffice.audit.itemstate`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice.audit.anchor import audit_key, read_anchor
from backoffice.audit.chain import VerifyResult, chain_start, verify
from backoffice.audit.checkpoints import latest_checkpoint
from backoffice.audit.digests import DigestChain, load_digests
from backoffice.audit.evidence import evidence_path
from backoffice.audit.itemstate import ItemReplay
from backoffice.errors import IntegrityError
from backoffice.schema import evidence
from backoffice.store import Store

__all__ = ["verify_store"]


class _Observer:
    def __init__(self, replay: ItemReplay, digests: DigestChain | None, collect_evidence: bool) -> None:
        self.replay = replay
        self.digests = digests
        self.evidence: dict[str, int] | None = {} if collect_evidence else None  # sha256 -> first seq

    def __call__(self, row: dict[str, Any]) -> None:
        if self.digests is not None:
            self.digests.observe(row)
        self.replay.observe(row)
        if self.evidence is not None and row["evidence"] != "[]":
            for sha in json.loads(row["evidence"]):
                self.evidence.setdefault(str(sha), int(row["seq"]))


def _rehash(store: Store, named: dict[str, int]) -> None:
    with store.engine.connect() as conn:
        for (sha,) in conn.execution_options(yield_per=5000).execute(select(evidence.c.sha256)):
            named.setdefault(str(sha), 0)
    for sha, seq in sorted(named.items(), key=lambda kv: kv[1]):
        where = f" (named by entry {seq})" if seq else ""
        path = evidence_path(store, sha)
        if not path.exists():
            raise IntegrityError(
                f"evidence file {sha} is missing{where}", first_bad_seq=seq or None, file=str(path)
            )
        with path.open("rb") as fh:
            actual = hashlib.file_digest(fh, "sha256").hexdigest()
        if actual != sha:
            raise IntegrityError(
                f"evidence file {sha} was altered: its content no longer hashes to its name{where}",
                first_bad_seq=seq or None,
                file=str(path),
            )


def verify_store(store: Store, *, digests: Path | None = None, quick: bool = False) -> VerifyResult:
    """Everything ``audit verify`` checks; the first problem found is the result's reason."""
    key = audit_key(store)
    chain: DigestChain | None = None
    try:
        if digests is not None:
            chain = load_digests(digests, key)
            with store.read() as conn:
                anchor = read_anchor(conn)
            if anchor is not None and anchor.store_id != chain.store_id:
                return VerifyResult(
                    False,
                    0,
                    1,
                    f"the log's anchor names store {anchor.store_id} but the digests under {digests} are of "
                    f"store {chain.store_id}: the log was wiped and begun again (or the digests are another store's)",
                )
        purged = latest_checkpoint(store) is not None
        start_seq, start_prev = chain_start(store)
    except IntegrityError as exc:
        return VerifyResult(False, 0, exc.first_bad_seq, str(exc))
    observer = _Observer(ItemReplay(purged=purged), chain, collect_evidence=not quick)
    result = verify(store, start_seq=start_seq, start_prev=start_prev, observe=observer)
    try:
        if chain is not None:
            chain.check_head(result.head_seq if result.ok else (result.first_bad_seq or 1) - 1, start_seq)
        if not result.ok:
            return result
        observer.replay.check(store)
        if observer.evidence is not None:
            _rehash(store, observer.evidence)
    except IntegrityError as exc:
        return VerifyResult(False, result.checked, exc.first_bad_seq, str(exc), start_seq=start_seq)
    return result
