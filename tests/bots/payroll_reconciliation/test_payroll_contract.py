"""The payroll bot on the bot contract: inputs, per-run state, data classes, rule-set version."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from backoffice.contract import State
from backoffice.data_classes import DataClass, declared
from backoffice.errors import InputError
from backoffice.runner import run_bot, start_run
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from bots.payroll_reconciliation.context import Params, PayrollContext
from bots.payroll_reconciliation.models import PayrollItem
from bots.payroll_reconciliation.state import PayrollState

PACKAGE = Path(__file__).resolve().parents[3] / "bots" / "payroll_reconciliation"


def test_inputs_name_the_option_that_is_wrong(payroll_inputs: dict[str, Any]) -> None:
    bot = PayrollReconciliationBot()
    parsed = bot.parse_inputs(payroll_inputs)
    assert parsed.register == Path(payroll_inputs["register"]).resolve() and parsed.statement is not None
    with pytest.raises(InputError, match=r"--out: must name an \.xlsx file") as ei:
        bot.parse_inputs({**payroll_inputs, "out": "report.csv"})
    assert ei.value.code == "USAGE"
    without = {k: v for k, v in payroll_inputs.items() if k != "bank_file"}
    with pytest.raises(InputError, match="--bank-file is required"):
        bot.parse_inputs(without)
    with pytest.raises(InputError, match="--gl: file not found"):
        bot.parse_inputs({**payroll_inputs, "gl": payroll_inputs["gl"] + ".missing"})
    optional = {
        k: v for k, v in payroll_inputs.items() if k not in ("statement", "gl", "previous", "vendors")
    }
    assert bot.parse_inputs(optional).previous is None


def test_every_run_gets_its_own_state(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    bot = PayrollReconciliationBot()
    inputs = bot.parse_inputs(payroll_inputs)
    one = bot.open(inputs, start_run(bot, inputs, bo_store))
    two = bot.open(inputs, start_run(bot, inputs, bo_store))
    assert isinstance(one, PayrollState) and isinstance(one, State) and one is not two
    assert isinstance(bot.rules_context(one), PayrollContext) and bot.rules_context(one) is not two.ctx
    assert one.recon_id == two.recon_id  # same files: same reconciliation, so nothing is recorded twice
    items = list(bot.read(one))
    assert one.employees == len([i for i in items if i.payload["kind"] == "employee"]) and two.employees == 0
    assert vars(bot).keys() == {"params", "ruleset"}  # nothing per run is kept on the bot


def test_exit_code_is_one_only_for_unreadable_register_rows(
    bo_store: Store, payroll_inputs: dict[str, Any]
) -> None:
    bot = PayrollReconciliationBot()
    summary = run_bot(bot, payroll_inputs, store=bo_store).to_dict()
    assert summary["input_errors"] == 0 and bot.exit_code(summary) == 0
    assert summary["report"] == str(Path(payroll_inputs["out"]).resolve())
    assert bot.exit_code({**summary, "input_errors": 2}) == 1


def test_pay_and_bank_account_are_declared() -> None:
    bot = PayrollReconciliationBot()
    classes = declared(bot.model)
    for name in ("gross", "net", "rate", "base_pay", "overtime_pay", "other_earnings", "taxes",
                 "pretax_deductions", "posttax_deductions"):  # fmt: skip
        assert classes[f"employee.{name}"] is DataClass.PAY, name
    assert classes["employee.bank_account"] is DataClass.BANK_ACCOUNT
    # department totals and control figures are not a person's pay
    assert not any(p.startswith(("department.", "control.")) for p in classes)
    assert (bot.record_class, bot.amount_class, bot.title_field) == (
        "payroll",
        DataClass.PAY,
        "employee.name",
    )
    assert bot.party_field == "employee.employee_id" and bot.model is PayrollItem


def test_violation_fields_are_payload_paths(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    """Every field a violation names is a path of the item payload (or of the employee record)."""
    from backoffice.queue import Queue

    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    fields = {
        v.field
        for q in Queue(bo_store).list(status="queued", bot="payroll-reconciliation", limit=None, sort="id")
        for v in q.violations
        if v.code not in ("INPUT", "INPUT-DUPLICATE")
    }
    assert fields and all(f and f.split(".")[0] in ("employee", "department", "control") for f in fields)
    assert {"employee.net", "employee.bank_account"} <= fields


def test_rule_set_versions_the_params_the_bot_runs_with() -> None:
    default, strict = PayrollReconciliationBot(), PayrollReconciliationBot(Params(raise_pct=5))
    assert default.ruleset.params is default.params
    assert strict.ruleset.params_dict()["raise_pct"] == "5"
    assert default.ruleset.version != strict.ruleset.version
    assert PayrollReconciliationBot().ruleset.version == default.ruleset.version


def test_rule_set_version_covers_the_helpers_the_rules_call() -> None:
    modules = PayrollReconciliationBot().ruleset.modules()
    for name in ("context", "models", "reading", "rules"):
        assert f"bots.payroll_reconciliation.{name}" in modules
    assert any(m.startswith("connectors.bankfiles") for m in modules)  # the IBAN check


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_import_circle_in_the_package() -> None:
    prefix = "bots.payroll_reconciliation."
    graph = {
        p.stem: {m.removeprefix(prefix).split(".")[0] for m in _imports(p) if m.startswith(prefix)}
        for p in PACKAGE.glob("*.py")
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    assert "bot" not in graph["report"]
    assert not [m for m in graph if reaches(m, m, set())]
