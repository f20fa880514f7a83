"""Incidents in evidence packs (issue 14.5): the incidents of the pack's period, each with its
timeline (its ``incident.*`` audit entries), as ``incidents.jsonl`` and a formula-safe
``incidents.csv``, listed in the manifest with their sha256 and checked offline by verify-pack
(each step's hash against its link in ``chain.jsonl``, the CSV against the JSONL)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from backoffice import incidents as inc
from backoffice.audit.pack import PackFilters, export_pack, verify_pack
from backoffice.errors import TargetDown
from backoffice.runner import run_bot
from backoffice.store import Store, utcnow
from tests.compliance.test_evidence_pack import _reseal
from tests.core.test_incidents import FailBot

IBAN = "DE89370400440532013000"  # in the defect's error text: masked when the incident opens
FORMULA = '=HYPERLINK("http://evil.example","notify")'


def _members(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.fixture
def two(bo_store: Store, bo_users):
    """Incident A (a bot defect, acknowledged and resolved), then, after ``between``, incident B
    (the target down), whose notification decision carries a formula."""
    with pytest.raises(KeyError):
        run_bot(FailBot(), {"mode": "defect"}, store=bo_store)
    (a,) = inc.list_incidents(bo_store, "team_lead")
    inc.acknowledge(bo_store, a.id, "team_lead", note="looking")
    inc.resolve(bo_store, a.id, "expert", note="fixed in 1.2")
    between = utcnow()
    with pytest.raises(TargetDown):
        run_bot(FailBot(), {"mode": "down"}, store=bo_store)
    b = next(i for i in inc.list_incidents(bo_store, "team_lead") if i.id != a.id)
    inc.decide(bo_store, b.id, "approver", notify=False, reason=FORMULA)
    return bo_store, a, b, between


def test_the_pack_holds_each_incident_with_its_timeline(two, tmp_path: Path) -> None:
    store, a, b, _ = two
    pack = tmp_path / "pack.zip"
    export_pack(store, pack, user="compliance")
    report = verify_pack(pack)
    assert report.ok, report.problems
    files = _members(pack)
    manifest = json.loads(files["manifest.json"])
    assert {"incidents.jsonl", "incidents.csv"} <= set(manifest["files"])
    rows = _jsonl(files["incidents.jsonl"])
    assert [r["id"] for r in rows] == [a.id, b.id] == manifest["incidents"]["ids"]
    first, second = rows
    assert (
        first["kind"] == "bot-defect" and first["status"] == "resolved" and first["resolved_by"] == "expert"
    )
    assert [s["action"] for s in first["timeline"]] == [
        "incident.opened",
        "incident.escalated",
        "incident.acknowledged",
        "incident.resolved",
    ]
    assert first["timeline"][-1]["data"]["note"] == "fixed in 1.2"
    assert second["kind"] == "target-down" and second["notify"] == "no"
    assert [s["action"] for s in second["timeline"]][-1] == "incident.decided"
    steps = len(first["timeline"]) + len(second["timeline"])
    assert manifest["incidents"]["steps"] == steps
    # the steps are the audit log's entries: the same seq and hash as in entries.jsonl and chain.jsonl
    entries = {e["seq"]: e for e in _jsonl(files["entries.jsonl"])}
    for r in rows:
        for s in r["timeline"]:
            assert (
                entries[s["seq"]]["hash"] == s["hash"]
                and entries[s["seq"]]["subject"] == f"incident:{r['id']}"
            )
    # masked as the incident stored it: the account in the defect's error text is not in the pack
    assert IBAN not in files["incidents.jsonl"].decode() + files["incidents.csv"].decode("utf-8-sig")

    table = list(csv.DictReader(io.StringIO(files["incidents.csv"].decode("utf-8-sig"))))
    assert len(table) == steps
    assert [(t["incident_id"], t["step_action"]) for t in table][:2] == [
        (str(a.id), "incident.opened"),
        (str(a.id), "incident.escalated"),
    ]
    decided = next(t for t in table if t["step_action"] == "incident.decided")
    assert decided["notify_reason"] == "'" + FORMULA  # neutralised: no spreadsheet runs it
    assert json.loads(decided["step_data"])["reason"] == FORMULA
    for t in table:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in t.values())


def test_only_the_incidents_of_the_packs_period_and_bot(two, tmp_path: Path) -> None:
    store, _a, b, between = two
    later = tmp_path / "later.zip"
    export_pack(store, later, user="compliance", filters=PackFilters(since=between))
    assert verify_pack(later).ok
    files = _members(later)
    assert [r["id"] for r in _jsonl(files["incidents.jsonl"])] == [b.id]
    assert json.loads(files["manifest.json"])["incidents"]["ids"] == [b.id]

    other = tmp_path / "other.zip"
    export_pack(store, other, user="compliance", filters=PackFilters(bot="invoice-matching"))
    assert verify_pack(other).ok
    files = _members(other)
    assert json.loads(files["manifest.json"])["incidents"] == {"ids": [], "steps": 0}
    assert "incidents.jsonl" not in files and "incidents.csv" not in files  # none in the period


def test_verify_pack_names_a_changed_incident_even_when_the_manifest_is_resealed(two, tmp_path: Path) -> None:
    store, a, _b, _ = two
    pack = tmp_path / "pack.zip"
    export_pack(store, pack, user="compliance")
    files = _members(pack)

    # a changed byte without resealing: the sha256 in the manifest names the file
    bad = tmp_path / "bad.zip"
    _reseal_none = dict(files)
    _reseal_none["incidents.csv"] = files["incidents.csv"].replace(b"fixed in 1.2", b"fixed in 1.3")
    with zipfile.ZipFile(bad, "w") as zf:
        for n, c in _reseal_none.items():
            zf.writestr(n, c)
    assert verify_pack(bad).bad_files == ["incidents.csv"]

    # a forger rewrites the resolution note and recomputes every sha256 in the manifest: the CSV no
    # longer matches the JSONL, or (both rewritten) the step's hash no longer is its link in the chain
    rows = _jsonl(files["incidents.jsonl"])
    rows[0]["timeline"][-1]["hash"] = "0" * 64
    forged = {**files, "incidents.jsonl": "".join(json.dumps(r) + "\n" for r in rows).encode()}
    report = verify_pack(_reseal(forged, tmp_path / "forged.zip"))
    assert not report.ok and "incidents.jsonl" in report.bad_files
    assert any("differs from its link in chain.jsonl" in p["message"] for p in report.problems)

    only_csv = {**files, "incidents.csv": _reseal_none["incidents.csv"]}
    report = verify_pack(_reseal(only_csv, tmp_path / "csv.zip"))
    assert (
        report.bad_files == ["incidents.csv"]
        and "does not match incidents.jsonl" in report.problems[0]["message"]
    )

    # an incident left out of the file: the manifest's list names it
    dropped = {**files, "incidents.jsonl": files["incidents.jsonl"].split(b"\n", 1)[1]}
    report = verify_pack(_reseal(dropped, tmp_path / "dropped.zip"))
    assert not report.ok and any(f"lists incidents [{a.id}," in p["message"] for p in report.problems)

    # the files removed altogether while the manifest still lists incidents
    gone = {n: c for n, c in files.items() if not n.startswith("incidents.")}
    report = verify_pack(_reseal(gone, tmp_path / "gone.zip"))
    assert any("lists incidents but the pack has no incidents.jsonl" in p["message"] for p in report.problems)
