"""A real payroll run (Prefect flow over fixtures/payroll) exported as an evidence pack: the
pack verifies and, masked, holds none of the employees' bank accounts or national ids."""

from __future__ import annotations

import csv
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from backoffice import audit
from backoffice.audit.pack import PackFilters, export_pack, verify_pack
from backoffice.store import Store
from backoffice.users import add_user

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "payroll"


@pytest.fixture
def payroll_run(prefect_harness: None, bo_store: Store, tmp_path: Path) -> Path:
    if not (FIXTURE / "register_2024_01.xlsx").exists():
        pytest.skip("fixtures/payroll is not in this checkout")
    from flows.payroll_reconciliation import payroll_reconciliation

    d = tmp_path / "payroll"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    payroll_reconciliation(
        register=str(d / "register_2024_01.xlsx"),
        hr=str(d / "hr_master.csv"),
        timesheets=str(d / "timesheets.csv"),
        bank_file=str(d / "bank_payments.xml"),
        statement=str(d / "statement.xml"),
        gl=str(d / "gl_totals.csv"),
        previous=str(d / "previous_register_2023_12.xlsx"),
        vendors=str(d / "vendors.csv"),
        out=str(tmp_path / "report.xlsx"),
    )
    add_user(bo_store, "compliance", "compliance")
    return d


def _pii(d: Path) -> dict[str, set[str]]:
    with open(d / "hr_master.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "bank_account": {r["bank_account"] for r in rows if r["bank_account"]},
        "national_id": {r["national_id"] for r in rows if r["national_id"]},
    }


def test_payroll_pack_is_masked_and_verifies(payroll_run: Path, bo_store: Store, tmp_path: Path) -> None:
    secrets_of = _pii(payroll_run)
    masked_pack, clear_pack = tmp_path / "masked.zip", tmp_path / "clear.zip"
    flt = PackFilters(bot="payroll-reconciliation")
    result = export_pack(bo_store, masked_pack, user="compliance", filters=flt)
    assert result.entries > 300  # one entry per employee at least
    report = verify_pack(masked_pack)
    assert report.ok, report.problems[:3]
    export_pack(
        bo_store, clear_pack, user="compliance", filters=flt, unmask=True, reason="payroll audit 2024-01"
    )
    assert verify_pack(clear_pack).ok and verify_pack(clear_pack).recomputed == result.entries

    def text(pack: Path) -> str:
        with zipfile.ZipFile(pack) as zf:
            return "".join(zf.read(n).decode() for n in ("entries.jsonl", "entries.csv", "items.jsonl"))

    masked, clear = text(masked_pack), text(clear_pack)
    for kind, values in secrets_of.items():
        leaked = sorted(v for v in values if v in masked)
        assert not leaked, f"{kind} in the masked pack: {leaked[:3]}"
    # the clear pack shows that the run did carry bank accounts (so the check above means something)
    assert any(v in clear for v in secrets_of["bank_account"])
    manifest = json.loads(zipfile.ZipFile(masked_pack).read("manifest.json"))
    assert manifest["population"]["per_bot"]["payroll-reconciliation"]["items"] > 300
    # pay figures in violations (expected/actual and the amounts in the message) are masked;
    # a violation's field is the payload path of the value (employee.net)
    pay_fields = {f"employee.{name}" for name in ("gross", "net", "rate", "base_pay", "overtime_pay")}
    checked = 0
    with zipfile.ZipFile(masked_pack) as zf:
        for line in zf.read("entries.jsonl").splitlines():
            for v in json.loads(json.loads(line)["data"]).get("violations", []):
                if v.get("field") in pay_fields:
                    checked += 1
                    assert v["expected"] in (None, "•••.••") and v["actual"] in (None, "•••.••"), v
                    assert not re.search(r"\d\.\d\d\b", v["message"]), v["message"]
    assert checked > 0
    assert audit.verify(bo_store).ok
