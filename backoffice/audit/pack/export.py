"""Evidence packs: a zip an auditor can check offline, and the checker.

``export_pack`` writes, for the audit entries matching the filters (optionally a seeded random
sample of them):

- ``entries.jsonl``: one stored row per line (``data`` and ``evidence`` are the JSON text exactly
  as hashed), plus ``masked`` (true when PII masking changed ``data``);
- ``entries.csv``: the same rows for spreadsheets; a cell starting with ``= + - @``, tab or CR
  is prefixed with ``'`` so no spreadsheet runs it as a formula;
- ``chain.jsonl``: ``{seq, prev_hash, hash, in_pack}`` for *every* entry from the first to the
  last exported one, so the links can be checked across entries the filters left out;
- ``items.jsonl``: the items the entries are about (payload masked unless unmasked);
- ``evidence/<sha256>``: every evidence file the entries reference;
- ``README.txt``: how to verify the pack;
- ``manifest.json``: sha256 of every other file, the chain range and head, the filters, sample
  size and seed, population counts and control totals per bot, and ``manifest_sha256`` (its own
  hash without that field), plus an HMAC ``signature`` when ``BACKOFFICE_AUDIT_KEY`` is set.

``verify_pack`` re-checks all of it without a store and names the file (and line) at fault.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import random
import secrets
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice import pii
from backoffice.audit import (
    GENESIS,
    HASHED_FIELDS,
    AuditEntry,
    check_evidence,
    entry_hash,
    evidence_path,
    record,
)
from backoffice.errors import ConflictError, InputError, IntegrityError
from backoffice.items import file_sha256
from backoffice.jsonutil import canonical
from backoffice.schema import audit, audit_head, evidence, items
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = [
    "CSV_COLUMNS",
    "FORMAT",
    "PackFilters",
    "PackReport",
    "csv_cell",
    "entries_csv",
    "export_pack",
    "verify_pack",
]

FORMAT = "backoffice-evidence-pack/1"
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "bot",
    "outcome",
    "ruleset_version",
    "evidence",
    "data",
    "masked",
    "prev_hash",
    "hash",
)
_ROW_FIELDS = (*HASHED_FIELDS, "hash")  # an audit row as stored and exported
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_NO_BOT = "(none)"


def csv_cell(value: Any) -> str:
    """A CSV cell no spreadsheet will evaluate: ``=1+1`` -> ``'=1+1``."""
    text = "" if value is None else str(value)
    if text.startswith(_DANGEROUS):
        return "'" + text
    return text


def _csv_line(values: Sequence[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(values)
    return buf.getvalue().encode()


def entries_csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """``entries.csv`` line by line: a UTF-8 BOM and header, then one neutralised row per entry."""
    yield "\ufeff".encode() + _csv_line(CSV_COLUMNS)
    for row in rows:
        yield _csv_line([csv_cell(row.get(col)) for col in CSV_COLUMNS])


def entries_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """``entries.csv`` for the given ``entries.jsonl`` rows (deterministic, UTF-8 with BOM)."""
    return b"".join(entries_csv_lines(rows))


@dataclass
class PackFilters:
    since: datetime | None = None
    until: datetime | None = None
    bot: str | None = None
    item: str | None = None
    actor: str | None = None
    action: str | None = None
    sample: int | None = None
    seed: int | None = None

    def subject(self) -> str | None:
        if self.item is None:
            return None
        item = self.item.strip()
        return item if ":" in item else f"item:{item}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "bot": self.bot,
            "item": self.subject(),
            "actor": self.actor,
            "action": self.action,
        }


# -- control totals -----------------------------------------------------------------------------------
def _item_id(subject: str | None) -> int | None:
    if subject and subject.startswith("item:") and subject[5:].isdigit():
        return int(subject[5:])
    return None


class Totals:
    """Control totals, fed one entry at a time (see :func:`control_totals`)."""

    def __init__(self) -> None:
        self.total = 0
        self.per: dict[str, dict[str, Any]] = {}
        self.items: dict[str, set[int]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.total += 1
        bot = row.get("bot") or _NO_BOT
        b = self.per.get(bot)
        if b is None:
            b = self.per[bot] = {
                "entries": 0,
                "by_action": Counter(),
                "by_outcome": Counter(),
                "evidence_refs": 0,
            }
        b["entries"] += 1
        b["by_action"][row["action"]] += 1
        b["by_outcome"][row.get("outcome") or "-"] += 1
        ev = row["evidence"]
        if ev != "[]":
            b["evidence_refs"] += len(json.loads(ev) if isinstance(ev, str) else ev)
        item_id = _item_id(row.get("subject"))
        if item_id is not None:
            self.items.setdefault(bot, set()).add(item_id)

    def item_ids(self) -> set[int]:
        return set().union(*self.items.values()) if self.items else set()

    def result(self, amounts: dict[int, tuple[str | None, str | None]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for bot, b in sorted(self.per.items()):
            ids = self.items.get(bot, set())
            sums: dict[str, Decimal] = {}
            for i in ids:
                amount, currency = amounts.get(i, (None, None))
                if amount is None:
                    continue
                try:
                    sums[currency or "-"] = sums.get(currency or "-", Decimal("0")) + Decimal(amount)
                except InvalidOperation:
                    continue
            out[bot] = {
                "entries": b["entries"],
                "items": len(ids),
                "by_action": dict(sorted(b["by_action"].items())),
                "by_outcome": dict(sorted(b["by_outcome"].items())),
                "evidence_refs": b["evidence_refs"],
                "amount_total": {c: str(v) for c, v in sorted(sums.items())},
            }
        return {"entries": self.total, "per_bot": out}


def control_totals(
    rows: Iterable[dict[str, Any]], amounts: dict[int, tuple[str | None, str | None]]
) -> dict[str, Any]:
    """Per bot: entries, distinct items, entries per action and outcome, evidence references,
    and the sum of the distinct items' amounts per currency (Decimal as text)."""
    t = Totals()
    for row in rows:
        t.add(row)
    return t.result(amounts)


# -- export ---------------------------------------------------------------------------------------------
@dataclass
class ExportResult:
    path: Path
    entries: int
    population: int
    evidence_files: int
    first_seq: int | None
    last_seq: int | None
    manifest_sha256: str
    masked: bool
    seed: int | None
    pack_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "entries": self.entries,
            "population": self.population,
            "evidence_files": self.evidence_files,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "manifest_sha256": self.manifest_sha256,
            "pack_sha256": self.pack_sha256,
            "masked": self.masked,
            "seed": self.seed,
        }


def _population(
    store: Store, f: PackFilters, head_seq: int, columns: Sequence[str] = _ROW_FIELDS
) -> Iterator[dict[str, Any]]:
    q = select(*[audit.c[name] for name in columns]).where(audit.c.seq <= head_seq)
    subject = f.subject()
    if subject is not None:
        q = q.where(audit.c.subject == subject)
    if f.actor is not None:
        q = q.where(audit.c.actor == f.actor)
    if f.action is not None:
        q = q.where(audit.c.action == f.action)
    if f.bot is not None:
        q = q.where(audit.c.bot == f.bot)
    if f.since is not None:
        q = q.where(audit.c.at >= f.since.isoformat(timespec="microseconds"))
    if f.until is not None:
        q = q.where(audit.c.at <= f.until.isoformat(timespec="microseconds"))
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=5000).execute(q.order_by(audit.c.seq)):
            yield dict(zip(columns, r, strict=True))


class _HashingFile:
    """A file written once, hashed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sha = hashlib.sha256()
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self._fh.write(data)

    def close(self) -> str:
        self._fh.close()
        return self.sha.hexdigest()


def _chain(store: Store, lo: int, hi: int, chosen: set[int]) -> Iterator[bytes]:
    q = select(audit.c.seq, audit.c.prev_hash, audit.c.hash).where(audit.c.seq >= lo, audit.c.seq <= hi)
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=10000).execute(q.order_by(audit.c.seq)):
            line = {
                "seq": r.seq,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
                "in_pack": chosen is None or r.seq in chosen,
            }
            yield (canonical(line) + "\n").encode()


def _pack_row(row: dict[str, Any], unmask: bool) -> dict[str, Any]:
    out = dict(row)
    if not pii.may_hold_pii(row["data"]):
        out["masked"] = False
        return out
    parsed = json.loads(row["data"])
    shown = pii.view(parsed, unmask=unmask)
    text = canonical(shown)
    out["masked"] = text != row["data"]
    if out["masked"]:
        out["data"] = text
    return out


def _amounts(store: Store, ids: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
    out: dict[int, tuple[str | None, str | None]] = {}
    with store.read() as conn:
        for chunk in range(0, len(ids), 500):
            q = select(items.c.id, items.c.amount, items.c.currency).where(
                items.c.id.in_(ids[chunk : chunk + 500])
            )
            out.update({int(r.id): (r.amount, r.currency) for r in conn.execute(q)})
    return out


def _evidence_meta(store: Store, hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
    meta: dict[str, dict[str, Any]] = {sha: {} for sha in hashes}
    with store.read() as conn:
        for chunk in range(0, len(hashes), 500):
            q = select(evidence).where(evidence.c.sha256.in_(hashes[chunk : chunk + 500]))
            for r in conn.execute(q):
                meta[r.sha256] = {"name": r.name, "media_type": r.media_type, "size": r.size}
    return meta


def _item_rows(store: Store, ids: Sequence[int], unmask: bool) -> Iterator[dict[str, Any]]:
    cols = (
        items.c.id,
        items.c.bot,
        items.c.key,
        items.c.status,
        items.c.kind,
        items.c.amount,
        items.c.currency,
        items.c.source,
        items.c.payload,
        items.c.violations,
        items.c.evidence,
        items.c.decision,
        items.c.reason,
        items.c.root_cause,
        items.c.maker,
        items.c.checker,
        items.c.ruleset_version,
        items.c.created_at,
        items.c.resolved_at,
        items.c.closed_at,
    )
    with store.read() as conn:
        for chunk in range(0, len(ids), 500):
            q = select(*cols).where(items.c.id.in_(ids[chunk : chunk + 500])).order_by(items.c.id)
            for r in conn.execute(q):
                d = dict(r._mapping)
                for k in ("created_at", "resolved_at", "closed_at"):
                    d[k] = d[k].isoformat() if d[k] else None
                yield pii.view(d, unmask=unmask)


README = """\
EVIDENCE PACK - backoffice audit log
====================================

Created {created_at} by {created_by}.
Filters: {filters}
{sample_line}
Entries in this pack: {entries} of a population of {population} matching the filters.
Sequence range covered: {first_seq} .. {last_seq} (chain head at export: #{head_seq}).
Personal data: {masked_line}
Entry hashes: {alg}.

FILES
  manifest.json  sha256 of every other file, chain range and head, filters, sample seed,
                 population counts and control totals per bot; "manifest_sha256" is the
                 sha256 of the manifest's canonical JSON (sorted keys, no spaces) without
                 that field (and without "signature", an HMAC-SHA256 of the same bytes when
                 the log is keyed).
  entries.jsonl  one audit entry per line, fields exactly as stored; "data" and "evidence"
                 are JSON text exactly as hashed; "masked" is true if PII masking changed "data".
  entries.csv    the same entries for a spreadsheet. Cells beginning with = + - @ TAB or CR
                 are prefixed with an apostrophe so they can never run as formulas.
  chain.jsonl    seq, prev_hash and hash of EVERY entry from the first to the last exported
                 entry, including entries the filters left out ("in_pack": false).
  items.jsonl    the items the entries are about (state at export; payload masked unless
                 the pack was exported unmasked).
  evidence/      the files the entries reference, each named by its own sha256.

HOW TO VERIFY
  1. Run:  backoffice audit verify-pack PACK.zip   (add --key-env VAR if the log is HMAC-keyed:
     the entry hashes can then be recomputed). It needs no database and fails, naming the
     file, on any changed, missing or extra byte.
  2. By hand: the sha256 of each file must equal manifest.json "files"; each evidence/ file's
     sha256 must equal its name; in chain.jsonl each line's prev_hash must equal the previous
     line's hash; every entries.jsonl line must appear in chain.jsonl with the same hashes; and
     for every entry with "masked": false its hash must equal
        sha256( prev_hash + "\\n" + canonical_json({{seq, at, actor, role, action, subject, bot,
                ruleset_version, outcome, prev_hash}}) + "\\n" + data + "\\n" + evidence )
     (HMAC-SHA256 with the audit key instead of sha256 when "hash_alg" is hmac-sha256).

WHY A FILTERED PACK STILL PROVES THE CHAIN
  A filter or a sample picks entries that are not next to each other in the log. chain.jsonl
  therefore lists the hash links of the whole range between the first and the last picked entry.
  The picked entries are recomputed from their content; the links tie them to each other, so
  an entry removed, inserted or reordered between them breaks a link. The contents of entries
  left out are not in the pack (they may concern other clients or people).
  Masked entries cannot be recomputed (masking changed the hashed bytes); their links are still
  checked. Ask for an unmasked pack (compliance, audited, with a reason) to recompute them.
  To tie the pack to the live log, compare the chain head in manifest.json with
  `backoffice audit verify` on the system; the export itself is an entry there
  ("audit.exported", carrying this pack's manifest_sha256 and the sha256 of the zip file itself).
"""


def export_pack(
    store: Store,
    out: Path,
    *,
    user: str,
    filters: PackFilters | None = None,
    unmask: bool = False,
    reason: str | None = None,
) -> ExportResult:
    """Write an evidence pack to ``out`` (atomically) and audit the export."""
    f = filters or PackFilters()
    who = require(store, user, Action.EXPORT_AUDIT, "audit:export")
    if f.sample is not None and f.sample < 1:
        raise InputError("--sample takes a positive number of entries", field="sample")
    if f.seed is not None and f.sample is None:
        raise InputError("--seed goes with --sample N", field="seed")
    if unmask:
        pii.record_unmask(store, user, "audit:export", reason or "", "evidence pack export")
    with store.read() as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS)

    # pass 1: the population's sequence numbers and control totals (light columns only)
    pop_totals = Totals()
    seqs: list[int] = []
    for row in _population(store, f, head_seq, ("seq", "subject", "bot", "action", "outcome", "evidence")):
        seqs.append(int(row["seq"]))
        pop_totals.add(row)
    seed = f.seed
    chosen: set[int] | None = None
    if f.sample is not None:
        seed = seed if seed is not None else secrets.randbelow(2**31)
        rng = random.Random(seed)
        chosen = {seqs[i] for i in rng.sample(range(len(seqs)), min(f.sample, len(seqs)))}
    amounts = _amounts(store, sorted(pop_totals.item_ids()))
    population_totals = pop_totals.result(amounts)

    key = store.settings.audit_key
    now = utcnow()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=".pack-"))
    try:
        # pass 2: the exported entries, streamed to files and hashed on the way
        exp_totals = Totals()
        jsonl, csv_file = _HashingFile(work / "entries.jsonl"), _HashingFile(work / "entries.csv")
        csv_file.write(next(entries_csv_lines([])))  # BOM and header
        lo = hi = None
        first_prev = last_hash = None
        ev_hashes: set[str] = set()
        exported = 0
        for row in _population(store, f, head_seq):
            seq = int(row["seq"])
            if chosen is not None and seq not in chosen:
                continue
            exported += 1
            exp_totals.add(row)
            if lo is None:
                lo, first_prev = seq, row["prev_hash"]
            hi, last_hash = seq, row["hash"]
            if row["evidence"] != "[]":
                ev_hashes.update(json.loads(row["evidence"]))
            packed = _pack_row(row, unmask)
            jsonl.write((canonical(packed) + "\n").encode())
            csv_file.write(_csv_line([csv_cell(packed.get(col)) for col in CSV_COLUMNS]))
        if exported != (len(seqs) if chosen is None else len(chosen)):
            raise ConflictError("the audit log changed under the export (a purge?); run it again")
        files: dict[str, str] = {"entries.jsonl": jsonl.close(), "entries.csv": csv_file.close()}
        exported_totals = population_totals if chosen is None else exp_totals.result(amounts)

        chain_file = _HashingFile(work / "chain.jsonl")
        links = 0
        if lo is not None and hi is not None:
            for line in _chain(store, lo, hi, chosen if chosen is not None else set(seqs)):
                chain_file.write(line)
                links += 1
        files["chain.jsonl"] = chain_file.close()

        item_ids = sorted(exp_totals.item_ids())
        items_file = _HashingFile(work / "items.jsonl")
        for item_row in _item_rows(store, item_ids, unmask):
            items_file.write((canonical(item_row) + "\n").encode())
        files["items.jsonl"] = items_file.close()

        evidence_list = sorted(ev_hashes)
        ev_meta = _evidence_meta(store, evidence_list)
        for sha in evidence_list:
            check_evidence(store, sha)
            files[f"evidence/{sha}"] = sha  # content-addressed: its name is its sha256

        readme = README.format(
            created_at=now.isoformat(timespec="seconds"),
            created_by=f"{who.name} ({who.role})",
            filters=json.dumps(f.to_dict(), ensure_ascii=False),
            sample_line=(
                f"Sample: {exported} entries drawn with Python random.Random({seed}).sample over the "
                f"population's positions in sequence order."
                if f.sample is not None
                else "Sample: none (the whole population)."
            ),
            entries=exported,
            population=len(seqs),
            first_seq=lo if lo is not None else "-",
            last_seq=hi if hi is not None else "-",
            head_seq=head_seq,
            masked_line="UNMASKED (exported by compliance, audited)"
            if unmask
            else "masked (bank accounts, national ids, salaries); evidence files are as captured",
            alg="HMAC-SHA256 (keyed)" if key is not None else "SHA-256",
        ).encode()
        files["README.txt"] = hashlib.sha256(readme).hexdigest()

        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="microseconds"),
            "created_by": who.name,
            "created_by_role": who.role,
            "filters": f.to_dict(),
            "sample": {"size": f.sample, "seed": seed, "drawn": exported} if f.sample is not None else None,
            "masked": not unmask,
            "hash_alg": "hmac-sha256" if key is not None else "sha256",
            "chain": {
                "head_seq": head_seq,
                "head_hash": head_hash,
                "first_seq": lo,
                "last_seq": hi,
                "first_prev_hash": first_prev,
                "last_hash": last_hash,
                "links": links,
            },
            "population": population_totals,
            "exported": exported_totals,
            "items": len(item_ids),
            "evidence": ev_meta,
            "files": dict(sorted(files.items())),
        }
        body = canonical(manifest).encode()
        manifest["manifest_sha256"] = hashlib.sha256(body).hexdigest()
        if key is not None:
            manifest["signature"] = hmac.new(
                key.get_secret_value().encode(), body, hashlib.sha256
            ).hexdigest()
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

        tmp_zip = work / "pack.zip"
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
            zf.writestr("manifest.json", manifest_bytes)
            for name in ("entries.jsonl", "entries.csv", "items.jsonl", "chain.jsonl"):
                zf.write(work / name, name)
            zf.writestr("README.txt", readme)
            for sha in evidence_list:
                zf.write(evidence_path(store, sha), f"evidence/{sha}")
        pack_sha = file_sha256(tmp_zip)
        os.replace(tmp_zip, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    record(
        store,
        AuditEntry(
            actor=who.name,
            role=who.role,
            action="audit.exported",
            subject="audit:export",
            data={
                "filters": f.to_dict(),
                "sample": manifest["sample"],
                "masked": not unmask,
                "entries": exported,
                "population": len(seqs),
                "range": [lo, hi],
                "evidence_files": len(evidence_list),
                "pack": out.name,
                "manifest_sha256": manifest["manifest_sha256"],
                "pack_sha256": pack_sha,
            },
            outcome="ok",
        ),
    )
    return ExportResult(
        path=out,
        entries=exported,
        population=len(seqs),
        evidence_files=len(evidence_list),
        first_seq=lo,
        last_seq=hi,
        manifest_sha256=manifest["manifest_sha256"],
        pack_sha256=pack_sha,
        masked=not unmask,
        seed=seed,
    )


# -- offline verification -------------------------------------------------------------------------------
@dataclass
class PackReport:
    """What ``verify_pack`` found. ``problems`` name the file (and line) at fault."""

    path: str
    ok: bool = True
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entries: int = 0
    recomputed: int = 0
    links: int = 0
    evidence_files: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)

    def fail(self, file: str, message: str, line: int | None = None) -> None:
        self.ok = False
        self.problems.append({"file": file, "line": line, "message": message})

    @property
    def bad_files(self) -> list[str]:
        return sorted({p["file"] for p in self.problems})

    def to_dict(self) -> dict[str, Any]:
        chain = self.manifest.get("chain", {}) if isinstance(self.manifest, dict) else {}
        return {
            "path": self.path,
            "ok": self.ok,
            "problems": self.problems,
            "bad_files": self.bad_files,
            "notes": self.notes,
            "entries": self.entries,
            "recomputed": self.recomputed,
            "links": self.links,
            "evidence_files": self.evidence_files,
            "chain": chain,
        }


_CHUNK = 1 << 20


def _is_decimal(value: Any) -> bool:
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return True


def _member_sha(zf: zipfile.ZipFile, name: str, report: PackReport) -> str | None:
    """sha256 of a member, streamed; None (and a problem naming it) if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with zf.open(name) as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(block)
    except Exception as exc:  # BadZipFile (bad CRC), zlib.error, EOFError: changed bytes
        report.fail(name, f"cannot be read from the zip (changed bytes?): {exc}")
        return None
    return digest.hexdigest()


def _jsonl(zf: zipfile.ZipFile, name: str, report: PackReport) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL member, one per ``\\n``-terminated line, streamed."""
    try:
        fh = zf.open(name)
    except KeyError:
        return
    with fh:
        for n, raw in enumerate(fh, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                report.fail(name, f"line {n} is not JSON: {exc.msg}", n)
                continue
            if not isinstance(row, dict):
                report.fail(name, f"line {n} is not a JSON object", n)
                continue
            row["_line"] = n
            yield row


def verify_pack(path: Path, *, key: bytes | None = None) -> PackReport:
    """Check a pack offline: file hashes, manifest, hash links, entry hashes, CSV, totals.

    Streams every member, so memory stays small whatever the pack's size.
    """
    path = Path(path)
    report = PackReport(path=str(path))
    if not path.is_file():
        raise InputError("no such evidence pack", file=str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail(path.name, f"not a readable zip: {exc}")
        return report
    with zf:
        _verify_members(zf, report, key)
    return report


def _verify_members(zf: zipfile.ZipFile, report: PackReport, key: bytes | None) -> None:
    names = {i.filename for i in zf.infolist() if not i.is_dir()}

    # the manifest, checked against itself
    if "manifest.json" not in names:
        report.fail("manifest.json", "missing")
        return
    try:
        manifest = json.loads(zf.read("manifest.json"))
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except Exception as exc:  # bad JSON, bad UTF-8, bad CRC
        report.fail("manifest.json", f"not valid: {exc}")
        return
    report.manifest = manifest
    claimed = manifest.pop("manifest_sha256", None)
    signature = manifest.pop("signature", None)
    body = canonical(manifest).encode()
    if claimed != hashlib.sha256(body).hexdigest():
        report.fail("manifest.json", "changed: its content does not match its manifest_sha256")
        return  # nothing it lists can be trusted
    if manifest.get("format") != FORMAT:
        report.fail("manifest.json", f"unknown format {manifest.get('format')!r}")
    alg = manifest.get("hash_alg")
    if alg == "hmac-sha256":
        if key is None:
            report.notes.append(
                "the log is HMAC-keyed and no key was given: entry hashes and the manifest signature "
                "were not recomputed (links, file hashes and totals were checked)"
            )
        elif signature is None or not hmac.compare_digest(
            hmac.new(key, body, hashlib.sha256).hexdigest(), str(signature)
        ):
            report.fail("manifest.json", "signature does not match (changed, or a different audit key)")
            return  # with the wrong key every entry would look altered: stop at the cause
    files = manifest.get("files")
    if not isinstance(files, dict):
        report.fail("manifest.json", "has no file list")
        return

    # every file present, unchanged, and nothing extra; cross-file checks below only run over
    # files that are unchanged, so a problem names the file that was actually changed
    changed: set[str] = set()
    unreadable: set[str] = set()
    for name, digest in sorted(files.items()):
        if name not in names:
            changed.add(name)
            report.fail(name, "listed in manifest.json but missing from the pack")
            continue
        actual = _member_sha(zf, name, report)
        if actual is None:
            changed.add(name)
            unreadable.add(name)
        elif actual != digest:
            changed.add(name)
            report.fail(name, "changed: its sha256 does not match manifest.json")
        elif name.startswith("evidence/") and actual != name.split("/", 1)[1]:
            changed.add(name)
            report.fail(name, "changed: its sha256 is not its name")
        if name.startswith("evidence/"):
            report.evidence_files += 1
    for name in sorted(names - set(files) - {"manifest.json"}):
        report.fail(name, "in the pack but not listed in manifest.json")

    # entries: hashes recomputed where possible; CSV and totals rebuilt on the way
    can_recompute = alg == "sha256" or (alg == "hmac-sha256" and key is not None)
    entry_key = key if alg == "hmac-sha256" else None
    entries_ok = "entries.jsonl" not in changed
    by_seq: dict[int, tuple[Any, Any, int]] = {}
    totals = Totals()
    csv_sha = hashlib.sha256(next(entries_csv_lines([])))
    masked_rows = 0
    last_seq = 0
    readable = "entries.jsonl" in names and "entries.jsonl" not in unreadable
    rows = _jsonl(zf, "entries.jsonl", report) if readable else iter(())
    for row in rows:
        n = row.pop("_line")
        report.entries += 1
        try:
            seq = int(row["seq"])
            missing = [k for k in _ROW_FIELDS if k not in row]
            if missing:
                raise KeyError(", ".join(missing))
            totals.add(row)
        except (KeyError, TypeError, ValueError) as exc:
            report.fail("entries.jsonl", f"line {n} lacks fields or is malformed: {exc}", n)
            continue
        if seq <= last_seq:
            report.fail("entries.jsonl", f"line {n}: entry {seq} is out of order or duplicated", n)
        last_seq = seq
        by_seq[seq] = (row.get("hash"), row.get("prev_hash"), n)
        csv_sha.update(_csv_line([csv_cell(row.get(col)) for col in CSV_COLUMNS]))
        refs = json.loads(row["evidence"]) if isinstance(row["evidence"], str) else []
        for sha in refs if entries_ok else []:
            if f"evidence/{sha}" not in files:
                report.fail(
                    "entries.jsonl", f"line {n}: entry {seq} references evidence {sha} not in the pack", n
                )
        if row.get("masked"):
            masked_rows += 1
        elif can_recompute:
            if entry_hash(row, entry_key) != row["hash"]:
                report.fail("entries.jsonl", f"line {n}: entry {seq} was altered: its hash does not match", n)
            else:
                report.recomputed += 1

    # the links of the covered range
    ch = manifest.get("chain", {})
    prev: Any = ch.get("first_prev_hash")
    expected_seq: Any = ch.get("first_seq")
    in_pack: set[int] = set()
    cross = entries_ok and "chain.jsonl" not in changed
    chain_ok = "chain.jsonl" in names and "chain.jsonl" not in unreadable
    chain_rows = _jsonl(zf, "chain.jsonl", report) if chain_ok else iter(())
    for link in chain_rows:
        n = link["_line"]
        report.links += 1
        lseq: Any = link.get("seq")
        if lseq != expected_seq:
            report.fail("chain.jsonl", f"line {n}: expected entry {expected_seq}, found {lseq}", n)
            cross = False  # the walk stopped: entries after the break cannot be matched to links
            break
        if link.get("prev_hash") != prev:
            report.fail("chain.jsonl", f"line {n}: entry {lseq} does not link to entry {int(lseq) - 1}", n)
        if link.get("in_pack") and cross:
            in_pack.add(int(lseq))
            entry = by_seq.get(int(lseq))
            if entry is None:
                report.fail("entries.jsonl", f"entry {lseq} is marked in the pack by chain.jsonl but missing")
            elif entry[0] != link.get("hash") or entry[1] != link.get("prev_hash"):
                report.fail("entries.jsonl", f"entry {lseq} differs from its link in chain.jsonl", entry[2])
        prev = link.get("hash")
        expected_seq = int(lseq) + 1
    if chain_ok and report.links:
        if prev != ch.get("last_hash"):
            report.fail("chain.jsonl", "the last link does not end at the chain hash in manifest.json")
        if expected_seq - 1 != ch.get("last_seq"):
            report.fail(
                "chain.jsonl",
                f"the range ends at entry {expected_seq - 1}, manifest.json says {ch.get('last_seq')}",
            )
    for seq in sorted(set(by_seq) - in_pack) if cross else []:
        report.fail("entries.jsonl", f"entry {seq} is not marked in the pack by chain.jsonl", by_seq[seq][2])

    # the CSV is the JSONL, neutralised
    if entries_ok and "entries.csv" not in changed and csv_sha.hexdigest() != files.get("entries.csv"):
        report.fail("entries.csv", "does not match entries.jsonl")

    # control totals of the exported entries
    if entries_ok and "items.jsonl" not in changed:
        amounts: dict[int, tuple[str | None, str | None]] = {}
        hidden: set[str] = set()  # bots with masked amounts (a person's pay): their sums are not recomputable
        for item in _jsonl(zf, "items.jsonl", report):
            if isinstance(item.get("id"), int):
                amounts[item["id"]] = (item.get("amount"), item.get("currency"))
                if item.get("amount") is not None and not _is_decimal(item["amount"]):
                    hidden.add(str(item.get("bot")))
        got, want = totals.result(amounts), manifest.get("exported")
        if isinstance(want, dict):
            for bot in hidden & set(got["per_bot"]):
                got["per_bot"][bot]["amount_total"] = want.get("per_bot", {}).get(bot, {}).get("amount_total")
        if got != want:
            report.fail("manifest.json", "control totals of the exported entries do not match entries.jsonl")
        if hidden:
            report.notes.append(
                f"amounts are masked for {', '.join(sorted(hidden))}: their amount totals were not recomputed"
            )
    if manifest.get("sample") is None and manifest.get("population") != manifest.get("exported"):
        report.fail("manifest.json", "no sample was drawn, yet population and exported totals differ")
    if masked_rows:
        report.notes.append(
            f"{masked_rows} masked entries: their links were checked, their hashes cannot be recomputed"
        )


def raise_for(report: PackReport) -> None:
    """IntegrityError naming the first bad file, if any."""
    if not report.ok:
        first = report.problems[0]
        raise IntegrityError(f"{first['file']}: {first['message']}", file=first["file"])


# -- an item's story --------------------------------------------------------------------------------------
def item_story(store: Store, item_id: int, *, unmask: bool = False) -> dict[str, Any]:
    """Everything about one item, in order: its source file, every audit entry from the bot
    reading it to the final decision, its comments, and its evidence files (each re-hashed)."""
    from backoffice.errors import NotFound
    from backoffice.schema import comments

    subject = f"item:{item_id}"
    with store.read() as conn:
        row = conn.execute(select(items).where(items.c.id == item_id)).first()
        entries = [
            {name: r._mapping[name] for name in _ROW_FIELDS}
            for r in conn.execute(select(audit).where(audit.c.subject == subject).order_by(audit.c.seq))
        ]
        notes = [
            {"user": c.user, "text": pii.view(c.text, unmask=unmask), "at": c.at.isoformat()}
            for c in conn.execute(
                select(comments).where(comments.c.item_id == item_id).order_by(comments.c.id)
            )
        ]
    if row is None and not entries:
        raise NotFound(f"no item {item_id} (and no audit entries about it)")
    item: dict[str, Any] | None = None
    ev_refs: dict[str, dict[str, Any]] = {}
    if row is not None:
        r = dict(row._mapping)
        item = {
            "id": r["id"],
            "bot": r["bot"],
            "key": r["key"],
            "status": r["status"],
            "kind": r["kind"],
            "amount": r["amount"],
            "currency": r["currency"],
            "source": r["source"],
            "payload": pii.view(r["payload"], unmask=unmask),
            "violations": pii.view(r["violations"], unmask=unmask),
            "decision": r["decision"],
            "reason": pii.view(r["reason"], unmask=unmask),
            "root_cause": r["root_cause"],
            "maker": r["maker"],
            "checker": r["checker"],
            "ruleset_version": r["ruleset_version"],
            "created_at": r["created_at"].isoformat() if r["created_at"] else None,
            "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
            "closed_at": r["closed_at"].isoformat() if r["closed_at"] else None,
        }
        for ref in r["evidence"] or []:
            if isinstance(ref, dict) and "sha256" in ref:
                ev_refs[str(ref["sha256"])] = dict(ref)
    shown = []
    for e in entries:
        data = pii.view(json.loads(e["data"]), unmask=unmask)
        for sha in json.loads(e["evidence"]):
            ev_refs.setdefault(sha, {"sha256": sha})
        shown.append({**e, "data": data, "evidence": json.loads(e["evidence"])})
    with store.read() as conn:
        metas = {
            r.sha256: r for r in conn.execute(select(evidence).where(evidence.c.sha256.in_(list(ev_refs))))
        }
    files = []
    for sha, ref in ev_refs.items():
        meta = metas.get(sha)
        try:
            check_evidence(store, sha)
            state = "ok"
        except IntegrityError as exc:
            state = str(exc)
        files.append(
            {
                "sha256": sha,
                "name": ref.get("name") or (meta.name if meta else sha),
                "media_type": ref.get("media_type") or (meta.media_type if meta else None),
                "size": ref.get("size") or (meta.size if meta else None),
                "state": state,
            }
        )
    return {"subject": subject, "item": item, "entries": shown, "comments": notes, "evidence": files}
