"""Signed digest files of the audit log, written outside the database (as AWS CloudTrail's).

At most one digest per period (``BACKOFFICE_AUDIT_DIGEST_MINUTES``) is written under
``BACKOFFICE_AUDIT_DIGEST_DIR`` as ``YYYY/MM/DD/digest-<UTC time>-<end seq>.json``: the store's id,
the range of entries since the previous digest, the hash of the last one, the sha256 and name of
the previous digest file and the key's fingerprint, signed with HMAC-SHA256 under the audit key
(SHA-256 without one). ``backoffice audit digest`` writes one when due (schedule it every period);
reads, logins and verifies write one on the way when it is due.

``backoffice audit verify --digests DIR`` checks the digests' signatures and their chain, then that
the log still holds every entry a digest names, with the same hash: a log cut at its end, or wiped
with its head and anchor, no longer matches the digests kept where its writer cannot reach.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from backoffice.audit.anchor import audit_key, fingerprint, read_anchor, read_head, sign
from backoffice.audit.checkpoints import latest_checkpoint
from backoffice.errors import ConfigError, IntegrityError
from backoffice.store import Store, utcnow

__all__ = ["FORMAT", "DigestChain", "check_digest_files", "digest_files", "load_digests", "write_digest"]

FORMAT = "backoffice-audit-digest/1"


def digest_files(root: Path) -> Iterator[Path]:
    """The digest files under ``root``, oldest first (their names sort by time)."""
    if root.is_dir():
        yield from sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/digest-*.json"))


def _latest(root: Path) -> Path | None:
    """The newest digest, looking only into the newest day that has one (no full scan)."""
    if not root.is_dir():
        return None
    for year in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        for month in sorted((p for p in year.iterdir() if p.is_dir()), reverse=True):
            for day in sorted((p for p in month.iterdir() if p.is_dir()), reverse=True):
                files = sorted(day.glob("digest-*.json"))
                if files:
                    return files[-1]
    return None


def _read(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise IntegrityError(f"audit digest {path.name} is not valid: {exc}", file=str(path)) from None
    return doc, raw


def write_digest(store: Store, *, force: bool = False) -> Path | None:
    """Write the digest of the entries since the previous one, if a period has passed (or ``force``).

    Returns the file written, or ``None`` when none was due or the log is empty.
    """
    root = store.settings.digest_dir
    now = utcnow()
    prev_path = _latest(root)
    prev: dict[str, Any] | None = None
    if prev_path is not None:
        prev, prev_raw = _read(prev_path)
        period = timedelta(minutes=store.settings.audit_digest_minutes)
        if not force and now - datetime.fromisoformat(str(prev.get("at"))) < period:
            return None
    with store.read() as conn:
        head = read_head(conn)
        anchor = read_anchor(conn)
    if head is None or anchor is None:
        return None
    seq, hash_, _ = head
    if prev is not None:
        start = int(prev["end_seq"]) + 1
    else:
        cp = latest_checkpoint(store)
        start = int(cp["seq"]) + 1 if cp is not None else 1
    key = audit_key(store)
    body: dict[str, Any] = {
        "format": FORMAT,
        "store_id": anchor.store_id,
        "at": now.isoformat(timespec="microseconds"),
        "start_seq": start,
        "end_seq": seq,
        "last_hash": hash_,
        "previous_file": prev_path.relative_to(root).as_posix() if prev_path is not None else None,
        "previous_sha256": hashlib.sha256(prev_raw).hexdigest() if prev is not None else None,
        "key_fp": fingerprint(key),
    }
    alg, sig = sign(key, body)
    doc = {**body, "alg": alg, "signature": sig}
    folder = root / now.strftime("%Y/%m/%d")
    path = folder / f"digest-{now.strftime('%Y%m%dT%H%M%S%fZ')}-{seq}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the audit digest under {root}: {exc}; "
            "set BACKOFFICE_AUDIT_DIGEST_DIR to a directory this process may write"
        ) from None
    return path


@dataclass
class DigestChain:
    """The digests found under a directory, signatures and links checked (:func:`load_digests`)."""

    files: int = 0
    store_id: str | None = None
    end_hashes: dict[int, tuple[str, str]] = field(default_factory=dict)  # end seq -> (hash, file)
    last_seq: int = 0
    last_file: str | None = None

    def observe(self, row: dict[str, Any]) -> None:
        """Check one log row against the digests (a ``verify_rows`` observer)."""
        got = self.end_hashes.get(int(row["seq"]))
        if got is not None and got[0] != row["hash"]:
            raise IntegrityError(
                f"entry {row['seq']} differs from the one recorded in audit digest {got[1]}",
                first_bad_seq=int(row["seq"]),
            )

    def check_head(self, head_seq: int, start_seq: int) -> None:
        """The log must reach the newest digest's last entry (else it was cut or wiped)."""
        if self.last_seq > head_seq:
            what = "wiped" if head_seq < start_seq else "truncated"
            raise IntegrityError(
                f"the log ends at entry {head_seq} but audit digest {self.last_file} records entries up "
                f"to {self.last_seq}: the log was {what}",
                first_bad_seq=head_seq + 1,
            )


def check_digest_files(named: Iterable[tuple[str, bytes]], key: bytes | None) -> DigestChain:
    """Check digests given as ``(name relative to the digest root, content)``, oldest first: each
    signature, the key fingerprint, one store, and the chain of previous hashes. Raises
    IntegrityError naming the first digest that was altered, forged or left out."""
    chain = DigestChain()
    prev_name: str | None = None
    prev_sha: str | None = None
    for name, raw in named:
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise IntegrityError(f"audit digest {name} is not valid: {exc}", file=name) from None
        alg, signature = doc.pop("alg", None), doc.pop("signature", None)
        want_alg, want = sign(key, doc)
        if doc.get("format") != FORMAT:
            raise IntegrityError(f"audit digest {name} has an unknown format", file=name)
        if doc.get("key_fp") != fingerprint(key):
            raise IntegrityError(
                f"audit digest {name} was signed with another audit key (fingerprint {doc.get('key_fp')})",
                file=name,
            )
        if alg != want_alg or not isinstance(signature, str) or not hmac.compare_digest(want, signature):
            raise IntegrityError(f"audit digest {name} was altered: its signature does not match", file=name)
        if chain.store_id is not None and doc["store_id"] != chain.store_id:
            raise IntegrityError(f"audit digest {name} is of another store", file=name)
        if doc.get("previous_file") != prev_name or doc.get("previous_sha256") != prev_sha:
            raise IntegrityError(
                f"audit digest {name} does not link to {prev_name or 'nothing'}: it follows "
                f"{doc.get('previous_file')} (a digest was removed or altered)",
                file=name,
            )
        end = int(doc["end_seq"])
        if end < chain.last_seq:
            raise IntegrityError(
                f"audit digest {name} records fewer entries ({end}) than the one before it "
                f"({chain.last_seq}): the log was cut between them",
                first_bad_seq=end + 1,
                file=name,
            )
        chain.store_id = str(doc["store_id"])
        chain.end_hashes[end] = (str(doc["last_hash"]), name)
        chain.files += 1
        chain.last_seq, chain.last_file = end, name
        prev_name, prev_sha = name, hashlib.sha256(raw).hexdigest()
    return chain


def load_digests(root: Path, key: bytes | None) -> DigestChain:
    """Read every digest under ``root`` and check them (:func:`check_digest_files`)."""
    if not root.is_dir():
        raise IntegrityError(f"no audit digest directory at {root}", file=str(root))
    chain = check_digest_files(
        ((p.relative_to(root).as_posix(), p.read_bytes()) for p in digest_files(root)), key
    )
    if chain.files == 0:
        raise IntegrityError(f"no audit digests under {root}", file=str(root))
    return chain
