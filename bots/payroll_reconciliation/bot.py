"""Payroll reconciliation bot: register vs HR master, timesheets, previous period, bank file,
bank statement and general ledger.

Steps (see README.md for inputs and rule codes):

- ``open``: reads the look-up inputs once (HR master, timesheets, previous register, bank
  payment file, statement, GL, vendors) into the run's :class:`PayrollState`. A broken look-up
  file is an InputError before any item.
- ``read``: streams the register and yields one item per employee; an unreadable row becomes an
  INPUT item for the queue. After the last row: one item per department and one per file-level
  control (bank file, statement, GL, headcount) (:mod:`.reading`).
- rules (:mod:`.rules`) run in the runner against the look-ups; breaks go to the queue with
  owner role and SLA.
- ``act``: nothing to post; a clean employee is recorded as reconciled in the audit log.
- ``finish``: writes the reconciliation workbook (summary, exceptions, departments) (:mod:`.report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from backoffice.contract import Bot, Outcome
from backoffice.data_classes import DataClass
from backoffice.items import EvidenceRef, Item
from backoffice.rules import Violation
from backoffice.runner import Run, RunSummary
from bots.payroll_reconciliation.context import Params, PayrollContext, load_context
from bots.payroll_reconciliation.evidence import employee_evidence
from bots.payroll_reconciliation.models import PayrollInputs, PayrollItem
from bots.payroll_reconciliation.reading import payroll_items
from bots.payroll_reconciliation.report import write_reconciliation_report
from bots.payroll_reconciliation.rules import payroll_rules
from bots.payroll_reconciliation.state import PayrollState, input_paths

__all__ = ["PayrollReconciliationBot", "bot"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PayrollReconciliationBot(Bot[PayrollInputs, PayrollState]):
    """Reconcile a payroll register with HR, timesheets, bank file, statement and ledger."""

    name = "payroll-reconciliation"
    Inputs = PayrollInputs
    model = PayrollItem
    record_class = "payroll"
    title_field = "employee.name"
    amount_class = DataClass.PAY  # an employee item's amount is the person's net pay
    party_field = "employee.employee_id"  # whose bank account a correction may change
    summary_labels = ("items", "reconciled")
    description = (
        "Reconcile a payroll register with HR, timesheets, bank file, statement and ledger.\n\n"
        "Exit code 0 when the reconciliation ran (breaks are queued, not failures), 1 when an "
        "input could not be read or register rows were unreadable (queued as INPUT)."
    )

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self.ruleset = payroll_rules(self.params)

    # ------------------------------------------------------------ steps
    def open(self, inputs: PayrollInputs, run: Run) -> PayrollState:
        """The look-ups, read once per run (also for reprocessing: the rules need them)."""
        return PayrollState(inputs, run, load_context(input_paths(inputs), self.params))

    def read(self, state: PayrollState) -> Iterable[Item]:
        return payroll_items(state)

    def rules_context(self, state: PayrollState) -> PayrollContext:
        return state.ctx

    def act(self, items: list[Item], state: PayrollState) -> list[Outcome]:
        """Nothing to post: a clean employee is reconciled; a clean control or department passed."""
        out: list[Outcome] = []
        for it in items:
            kind = it.payload.get("kind")
            if kind == "employee":
                emp = it.payload["employee"]
                # shaped like the payload, so the declared data classes mask the pay in it too
                result = {"employee": {k: emp[k] for k in ("employee_id", "net", "gross")}}
                out.append(Outcome(key=it.key, ok=True, action="payroll.reconciled", result=result))
            else:
                name = it.payload.get("control", {}).get("name") or it.payload.get("department", {}).get(
                    "department"
                )
                out.append(
                    Outcome(key=it.key, ok=True, action="payroll.control_passed", result={"check": name})
                )
        return out

    def evidence(self, item: Item, violations: list[Violation], state: PayrollState) -> list[EvidenceRef]:
        """The records a queued employee was compared with (HR master row, timesheet weeks,
        payments, statement entries, previous period), shown side by side in the inbox."""
        return employee_evidence(item, violations, state)

    def finish(self, state: PayrollState, summary: RunSummary) -> Mapping[str, Any]:
        """The workbook, stored as evidence; the summary gains its path and the register counts."""
        run = state.run
        written = write_reconciliation_report(state.inputs.out, state, summary)
        ev = run.store_evidence(written, f"payroll/{written.name}", XLSX)
        run.audit(
            "payroll.report_written",
            f"run:{run.run_id}",
            {"path": str(written), "sha256": ev.sha256, "reconciliation": state.recon_id},
            evidence=[ev.sha256],
        )
        return {
            "report": str(written),
            "reconciliation": state.recon_id,
            "employees": state.employees,
            "input_errors": state.input_errors,
        }

    def exit_code(self, summary: Mapping[str, Any]) -> int:
        """1 when register rows could not be read (they are queued as INPUT), else 0."""
        return 1 if summary.get("input_errors") else 0

    def commands(self) -> Mapping[str, Any]:
        """``backoffice extract statement|payments``: the bank-file readers this bot reads with."""
        from connectors.bankfiles.cli import app

        return {"extract": app}


bot = PayrollReconciliationBot()
