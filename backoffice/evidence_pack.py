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
from backoffice.audit import GENESIS, AuditEntry, append, check_evidence, entry_hash, evidence_path
from backoffice.errors import InputError, IntegrityError
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
_ROW_FIELDS = (
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
    "hash",
)
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_NO_BOT = "(none)"


def csv_cell(value: Any) -> str:
    """A CSV cell no spreadsheet will evaluate: ``=1+1`` -> ``'=1+1``."""
    text = "" if value is None else str(value)
    if text.startswith(_DANGEROUS):
        return "'" + text
    return text


def entries_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """``entries.csv`` for the given ``entries.jsonl`` rows (deterministic, UTF-8 with BOM)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row.get(col)) for col in CSV_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode()


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


def control_totals(
    rows: Iterable[dict[str, Any]], amounts: dict[int, tuple[str | None, str | None]]
) -> dict[str, Any]:
    """Per bot: entries, distinct items, entries per action and outcome, evidence references,
    and the sum of the distinct items' amounts per currency (Decimal as text)."""
    per: dict[str, dict[str, Any]] = {}
    seen_items: dict[str, set[int]] = {}
    total = 0
    for row in rows:
        total += 1
        bot = row.get("bot") or _NO_BOT
        b = per.setdefault(
            bot,
            {"entries": 0, "items": 0, "by_action": Counter(), "by_outcome": Counter(), "evidence_refs": 0},
        )
        b["entries"] += 1
        b["by_action"][row["action"]] += 1
        b["by_outcome"][row.get("outcome") or "-"] += 1
        ev = row["evidence"]
        b["evidence_refs"] += len(json.loads(ev) if isinstance(ev, str) else ev)
        item_id = _item_id(row.get("subject"))
        if item_id is not None:
            seen_items.setdefault(bot, set()).add(item_id)
    out: dict[str, Any] = {}
    for bot, b in sorted(per.items()):
        ids = seen_items.get(bot, set())
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
    return {"entries": total, "per_bot": out}


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "entries": self.entries,
            "population": self.population,
            "evidence_files": self.evidence_files,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "manifest_sha256": self.manifest_sha256,
            "masked": self.masked,
            "seed": self.seed,
        }


def _population(store: Store, f: PackFilters, head_seq: int) -> Iterator[dict[str, Any]]:
    q = select(audit).where(audit.c.seq <= head_seq)
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
            yield {name: r._mapping[name] for name in _ROW_FIELDS}


def _chain(store: Store, lo: int, hi: int, chosen: set[int]) -> Iterator[bytes]:
    q = select(audit.c.seq, audit.c.prev_hash, audit.c.hash).where(audit.c.seq >= lo, audit.c.seq <= hi)
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=10000).execute(q.order_by(audit.c.seq)):
            line = {"seq": r.seq, "prev_hash": r.prev_hash, "hash": r.hash, "in_pack": r.seq in chosen}
            yield (canonical(line) + "\n").encode()


def _pack_row(row: dict[str, Any], unmask: bool) -> dict[str, Any]:
    out = dict(row)
    parsed = json.loads(row["data"])
    shown = pii.view(parsed, unmask=unmask)
    text = canonical(shown)
    out["masked"] = text != row["data"]
    if out["masked"]:
        out["data"] = text
    return out


def _item_rows(store: Store, ids: Sequence[int], unmask: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
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
                for k in ("payload", "violations", "source", "reason"):
                    d[k] = pii.view(d[k], unmask=unmask)
                out.append(d)
    return out


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
  ("audit.exported", carrying this pack's manifest_sha256).
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

    population = list(_population(store, f, head_seq))
    seed = f.seed
    if f.sample is not None:
        seed = seed if seed is not None else secrets.randbelow(2**31)
        rng = random.Random(seed)
        picked = sorted(rng.sample(range(len(population)), min(f.sample, len(population))))
        chosen_rows = [population[i] for i in picked]
    else:
        chosen_rows = population
    chosen = {int(r["seq"]) for r in chosen_rows}
    lo = min(chosen) if chosen else None
    hi = max(chosen) if chosen else None

    item_ids = sorted({i for r in population if (i := _item_id(r["subject"])) is not None})
    with store.read() as conn:
        amounts: dict[int, tuple[str | None, str | None]] = {}
        for chunk in range(0, len(item_ids), 500):
            q = select(items.c.id, items.c.amount, items.c.currency).where(
                items.c.id.in_(item_ids[chunk : chunk + 500])
            )
            amounts.update({int(r.id): (r.amount, r.currency) for r in conn.execute(q)})
    population_totals = control_totals(population, amounts)
    exported_totals = control_totals(chosen_rows, amounts)

    pack_rows = [_pack_row(r, unmask) for r in chosen_rows]
    item_rows = _item_rows(store, sorted({i for r in chosen_rows if (i := _item_id(r["subject"]))}), unmask)
    ev_hashes = sorted({h for r in chosen_rows for h in json.loads(r["evidence"])})
    with store.read() as conn:
        ev_meta = {
            r.sha256: {"name": r.name, "media_type": r.media_type, "size": r.size}
            for chunk in range(0, len(ev_hashes), 500)
            for r in conn.execute(
                select(evidence).where(evidence.c.sha256.in_(ev_hashes[chunk : chunk + 500]))
            )
        }
    for sha in ev_hashes:
        check_evidence(store, sha)

    key = store.settings.audit_key
    now = utcnow()
    members: dict[str, bytes | Path] = {}
    members["entries.jsonl"] = "".join(canonical(r) + "\n" for r in pack_rows).encode()
    members["entries.csv"] = entries_csv(pack_rows)
    members["items.jsonl"] = "".join(canonical(r) + "\n" for r in item_rows).encode()
    chain_bytes = b"".join(_chain(store, lo, hi, chosen)) if lo is not None and hi is not None else b""
    members["chain.jsonl"] = chain_bytes
    first_prev = pack_rows[0]["prev_hash"] if pack_rows else None
    last_hash = next((r["hash"] for r in reversed(pack_rows)), None)
    readme = README.format(
        created_at=now.isoformat(timespec="seconds"),
        created_by=f"{who.name} ({who.role})",
        filters=json.dumps(f.to_dict(), ensure_ascii=False),
        sample_line=(
            f"Sample: {len(chosen_rows)} entries drawn with Python random.Random({seed}).sample over the "
            f"population in sequence order."
            if f.sample is not None
            else "Sample: none (the whole population)."
        ),
        entries=len(chosen_rows),
        population=len(population),
        first_seq=lo if lo is not None else "-",
        last_seq=hi if hi is not None else "-",
        head_seq=head_seq,
        masked_line="UNMASKED (exported by compliance, audited)"
        if unmask
        else "masked (bank accounts, national ids, salaries); evidence files are as captured",
        alg="HMAC-SHA256 (keyed)" if key is not None else "SHA-256",
    )
    members["README.txt"] = readme.encode()
    for sha in ev_hashes:
        members[f"evidence/{sha}"] = evidence_path(store, sha)

    files: dict[str, str] = {}
    for name, content in members.items():
        data = content.read_bytes() if isinstance(content, Path) else content
        files[name] = hashlib.sha256(data).hexdigest()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now.isoformat(timespec="microseconds"),
        "created_by": who.name,
        "created_by_role": who.role,
        "filters": f.to_dict(),
        "sample": {"size": f.sample, "seed": seed, "drawn": len(chosen_rows)}
        if f.sample is not None
        else None,
        "masked": not unmask,
        "hash_alg": "hmac-sha256" if key is not None else "sha256",
        "chain": {
            "head_seq": head_seq,
            "head_hash": head_hash,
            "first_seq": lo,
            "last_seq": hi,
            "first_prev_hash": first_prev,
            "last_hash": last_hash,
            "links": chain_bytes.count(b"\n"),
        },
        "population": population_totals,
        "exported": exported_totals,
        "items": len(item_rows),
        "evidence": {sha: ev_meta.get(sha, {}) for sha in ev_hashes},
        "files": dict(sorted(files.items())),
    }
    body = canonical(manifest).encode()
    manifest["manifest_sha256"] = hashlib.sha256(body).hexdigest()
    if key is not None:
        manifest["signature"] = hmac.new(key.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".pack-", suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", manifest_bytes)
            for name, content in members.items():
                if isinstance(content, Path):
                    zf.write(content, name)
                else:
                    zf.writestr(name, content)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

    with store.write() as conn:
        append(
            conn,
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
                    "entries": len(chosen_rows),
                    "population": len(population),
                    "range": [lo, hi],
                    "evidence_files": len(ev_hashes),
                    "pack": out.name,
                    "manifest_sha256": manifest["manifest_sha256"],
                },
                outcome="ok",
            ),
        )
    return ExportResult(
        path=out,
        entries=len(chosen_rows),
        population=len(population),
        evidence_files=len(ev_hashes),
        first_seq=lo,
        last_seq=hi,
        manifest_sha256=manifest["manifest_sha256"],
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


def _read_members(path: Path, report: PackReport) -> dict[str, bytes] | None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail(path.name, f"not a readable zip: {exc}")
        return None
    out: dict[str, bytes] = {}
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            try:
                out[info.filename] = zf.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                report.fail(info.filename, f"cannot be read from the zip (changed bytes?): {exc}")
            except Exception as exc:  # zlib.error and friends: corrupted compressed data
                report.fail(info.filename, f"cannot be read from the zip (changed bytes?): {exc}")
    return out


def _jsonl(name: str, data: bytes, report: PackReport) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            report.fail(name, f"line {n} is not JSON: {exc.msg}", n)
            continue
        if not isinstance(row, dict):
            report.fail(name, f"line {n} is not a JSON object", n)
            continue
        row["_line"] = n
        rows.append(row)
    return rows


def verify_pack(path: Path, *, key: bytes | None = None) -> PackReport:
    """Check a pack offline: file hashes, manifest, hash links, entry hashes, CSV, totals."""
    path = Path(path)
    report = PackReport(path=str(path))
    if not path.is_file():
        raise InputError("no such evidence pack", file=str(path))
    members = _read_members(path, report)
    if members is None:
        return report

    # the manifest, checked against itself
    raw = members.pop("manifest.json", None)
    if raw is None:
        report.fail("manifest.json", "missing")
        return report
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail("manifest.json", f"not valid JSON: {exc}")
        return report
    report.manifest = manifest
    claimed = manifest.pop("manifest_sha256", None)
    signature = manifest.pop("signature", None)
    body = canonical(manifest).encode()
    if claimed != hashlib.sha256(body).hexdigest():
        report.fail("manifest.json", "changed: its content does not match its manifest_sha256")
        return report  # nothing it lists can be trusted
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
    files = manifest.get("files")
    if not isinstance(files, dict):
        report.fail("manifest.json", "has no file list")
        return report

    # every file present, unchanged, and nothing extra; cross-file checks below only run over
    # files that are unchanged, so a problem names the file that was actually changed
    changed: set[str] = set()
    for name, digest in sorted(files.items()):
        data = members.get(name)
        if data is None:
            changed.add(name)
            if not any(p["file"] == name for p in report.problems):
                report.fail(name, "listed in manifest.json but missing from the pack")
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            changed.add(name)
            report.fail(name, "changed: its sha256 does not match manifest.json")
    for name in sorted(set(members) - set(files)):
        report.fail(name, "in the pack but not listed in manifest.json")
    for name, data in sorted(members.items()):
        if name.startswith("evidence/"):
            report.evidence_files += 1
            if hashlib.sha256(data).hexdigest() != name.split("/", 1)[1] and name not in report.bad_files:
                report.fail(name, "changed: its sha256 is not its name")

    # entries: hashes recomputed where possible
    rows = _jsonl("entries.jsonl", members.get("entries.jsonl", b""), report)
    report.entries = len(rows)
    can_recompute = alg == "sha256" or (alg == "hmac-sha256" and key is not None)
    entry_key = key if alg == "hmac-sha256" else None
    last_seq = 0
    for row in rows:
        n = row["_line"]
        try:
            seq = int(row["seq"])
            missing = [k for k in _ROW_FIELDS if k not in row]
            if missing:
                raise KeyError(", ".join(missing))
        except (KeyError, TypeError, ValueError) as exc:
            report.fail("entries.jsonl", f"line {n} lacks fields: {exc}", n)
            continue
        if seq <= last_seq:
            report.fail("entries.jsonl", f"line {n}: entry {seq} is out of order or duplicated", n)
        last_seq = seq
        if row.get("masked"):
            continue
        if can_recompute:
            if entry_hash(row, entry_key) != row["hash"]:
                report.fail("entries.jsonl", f"line {n}: entry {seq} was altered: its hash does not match", n)
            else:
                report.recomputed += 1
        refs = json.loads(row["evidence"]) if isinstance(row["evidence"], str) else []
        for sha in refs if "entries.jsonl" not in changed else []:
            if f"evidence/{sha}" not in files:
                report.fail(
                    "entries.jsonl", f"line {n}: entry {seq} references evidence {sha} not in the pack", n
                )

    # the links of the covered range
    chain_rows = _jsonl("chain.jsonl", members.get("chain.jsonl", b""), report)
    report.links = len(chain_rows)
    ch = manifest.get("chain", {})
    by_seq = {int(r["seq"]): r for r in rows if isinstance(r.get("seq"), int)}
    prev: str | None = ch.get("first_prev_hash")
    expected_seq: Any = ch.get("first_seq")
    in_pack: set[int] = set()
    cross = not {"entries.jsonl", "chain.jsonl"} & changed
    for link in chain_rows:
        n = link["_line"]
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
            elif entry.get("hash") != link.get("hash") or entry.get("prev_hash") != link.get("prev_hash"):
                report.fail(
                    "entries.jsonl", f"entry {lseq} differs from its link in chain.jsonl", entry["_line"]
                )
        prev = link.get("hash")
        expected_seq = int(lseq) + 1
    if chain_rows and prev != ch.get("last_hash"):
        report.fail("chain.jsonl", "the last link does not end at the chain hash in manifest.json")
    if chain_rows and expected_seq - 1 != ch.get("last_seq"):
        report.fail(
            "chain.jsonl",
            f"the range ends at entry {expected_seq - 1}, manifest.json says {ch.get('last_seq')}",
        )
    for seq in sorted(set(by_seq) - in_pack) if cross else []:
        report.fail(
            "entries.jsonl", f"entry {seq} is not marked in the pack by chain.jsonl", by_seq[seq]["_line"]
        )

    # the CSV is the JSONL, neutralised
    clean_rows = [{k: v for k, v in r.items() if k != "_line"} for r in rows]
    csv_bytes = members.get("entries.csv")
    if (
        csv_bytes is not None
        and not {"entries.csv", "entries.jsonl"} & changed
        and csv_bytes != entries_csv(clean_rows)
    ):
        report.fail("entries.csv", "does not match entries.jsonl")

    # control totals of the exported entries
    item_rows = _jsonl("items.jsonl", members.get("items.jsonl", b""), report)
    amounts = {int(r["id"]): (r.get("amount"), r.get("currency")) for r in item_rows if "id" in r}
    try:
        totals = control_totals(clean_rows, amounts)
    except (KeyError, TypeError, ValueError) as exc:
        report.fail("entries.jsonl", f"cannot compute control totals: {exc}")
    else:
        if not {"entries.jsonl", "items.jsonl"} & changed and totals != manifest.get("exported"):
            report.fail("manifest.json", "control totals of the exported entries do not match entries.jsonl")
    if manifest.get("sample") is None and manifest.get("population") != manifest.get("exported"):
        report.fail("manifest.json", "no sample was drawn, yet population and exported totals differ")
    if report.ok and not can_recompute and not rows:
        report.notes.append("the pack holds no entries")
    masked_rows = sum(1 for r in rows if r.get("masked"))
    if masked_rows:
        report.notes.append(
            f"{masked_rows} masked entries: their links were checked, their hashes cannot be recomputed"
        )
    return report


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
