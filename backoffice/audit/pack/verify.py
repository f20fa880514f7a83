"""Checking an evidence pack offline: file hashes, the manifest, hash links, entry hashes,
the CSV and the control totals, without a store; every problem names the file (and line)."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from backoffice.audit.chain import ROW_FIELDS, entry_hash
from backoffice.audit.digests import check_digest_files
from backoffice.audit.pack.format import (
    CSV_COLUMNS,
    FORMAT,
    csv_cell,
    csv_line,
    entries_csv_lines,
    incidents_csv_lines,
)
from backoffice.audit.pack.totals import Totals
from backoffice.errors import InputError, IntegrityError
from backoffice.jsonutil import canonical

__all__ = ["PackReport", "raise_for", "verify_pack"]


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
            missing = [k for k in ROW_FIELDS if k not in row]
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
        csv_sha.update(csv_line([csv_cell(row.get(col)) for col in CSV_COLUMNS]))
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

    # the links of the covered range (their hashes kept to check the incidents' steps against)
    link_hash: dict[int, Any] = {}
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
        link_hash[int(lseq)] = prev
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
    _verify_incidents(
        zf, report, files, manifest, changed | unreadable, link_hash if chain_ok and cross else {}, by_seq
    )
    if manifest.get("sample") is None and manifest.get("population") != manifest.get("exported"):
        report.fail("manifest.json", "no sample was drawn, yet population and exported totals differ")
    if masked_rows:
        report.notes.append(
            f"{masked_rows} masked entries: their links were checked, their hashes cannot be recomputed"
        )
    _verify_digests(
        zf, report, sorted(n for n in files if n.startswith("digests/") and n not in changed), alg, key
    )


def _verify_incidents(
    zf: zipfile.ZipFile,
    report: PackReport,
    files: dict[str, Any],
    manifest: dict[str, Any],
    changed: set[str],
    link_hash: dict[int, Any],
    by_seq: dict[int, tuple[Any, Any, int]],
) -> None:
    """``incidents.jsonl`` against the manifest's list, each step's hash against its link in
    ``chain.jsonl`` (when its seq lies in the range) and its entry in ``entries.jsonl`` (when
    exported), its evidence in the pack; ``incidents.csv`` rebuilt from it. A pack of a period
    without incidents has neither file (the manifest lists no ids), nor has one written before
    incidents were packed (no ``incidents`` in its manifest)."""
    listed = manifest.get("incidents")
    name = "incidents.jsonl"
    if name not in files:
        if isinstance(listed, dict) and listed.get("ids"):
            report.fail("manifest.json", "lists incidents but the pack has no incidents.jsonl")
        if "incidents.csv" in files:
            report.fail("incidents.csv", "in the pack without incidents.jsonl")
        return
    if "incidents.csv" not in files:
        report.fail("incidents.csv", "missing: the pack has incidents.jsonl")
    if name in changed:
        return
    rows: list[dict[str, Any]] = []
    for row in _jsonl(zf, name, report):
        n = row.pop("_line")
        rows.append(row)
        timeline = row.get("timeline")
        if not isinstance(row.get("id"), int) or not isinstance(timeline, list):
            report.fail(name, f"line {n} is not an incident with a timeline", n)
            continue
        for step in timeline:
            seq = step.get("seq") if isinstance(step, dict) else None
            if not isinstance(seq, int):
                report.fail(name, f"line {n}: incident {row['id']} has a step without a seq", n)
                continue
            if seq in link_hash and link_hash[seq] != step.get("hash"):
                report.fail(
                    name,
                    f"line {n}: incident {row['id']}, step {seq} differs from its link in chain.jsonl",
                    n,
                )
            if seq in by_seq and by_seq[seq][0] != step.get("hash"):
                report.fail(
                    name,
                    f"line {n}: incident {row['id']}, step {seq} differs from entry {seq} in entries.jsonl",
                    n,
                )
            for sha in step.get("evidence") or []:
                if f"evidence/{sha}" not in files:
                    report.fail(
                        name, f"line {n}: incident {row['id']}, step {seq}: evidence {sha} not in the pack", n
                    )
    ids = [r.get("id") for r in rows]
    want = listed.get("ids") if isinstance(listed, dict) else None
    if ids != want:
        report.fail("manifest.json", f"lists incidents {want}, incidents.jsonl holds {ids}")
    steps = sum(len(r["timeline"]) for r in rows if isinstance(r.get("timeline"), list))
    if isinstance(listed, dict) and listed.get("steps") != steps:
        report.fail(
            "manifest.json", f"counts {listed.get('steps')} incident steps, incidents.jsonl holds {steps}"
        )
    if "incidents.csv" in files and "incidents.csv" not in changed:
        sha = hashlib.sha256()
        for line in incidents_csv_lines(rows):
            sha.update(line)
        if sha.hexdigest() != files["incidents.csv"]:
            report.fail("incidents.csv", "does not match incidents.jsonl")


def _verify_digests(
    zf: zipfile.ZipFile, report: PackReport, names: list[str], alg: Any, key: bytes | None
) -> None:
    """The digest files in the pack: signatures (when they can be recomputed) and their chain."""
    if not names:
        return
    if alg == "hmac-sha256" and key is None:
        report.notes.append(f"{len(names)} digest files: signed with the audit key, not rechecked without it")
        return
    try:
        check_digest_files(((n.removeprefix("digests/"), zf.read(n)) for n in names), key)
    except IntegrityError as exc:
        report.fail(f"digests/{exc.file}" if exc.file else names[0], str(exc))


def raise_for(report: PackReport) -> None:
    """IntegrityError naming the first bad file, if any."""
    if not report.ok:
        first = report.problems[0]
        raise IntegrityError(f"{first['file']}: {first['message']}", file=first["file"])
