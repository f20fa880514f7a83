"""Writing an evidence pack (the layout is described in :mod:`backoffice.audit.pack`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice.audit.chain import GENESIS, ROW_FIELDS, AuditEntry, record
from backoffice.audit.digests import digest_files
from backoffice.audit.evidence import check_evidence, evidence_path
from backoffice.audit.pack.format import (
    CSV_COLUMNS,
    FORMAT,
    csv_cell,
    csv_line,
    entries_csv_lines,
    incidents_csv_lines,
    pack_row,
)
from backoffice.audit.pack.totals import Totals
from backoffice.errors import ConflictError, InputError
from backoffice.items import file_sha256
from backoffice.jsonutil import canonical
from backoffice.pii import Masking, record_unmask
from backoffice.schema import audit, audit_head, evidence, incidents, items, rule_versions
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = ["ExportResult", "PackFilters", "export_pack"]


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
    store: Store, f: PackFilters, head_seq: int, columns: Sequence[str] = ROW_FIELDS
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
    q = _in_period(q, f)
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


def _approvals(store: Store, versions: Sequence[str]) -> list[dict[str, Any]]:
    """The change-control records that approved the rule-set versions the entries ran under
    (approved, or approved then superseded), one per version, oldest first."""
    if not versions:
        return []
    q = (
        select(rule_versions)
        .where(
            rule_versions.c.version.in_(list(versions)),
            rule_versions.c.status.in_(("approved", "superseded")),
        )
        .order_by(rule_versions.c.id)
    )
    with store.read() as conn:
        rows = list(conn.execute(q))
    return [
        {
            "approval": int(r.id),
            "engagement": r.engagement,
            "bot": r.bot,
            "version": r.version,
            "code_version": r.code_version,
            "params": r.params,
            "changes": r.changes,
            "status": r.status,
            "proposer": r.proposer,
            "proposed_at": r.proposed_at.isoformat(),
            "reason": r.reason,
            "approver": r.decided_by,
            "approved_at": r.decided_at.isoformat() if r.decided_at else None,
            "approval_reason": r.decision_reason,
        }
        for r in rows
    ]


INCIDENT_FREE_TEXT = ("reason", "note", "summary")


def _in_period(q: Any, f: PackFilters) -> Any:
    if f.since is not None:
        q = q.where(audit.c.at >= f.since.isoformat(timespec="microseconds"))
    if f.until is not None:
        q = q.where(audit.c.at <= f.until.isoformat(timespec="microseconds"))
    return q


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _incidents(store: Store, f: PackFilters, head_seq: int, masking: Masking) -> list[dict[str, Any]]:
    """The incidents of the pack's period: those with a step of their timeline (an ``incident.*``
    audit entry) between ``since`` and ``until`` (all, without a period), of the filtered bot; the
    item, actor, action and sample filters do not apply (an incident is about a run, not an
    item). Each is its record at export with its whole timeline up to the chain head, oldest step
    first: seq, time, who, action, outcome, the entry's data (masked as in ``entries.jsonl``), its
    evidence and its hash (the link in the log), oldest incident first."""
    step = (audit.c.seq <= head_seq) & audit.c.action.like("incident.%") & audit.c.subject.like("incident:%")
    q = _in_period(select(audit.c.subject).where(step).distinct(), f)
    if f.bot is not None:
        q = q.where(audit.c.bot == f.bot)
    with store.read() as conn:
        subjects = sorted({str(s) for (s,) in conn.execute(q)})
        ids = sorted(int(s.split(":", 1)[1]) for s in subjects if s.split(":", 1)[1].isdigit())
        records: dict[int, dict[str, Any]] = {}
        timelines: dict[str, list[dict[str, Any]]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for r in conn.execute(select(incidents).where(incidents.c.id.in_(part))):
                m = r._mapping
                records[int(m["id"])] = {
                    "id": int(m["id"]),
                    "engagement": m["engagement"] or store.engagement,
                    "kind": m["kind"],
                    "run_id": m["run_id"],
                    "bot": m["bot"],
                    "opened_at": _iso(m["opened_at"]),
                    "status": m["status"],
                    "summary": masking.text(m["summary"]),
                    "data": masking.entry_data(m["bot"], dict(m["data"] or {})),
                    "escalated_to": m["escalated_to"],
                    "owner": m["owner"],
                    "notify": m["notify"],
                    "notify_reason": masking.text(m["notify_reason"]) if m["notify_reason"] else None,
                    "decided_by": m["decided_by"],
                    "decided_at": _iso(m["decided_at"]),
                    "acked_by": m["acked_by"],
                    "acked_at": _iso(m["acked_at"]),
                    "resolved_by": m["resolved_by"],
                    "resolved_at": _iso(m["resolved_at"]),
                }
            names = [f"incident:{i}" for i in part]
            steps = select(audit).where(step, audit.c.subject.in_(names)).order_by(audit.c.seq)
            for e in conn.execute(steps):
                data = masking.entry_data(e.bot, json.loads(e.data))
                if isinstance(data, dict):
                    for k in INCIDENT_FREE_TEXT:
                        if isinstance(data.get(k), str):
                            data[k] = masking.text(data[k])
                timelines.setdefault(e.subject, []).append(
                    {
                        "seq": int(e.seq),
                        "at": e.at,
                        "actor": e.actor,
                        "role": e.role,
                        "action": e.action,
                        "outcome": e.outcome,
                        "data": data,
                        "evidence": json.loads(e.evidence or "[]"),
                        "hash": e.hash,
                    }
                )
    return [{**records[i], "timeline": timelines.get(f"incident:{i}", [])} for i in ids if i in records]


def _item_rows(store: Store, ids: Sequence[int], masking: Masking) -> Iterator[dict[str, Any]]:
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
        items.c.personal,
    )
    with store.read() as conn:
        for chunk in range(0, len(ids), 500):
            q = select(*cols).where(items.c.id.in_(ids[chunk : chunk + 500])).order_by(items.c.id)
            for r in conn.execute(q):
                d = dict(r._mapping)
                for k in ("created_at", "resolved_at", "closed_at"):
                    d[k] = d[k].isoformat() if d[k] else None
                personal = bool(d.pop("personal"))
                yield masking.item(d, personal=personal)  # by the data classes of the item's bot


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
  entries.csv    the same entries for a spreadsheet. Cells beginning with = + - @ (or their
                 full-width forms), TAB or CR are prefixed with an apostrophe so they can
                 never run as formulas.
  chain.jsonl    seq, prev_hash and hash of EVERY entry from the first to the last exported
                 entry, including entries the filters left out ("in_pack": false).
  items.jsonl    the items the entries are about (state at export; payload masked unless
                 the pack was exported unmasked).
  incidents.jsonl  the incidents of the pack's period (a step of their timeline in it; all
                 without a period; of the filtered bot), each its record at export and its
                 timeline: every incident.* audit entry (seq, time, who, action, outcome, data,
                 evidence, hash); each step's hash must equal its link in chain.jsonl when its
                 seq lies in the range. manifest.json "incidents" lists their ids (none:
                 an empty list, and neither incidents file).
  incidents.csv  one row per timeline step for a spreadsheet, neutralised like entries.csv.
  evidence/      the files the entries reference, each named by its own sha256.
  digests/       the log's signed digest files (seq range, last hash, previous digest's sha256;
                 written outside the database each period): verify-pack checks their
                 signatures (with the key when keyed) and their chain.

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
        record_unmask(store, user, "audit:export", reason or "", "evidence pack export")
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
        masking = Masking(unmask=unmask)  # one registry look-up per bot for the whole pack
        jsonl, csv_file = _HashingFile(work / "entries.jsonl"), _HashingFile(work / "entries.csv")
        csv_file.write(next(entries_csv_lines([])))  # BOM and header
        lo = hi = None
        first_prev = last_hash = None
        ev_hashes: set[str] = set()
        versions: set[str] = set()
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
            if row["ruleset_version"]:
                versions.add(str(row["ruleset_version"]))
            packed = pack_row(row, masking)
            jsonl.write((canonical(packed) + "\n").encode())
            csv_file.write(csv_line([csv_cell(packed.get(col)) for col in CSV_COLUMNS]))
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
        for item_row in _item_rows(store, item_ids, masking):
            items_file.write((canonical(item_row) + "\n").encode())
        files["items.jsonl"] = items_file.close()

        # change control: the approval of each rule-set version the entries ran under
        approvals = _approvals(store, sorted(versions))
        if approvals:  # a pack of runs under no approved version has no approvals file
            approvals_file = _HashingFile(work / "approvals.jsonl")
            for approval in approvals:
                approvals_file.write((canonical(approval) + "\n").encode())
            files["approvals.jsonl"] = approvals_file.close()
        approved_by = {a["version"]: a["approval"] for a in approvals}

        # incidents of the period with their timelines (and the evidence their steps captured)
        pack_incidents = _incidents(store, f, head_seq, masking)
        if pack_incidents:  # a period without incidents has no incidents files (the manifest says so)
            incidents_file = _HashingFile(work / "incidents.jsonl")
            for incident in pack_incidents:
                incidents_file.write((canonical(incident) + "\n").encode())
                for step in incident["timeline"]:
                    ev_hashes.update(step["evidence"])
            files["incidents.jsonl"] = incidents_file.close()
            incidents_csv = _HashingFile(work / "incidents.csv")
            for line in incidents_csv_lines(pack_incidents):
                incidents_csv.write(line)
            files["incidents.csv"] = incidents_csv.close()
        rule_version_approvals = {v: approved_by.get(v) for v in sorted(versions)}

        evidence_list = sorted(ev_hashes)
        ev_meta = _evidence_meta(store, evidence_list)
        for sha in evidence_list:
            check_evidence(store, sha)
            files[f"evidence/{sha}"] = sha  # content-addressed: its name is its sha256

        digest_root = store.settings.digest_dir
        digest_list = [
            (f"digests/{p.relative_to(digest_root).as_posix()}", p) for p in digest_files(digest_root)
        ]
        for name, path in digest_list:
            files[name] = file_sha256(path)

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
            "engagement": store.engagement,  # whose store, chain and evidence these are
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
            "rule_versions": rule_version_approvals,  # version -> its approval's id (None: not approved)
            "incidents": {
                "ids": [i["id"] for i in pack_incidents],
                "steps": sum(len(i["timeline"]) for i in pack_incidents),
            },
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
            for name in (
                "entries.jsonl",
                "entries.csv",
                "items.jsonl",
                "chain.jsonl",
                "approvals.jsonl",
                "incidents.jsonl",
                "incidents.csv",
            ):
                if name in files:
                    zf.write(work / name, name)
            zf.writestr("README.txt", readme)
            for sha in evidence_list:
                zf.write(evidence_path(store, sha), f"evidence/{sha}")
            for name, path in digest_list:
                zf.write(path, name)
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
