"""The payroll flow under Prefect and `backoffice run payroll-reconciliation` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backoffice.cli import main
from backoffice.store import Store
from flows.payroll_reconciliation import payroll_reconciliation

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "payroll"


@pytest.fixture
def payroll(tmp_path: Path) -> Path:
    d = tmp_path / "payroll"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return d


def cli_args(d: Path, out: Path) -> list[str]:
    return [
        "run",
        "payroll-reconciliation",
        "--register",
        str(d / "register_2024_01.xlsx"),
        "--hr",
        str(d / "hr_master.csv"),
        "--timesheets",
        str(d / "timesheets.csv"),
        "--bank-file",
        str(d / "bank_payments.xml"),
        "--statement",
        str(d / "statement.xml"),
        "--gl",
        str(d / "gl_totals.csv"),
        "--previous",
        str(d / "previous_register_2023_12.xlsx"),
        "--vendors",
        str(d / "vendors.csv"),
        "--out",
        str(out),
    ]


def test_flow_run(prefect_harness: None, bo_store: Store, payroll: Path, tmp_path: Path) -> None:
    answer = json.loads((payroll / "answer_key.json").read_text())
    result = payroll_reconciliation(
        register=str(payroll / "register_2024_01.xlsx"),
        hr=str(payroll / "hr_master.csv"),
        timesheets=str(payroll / "timesheets.csv"),
        bank_file=str(payroll / "bank_payments.csv"),
        gl=str(payroll / "gl_totals.csv"),
        out=str(tmp_path / "flow.xlsx"),
        batch_size=100,  # several process-batch tasks
    )
    flagged = {
        e
        for e, codes in answer["expected_codes"].items()
        if not set(codes)
        <= {
            "PAY-STMT-MISSING",
            "PAY-STMT-AMOUNT",
            "PAY-HEADCOUNT",
            "PAY-RAISE-UNAPPROVED",
            "PAY-GHOST-VENDOR",
        }
    }
    # without statement, previous register and vendors those checks do not run
    assert result["queued"] == len(flagged)
    assert result["employees"] == answer["employees_in_register"]
    assert Path(result["report"]).is_file()
    summary = [r for r in load_workbook(result["report"])["Summary"].iter_rows(values_only=True) if r[0] == 8]
    assert summary[0][4] == "NOT RUN (input not given)"


def test_cli_end_to_end(
    prefect_harness: None, bo_store: Store, bo_users: dict[str, str], payroll: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "reports" / "payroll-2024-01.xlsx"
    assert main(cli_args(payroll, out)) == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if "reconciled" in line)
    counts = next(line for line in printed.splitlines() if "328" in line)
    # items | reconciled | queued | system | already done
    assert [c for c in header.replace("│", " ").split() if c in ("items", "reconciled", "queued")] == [
        "items",
        "reconciled",
        "queued",
    ]
    assert counts.replace("│", " ").split()[:5] == ["328", "311", "17", "0", "0"]
    flat = " ".join(printed.split())  # rich wraps long lines
    assert "employees: 318" in flat and "input errors: 0" in flat
    assert "report:" in flat and str(out.name) in flat
    assert out.is_file()
    # a rerun with --json: same inputs, nothing recorded twice
    assert main([*cli_args(payroll, out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["done"] == again["queued"] == 0 and again["skipped"] == again["total"] == 328
    queue = json.loads(
        _run_json(
            ["queue", "list", "--json", "--bot", "payroll-reconciliation", "--user", "associate"], capsys
        )
    )
    assert len(queue) == 17 and all(item["bot"] == "payroll-reconciliation" for item in queue)
    codes = {v["code"] for item in queue for v in item["violations"]}
    assert {"PAY-GHOST", "PAY-AFTER-TERM", "PAY-GROSS-NET", "PAY-OVERTIME", "PAY-BANK-AMOUNT"} <= codes


def _run_json(args: list[str], capsys) -> str:
    assert main(args) == 0
    return capsys.readouterr().out


def test_cli_bad_input_is_one_clear_line(
    prefect_harness: None, bo_store: Store, payroll: Path, tmp_path: Path, capsys
) -> None:
    wb = load_workbook(payroll / "register_2024_01.xlsx")
    wb.active["N1"] = "gross_total_eur"
    wb.save(payroll / "register_2024_01.xlsx")
    out = tmp_path / "r.xlsx"
    assert main(cli_args(payroll, out)) == 1
    captured = capsys.readouterr()
    assert (
        "bad input:" in captured.err
        and "column 'gross'" in captured.err
        and "sheet 'Register'" in captured.err
    )
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


def test_cli_usage_errors(
    prefect_harness: None, bo_store: Store, payroll: Path, tmp_path: Path, capsys
) -> None:
    args = cli_args(payroll, tmp_path / "r.csv")
    assert main(args) == 2  # --out must be .xlsx
    assert "--out: must name an .xlsx file" in capsys.readouterr().err
    missing = [a for a in cli_args(payroll, tmp_path / "r.xlsx") if a != "--timesheets"]
    missing.remove(str(payroll / "timesheets.csv"))
    assert main(missing) == 2
