"""The payroll bot on the committed fixture: every planted break flagged with its code, nothing else."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from backoffice.audit import verify
from backoffice.pii import MASK
from backoffice.queue import Queue
from backoffice.runner import run_bot
from backoffice.schema import audit as audit_table
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from bots.payroll_reconciliation.rules import CODE_CHECK, RULES
from fixtures.payroll.generate import generate
from tests.bots.payroll_reconciliation.helpers import BOT, codes_by_subject, status_counts

IBAN = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")


def test_every_planted_case_is_flagged_with_its_code_and_nothing_else(
    bo_store: Store, payroll_inputs: dict[str, Any], answer_key: dict[str, Any]
) -> None:
    summary = run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    expected = {eid: set(codes) for eid, codes in answer_key["expected_codes"].items()}
    assert codes_by_subject(bo_store) == expected
    assert summary.queued == len(expected) and summary.system == 0
    employees = answer_key["employees_in_register"]
    # 6 departments + bank file + statement + GL + headcount controls
    assert summary.total == employees + 6 + 4
    assert summary.done == summary.total - len(expected)
    assert summary.extra["employees"] == employees and summary.extra["input_errors"] == 0
    planted = {c["case"] for c in answer_key["planted"]}
    for needle in ("ghost", "after termination", "gross-to-net", "without a recorded approval", "overtime",
                   "bank file"):  # fmt: skip
        assert any(needle in case for case in planted), needle


def test_every_rule_code_is_documented_and_mapped_to_a_check() -> None:
    readme = (Path(__file__).resolve().parents[3] / "bots/payroll_reconciliation/README.md").read_text()
    for code in RULES.codes():
        assert code in CODE_CHECK, code
        assert f"`{code}`" in readme, code


def test_clean_employees_are_recorded_as_reconciled_in_the_audit_log(
    bo_store: Store, payroll_inputs: dict[str, Any], answer_key: dict[str, Any]
) -> None:
    summary = run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    with bo_store.read() as conn:
        rows = conn.execute(select(audit_table.c.action, audit_table.c.data)).all()
    reconciled = [data for action, data in rows if action == "payroll.reconciled"]
    clean = answer_key["employees_in_register"] - len(answer_key["expected_codes"])
    assert len(reconciled) == clean
    flagged = set(answer_key["expected_codes"])
    text = "".join(str(d) for d in reconciled)
    assert not any(eid in text for eid in flagged)
    assert sum(1 for action, _ in rows if action == "item.queued") == summary.queued
    assert any(action == "payroll.report_written" for action, _ in rows)
    assert verify(bo_store).ok


def test_breaks_go_to_the_queue_with_owner_role_and_sla(
    bo_store: Store, payroll_inputs: dict[str, Any]
) -> None:
    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    queued = {
        " ".join(sorted({v.code for v in q.violations})): q
        for q in Queue(bo_store).list(status="queued", bot=BOT, limit=None, sort="id")
    }
    ghost_vendor = queued["PAY-GHOST-VENDOR"]
    assert ghost_vendor.owner_role == "approver" and ghost_vendor.approver_only
    assert ghost_vendor.due_at - ghost_vendor.queued_at == timedelta(hours=4)
    missing = queued["PAY-BANK-MISSING"]
    assert missing.owner_role == "team_lead" and not missing.approver_only
    gross_net = queued["PAY-GROSS-NET"]
    assert gross_net.owner_role == "associate" and gross_net.due_at - gross_net.queued_at == timedelta(
        hours=24
    )
    v = gross_net.violations[0]
    assert v.field == "employee.net" and Decimal(v.actual) - Decimal(v.expected) == Decimal("50.00")


def test_rerun_of_the_same_inputs_records_nothing_twice(
    bo_store: Store, payroll_inputs: dict[str, Any], answer_key: dict[str, Any]
) -> None:
    bot = PayrollReconciliationBot()
    first = run_bot(bot, payroll_inputs, store=bo_store)
    second = run_bot(bot, payroll_inputs, store=bo_store)
    assert second.skipped == first.total and second.done == second.queued == 0
    with bo_store.read() as conn:
        n = sum(1 for (a,) in conn.execute(select(audit_table.c.action)) if a == "payroll.reconciled")
    assert n == answer_key["employees_in_register"] - len(answer_key["expected_codes"])
    # the second report still shows every open break of this reconciliation
    wb = load_workbook(payroll_inputs["out"], read_only=True)
    codes = {r[4] for r in wb["Exceptions"].iter_rows(min_row=2, values_only=True)}
    assert codes == {c for cs in answer_key["expected_codes"].values() for c in cs}
    wb.close()


def test_reconciliation_workbook(bo_store: Store, payroll_inputs: dict[str, Any], payroll_dir: Path) -> None:
    summary = run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    path = Path(summary.extra["report"])
    assert path == Path(payroll_inputs["out"]) and path.is_file()
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Exceptions", "Departments"]
    exc = wb["Exceptions"]
    assert exc.freeze_panes == "A2" and exc.auto_filter.ref and exc.auto_filter.ref.startswith("A1:P")
    assert exc["A1"].value == "Employee" and exc["A1"].font.bold
    headers = [c.value for c in exc[1]]
    for h in ("Rule code", "Expected", "Actual", "Evidence (sha256)", "Owner role", "Due (UTC)"):
        assert h in headers
    net_col = headers.index("Net pay") + 1
    assert exc.cell(2, net_col).number_format.startswith("#,##0.00")
    summary_text = [[c for c in row if c is not None] for row in wb["Summary"].iter_rows(values_only=True)]
    results = {row[0]: row[-1] for row in summary_text if row and isinstance(row[0], int) and len(row) == 5}
    assert results[9] == "PASS" and all(results[n] == "FAIL" for n in range(1, 9))
    controls = {(r[0], r[1]): r for r in summary_text if len(r) >= 4}
    gl_gross = controls[("General ledger", "Gross pay")]
    assert gl_gross[-1] == 0
    money = [c for row in wb["Summary"].iter_rows() for c in row if isinstance(c.value, float)]
    assert money and all(c.number_format.startswith("#,##0.00") for c in money)
    # no bank account appears unmasked anywhere in the workbook
    hr_ibans = set(IBAN.findall((payroll_dir / "hr_master.csv").read_text()))
    for ws in wb:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert not (set(IBAN.findall(value)) & hr_ibans), value
    assert any(MASK in str(v) for row in exc.iter_rows(values_only=True) for v in row)
    assert [r[0] for r in wb["Departments"].iter_rows(min_row=2, values_only=True)][:1] == [
        "Customer Service"
    ]


def test_a_clean_payroll_has_no_exceptions(bo_store: Store, tmp_path: Path) -> None:
    d = tmp_path / "clean"
    key = generate(d, n=320, seed=7, plant=False)
    assert key["expected_codes"] == {}
    inputs = {
        "register": str(d / "register_2024_01.xlsx"),
        "hr": str(d / "hr_master.csv"),
        "timesheets": str(d / "timesheets.csv"),
        "bank_file": str(d / "bank_payments.csv"),
        "statement": str(d / "statement.xml"),
        "gl": str(d / "gl_totals.csv"),
        "previous": str(d / "previous_register_2023_12.xlsx"),
        "vendors": str(d / "vendors.csv"),
        "out": str(tmp_path / "clean.xlsx"),
    }
    summary = run_bot(PayrollReconciliationBot(), inputs, store=bo_store)
    assert codes_by_subject(bo_store) == {}
    assert summary.queued == 0 and status_counts(bo_store) == {"done": summary.total}
