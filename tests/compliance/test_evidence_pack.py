from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.audit.pack import PackFilters, export_pack, verify_pack
from backoffice.audit.pack.format import csv_cell
from backoffice.cli import main
from backoffice.errors import InputError, PermissionDenied
from backoffice.jsonutil import canonical
from tests.compliance.conftest import IBAN_INVOICE, NATIONAL_ID, Scenario

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
MEMBERS = {"manifest.json", "entries.jsonl", "entries.csv", "items.jsonl", "chain.jsonl", "README.txt"}


def _members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewrite(pack: Path, out: Path, name: str, content: bytes) -> None:
    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == name else src.read(info))


def _reseal(files: dict[str, bytes], out: Path) -> Path:
    """What a forger without the audit key can do: recompute every sha256 in the manifest."""
    manifest = json.loads(files["manifest.json"])
    manifest.pop("manifest_sha256")
    manifest["files"] = {n: hashlib.sha256(c).hexdigest() for n, c in files.items() if n != "manifest.json"}
    manifest["manifest_sha256"] = hashlib.sha256(canonical(manifest).encode()).hexdigest()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for n, c in files.items():
            if n != "manifest.json":
                zf.writestr(n, c)
    return out


def test_pack_round_trip(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario.store
    head = audit.verify(s)
    pack = tmp_path / "pack.zip"
    result = export_pack(s, pack, user="compliance")
    assert result.entries == result.population == head.head_seq
    files = _members(pack)
    assert set(files) >= MEMBERS
    assert f"evidence/{scenario.evidence}" in files
    manifest = json.loads(files["manifest.json"])
    assert manifest["chain"]["head_seq"] == head.head_seq and manifest["chain"]["head_hash"] == head.head_hash
    assert manifest["chain"]["first_seq"] == 1 and manifest["chain"]["last_seq"] == head.head_seq
    inv = manifest["population"]["per_bot"]["test-invoices"]
    assert inv["items"] == 3 and inv["amount_total"] == {"EUR": "2300.00"}
    assert inv["by_action"]["item.approved"] == 3
    assert manifest["population"]["per_bot"]["test-payroll"]["amount_total"] == {"EUR": "3456.78"}
    assert set(manifest["files"]) == set(files) - {"manifest.json"}

    report = verify_pack(pack)
    assert report.ok, report.problems
    assert report.entries == head.head_seq and report.links == head.head_seq
    # entries with personal data are masked, so only the others were recomputed
    masked = [json.loads(line) for line in files["entries.jsonl"].splitlines() if json.loads(line)["masked"]]
    assert masked and report.recomputed == report.entries - len(masked)
    assert b"3456.78" not in files["items.jsonl"]  # an employee's pay: masked
    assert any("amounts are masked for test-payroll" in note for note in report.notes)
    for name in ("entries.jsonl", "entries.csv", "items.jsonl"):
        assert IBAN_INVOICE.encode() not in files[name]
        assert NATIONAL_ID.encode() not in files[name]
        assert b"61481.40" not in files[name]

    # the export is audited with who, filters and the manifest hash that ties the pack to the log
    last = audit.entries(s, action="audit.exported")[-1]
    assert last["actor"] == "compliance" and last["data"]["manifest_sha256"] == manifest["manifest_sha256"]
    assert last["data"]["pack_sha256"] == hashlib.sha256(pack.read_bytes()).hexdigest() == result.pack_sha256
    assert audit.verify(s).ok


def test_unmasked_pack_recomputes_every_hash_and_is_audited(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario.store
    pack = tmp_path / "clear.zip"
    with pytest.raises(InputError):
        export_pack(s, pack, user="compliance", unmask=True)
    export_pack(s, pack, user="compliance", unmask=True, reason="external audit 2024, ticket AUD-7")
    report = verify_pack(pack)
    assert report.ok and report.recomputed == report.entries
    assert IBAN_INVOICE.encode() in _members(pack)["entries.jsonl"]
    unmask = audit.entries(s, action="pii.unmasked")[-1]
    assert unmask["actor"] == "compliance" and "AUD-7" in unmask["data"]["reason"]


def test_filtered_pack_keeps_the_chain_checkable(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario.store
    pack = tmp_path / "item.zip"
    result = export_pack(s, pack, user="compliance", filters=PackFilters(item=str(scenario.invoice_c)))
    files = _members(pack)
    entries = [json.loads(x) for x in files["entries.jsonl"].splitlines()]
    assert {e["subject"] for e in entries} == {f"item:{scenario.invoice_c}"}
    links = [json.loads(x) for x in files["chain.jsonl"].splitlines()]
    assert [x["seq"] for x in links] == list(range(result.first_seq, result.last_seq + 1))
    assert sum(x["in_pack"] for x in links) == len(entries) < len(links)  # gaps are covered by links
    assert verify_pack(pack).ok
    # a forger drops a link between two exported entries and re-seals every sha256: the chain breaks
    lines = files["chain.jsonl"].splitlines(keepends=True)
    gap = next(i for i, x in enumerate(lines) if not json.loads(x)["in_pack"])
    forged = dict(files, **{"chain.jsonl": b"".join(lines[:gap] + lines[gap + 1 :])})
    report = verify_pack(_reseal(forged, tmp_path / "forged.zip"))
    assert not report.ok and report.bad_files == ["chain.jsonl"]
    assert "expected entry" in report.problems[0]["message"]
    # so does an edited entry whose link is rewritten to match
    entries_lines = files["entries.jsonl"].splitlines(keepends=True)
    n = next(i for i, line in enumerate(entries_lines) if not json.loads(line)["masked"])  # recomputable
    row = json.loads(entries_lines[n])
    row["actor"] = "someone-else"
    edited = [*entries_lines[:n], (json.dumps(row) + "\n").encode(), *entries_lines[n + 1 :]]
    forged = dict(files, **{"entries.jsonl": b"".join(edited)})
    report = verify_pack(_reseal(forged, tmp_path / "forged2.zip"))
    assert not report.ok and "was altered" in report.problems[0]["message"]


def test_seeded_sample_is_repeatable(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario.store
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    export_pack(s, a, user="compliance", filters=PackFilters(bot="test-invoices", sample=4, seed=42))
    export_pack(s, b, user="compliance", filters=PackFilters(bot="test-invoices", sample=4, seed=42))
    ea, eb = _members(a)["entries.jsonl"], _members(b)["entries.jsonl"]
    assert ea == eb and len(ea.splitlines()) == 4
    manifest = json.loads(_members(a)["manifest.json"])
    assert manifest["sample"] == {"size": 4, "seed": 42, "drawn": 4}
    assert manifest["population"]["entries"] > 4 and manifest["exported"]["entries"] == 4
    assert verify_pack(a).ok
    with pytest.raises(InputError):
        export_pack(s, a, user="compliance", filters=PackFilters(seed=1))


def test_only_compliance_exports(scenario: Scenario, tmp_path: Path) -> None:
    for user in ("qa", "admin", "approver", "associate"):
        with pytest.raises(PermissionDenied):
            export_pack(scenario.store, tmp_path / "x.zip", user=user)
    denied = audit.entries(scenario.store, action="permission.denied")
    assert {e["actor"] for e in denied} >= {"qa", "admin", "approver", "associate"}
    assert not (tmp_path / "x.zip").exists()


def test_tampering_one_byte_in_any_file_names_that_file(scenario: Scenario, tmp_path: Path) -> None:
    pack = tmp_path / "pack.zip"
    export_pack(scenario.store, pack, user="compliance")
    files = _members(pack)
    assert len(files) >= 8  # six fixed files and two evidence files
    for name, content in files.items():
        for pos in (0, len(content) // 2, len(content) - 2):
            changed = bytearray(content)
            changed[pos] = (changed[pos] + 1) % 256
            bad = tmp_path / "bad.zip"
            _rewrite(pack, bad, name, bytes(changed))
            report = verify_pack(bad)
            assert not report.ok, (name, pos)
            assert report.bad_files == [name], (name, pos, report.problems)
    # a removed and an added file are named too
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(pack) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            if info.filename != "entries.csv":
                dst.writestr(info.filename, src.read(info))
        dst.writestr("extra.txt", b"hello")
    assert verify_pack(bad).bad_files == ["entries.csv", "extra.txt"]


def test_a_changed_byte_in_the_zip_itself_fails(scenario: Scenario, tmp_path: Path) -> None:
    pack = tmp_path / "pack.zip"
    export_pack(scenario.store, pack, user="compliance")
    raw = bytearray(pack.read_bytes())
    with zipfile.ZipFile(pack) as zf:
        info = zf.getinfo("entries.jsonl")
    raw[info.header_offset + 30 + len(info.filename) + 5] ^= 0x01  # inside the compressed data
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(raw))
    report = verify_pack(bad)
    assert not report.ok and "entries.jsonl" in report.bad_files


def test_cli_export_and_verify_pack(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "cli.zip"
    assert main(["audit", "export", "--out", str(pack), "--bot", "test-invoices", "-u", "compliance"]) == 0
    assert main(["audit", "verify-pack", str(pack)]) == 0
    assert "pack intact" in capsys.readouterr().out
    assert main(["audit", "export", "--out", str(pack), "-u", "qa"]) == 3
    bad = tmp_path / "bad.zip"
    files = _members(pack)
    _rewrite(pack, bad, "README.txt", files["README.txt"].replace(b"EVIDENCE", b"EVIDENCF"))
    capsys.readouterr()
    assert main(["audit", "verify-pack", str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["bad_files"] == ["README.txt"]
    assert main(["audit", "verify-pack", str(tmp_path / "missing.zip")]) == 1


def test_csv_injection_is_neutralised(bo_store, bo_users, tmp_path: Path) -> None:
    payloads = [
        "=1+1",
        "+SUM(A1:A9)",
        "-2+3",
        "@SUM(1)",
        "\t=1",
        "\r=1",
        '=HYPERLINK("http://x","y")',
        "\uff1dcmd|' /C calc'!A0",  # full-width ＝, which spreadsheets also run
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(1)",
    ]
    for p in payloads:
        assert csv_cell(p) == "'" + p
    assert csv_cell("plain") == "plain" and csv_cell(None) == "" and csv_cell(12) == "12"
    with bo_store.write() as conn:
        for i, p in enumerate(payloads):
            audit.append(
                conn,
                bo_store,
                AuditEntry(
                    actor=p,
                    action=p,
                    subject=p,
                    bot=p,
                    role=p,
                    outcome=p,
                    ruleset_version=p,
                    data={"i": i, "text": "line\u2028separator\x85next\x1cfile"},
                ),
            )
    pack = tmp_path / "inj.zip"
    export_pack(bo_store, pack, user="compliance")
    text = _members(pack)["entries.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    hostile = [r for r in rows if r["data"].startswith('{"i"')]
    assert len(hostile) == len(payloads)
    for row in rows:
        for col, cell in row.items():
            assert not cell.startswith(FORMULA_STARTS), (col, cell)
    for row, p in zip(hostile, payloads, strict=True):
        assert row["actor"] == "'" + p and row["subject"] == "'" + p and row["action"] == "'" + p
    assert verify_pack(pack).ok  # the JSONL keeps the exact values, so the hashes still check


def test_keyed_log_pack_needs_the_key_to_recompute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.testing import TEST_USERS, open_store
    from backoffice.users import add_user
    from tests.compliance.conftest import build_scenario

    key = "k3y-for-the-audit-chain-0123456789"
    store = open_store(tmp_path / "home", monkeypatch, audit_key=key)
    for name, role in TEST_USERS.items():
        add_user(store, name, role, password=f"{name}-password")
    build_scenario(store)
    pack = tmp_path / "keyed.zip"
    export_pack(store, pack, user="compliance")
    without = verify_pack(pack)
    assert without.ok and without.recomputed == 0 and any("HMAC-keyed" in n for n in without.notes)
    with_key = verify_pack(pack, key=key.encode())
    assert with_key.ok and with_key.recomputed > 0
    wrong = verify_pack(pack, key=b"not-the-key")
    assert not wrong.ok and wrong.bad_files[0] == "manifest.json"
    monkeypatch.setenv("AUDITOR_KEY", key)
    assert main(["audit", "verify-pack", str(pack), "--key-env", "AUDITOR_KEY"]) == 0
    monkeypatch.setenv("AUDITOR_KEY", "wrong")
    assert main(["audit", "verify-pack", str(pack), "--key-env", "AUDITOR_KEY"]) == 1
