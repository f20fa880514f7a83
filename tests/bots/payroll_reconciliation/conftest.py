"""Shared set-up for the payroll bot tests: the committed fixture copied into tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "payroll"
FILES = {
    "register": "register_2024_01.xlsx",
    "hr": "hr_master.csv",
    "timesheets": "timesheets.csv",
    "bank_file": "bank_payments.xml",
    "statement": "statement.xml",
    "gl": "gl_totals.csv",
    "previous": "previous_register_2023_12.xlsx",
    "vendors": "vendors.csv",
}


@pytest.fixture
def payroll_dir(tmp_path: Path) -> Path:
    d = tmp_path / "payroll"
    shutil.copytree(FIXTURE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return d


@pytest.fixture
def payroll_inputs(payroll_dir: Path, tmp_path: Path) -> dict[str, Any]:
    inputs: dict[str, Any] = {k: str(payroll_dir / v) for k, v in FILES.items()}
    inputs["out"] = str(tmp_path / "out" / "reconciliation.xlsx")
    return inputs


@pytest.fixture
def answer_key() -> dict[str, Any]:
    return json.loads((FIXTURE / "answer_key.json").read_text())
