"""Payroll reconciliation bot: register vs HR master, timesheets, previous period, bank file,
bank statement and general ledger.

Steps (see README.md for inputs and rule codes):

- ``context``: reads the look-up inputs once (HR master, timesheets, previous register, bank
  payment file, statement, GL, vendors). A broken look-up file is an InputError before any item.
- ``read``: streams the register (openpyxl read-only; flat memory) and yields one item per
  employee; an unreadable row (text in a money column, formula, duplicated employee id) becomes
  an INPUT item for the queue. After the last row it yields one item per department and one per
  file-level control (bank file, statement, GL, headcount).
- rules (``rules.py``) run in the runner; breaks go to the queue with owner role and SLA.
- ``act``: nothing to post; a clean employee is recorded as reconciled in the audit log.
- ``finish``: writes the reconciliation workbook (summary, exceptions, departments).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from backoffice.errors import InputError
from backoffice.items import Item, SourceRef, file_sha256
from backoffice.runner import Outcome, RunContext, RunSummary
from bots.payroll_reconciliation.context import (
    REGISTER_COLUMNS,
    Params,
    PayrollContext,
    compact_account,
    load_context,
    resolve_employee,
)
from bots.payroll_reconciliation.models import PayrollItem
from bots.payroll_reconciliation.rules import RULES
from connectors.bankfiles import mask_account
from connectors.excel import read_table

__all__ = ["INPUT_NAMES", "PayrollReconciliationBot", "RunState", "bot"]

INPUT_NAMES = ("register", "hr", "timesheets", "bank_file", "statement", "gl", "previous", "vendors")
ZERO = Decimal("0")


@dataclass
class RunState:
    """What one run learned while streaming the register; the report is built from it."""

    recon_id: str
    ctx: PayrollContext | None = None
    employees: int = 0
    input_errors: int = 0
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    departments: dict[str, list[Any]] = field(default_factory=dict)  # name -> [gross, headcount]
    period_start: date | None = None
    period_end: date | None = None
    pay_dates: set[date] = field(default_factory=set)
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_sha: dict[str, str] = field(default_factory=dict)


def _key(recon_id: str, *parts: object) -> str:
    text = ":".join(str(p) for p in parts)
    if len(text) > 150:
        text = hashlib.sha256(text.encode()).hexdigest()[:40]
    return f"payroll:{recon_id}:{text}"


def recon_id_for(inputs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A reconciliation is identified by the sha256 of all its input files together."""
    shas: dict[str, str] = {}
    digest = hashlib.sha256()
    for name in INPUT_NAMES:
        path = inputs.get(name)
        if not path:
            continue
        p = Path(str(path))
        if not p.is_file():
            raise InputError("file not found", file=str(p), field=name)
        shas[name] = file_sha256(p)
        digest.update(f"{name}={shas[name]};".encode())
    return digest.hexdigest()[:16], shas


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


class PayrollReconciliationBot:
    name = "payroll-reconciliation"
    model: type[BaseModel] = PayrollItem
    ruleset = RULES

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self._states: dict[str, RunState] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ state per run
    def state(self, run: RunContext) -> RunState:
        with self._lock:
            st = self._states.get(run.run_id)
            if st is None:
                recon, shas = recon_id_for(run.inputs)
                st = RunState(recon_id=recon, file_sha=shas)
                self._states[run.run_id] = st
            return st

    def forget(self, run: RunContext) -> None:
        with self._lock:
            self._states.pop(run.run_id, None)

    # ------------------------------------------------------------ steps
    def context(self, inputs: dict[str, Any], run: RunContext) -> PayrollContext:
        for required in ("register", "hr"):
            if not inputs.get(required):
                raise InputError(f"--{required.replace('_', '-')} is required", field=required, code="USAGE")
        if run.reprocess:  # resolved items re-checked against the run's inputs; no register stream follows
            recon_id_for(inputs)  # the inputs must still be there
            return load_context({k: inputs.get(k) for k in INPUT_NAMES}, self.params)
        st = self.state(run)
        if st.ctx is None:
            st.ctx = load_context({k: inputs.get(k) for k in INPUT_NAMES}, self.params)
        return st.ctx

    def read(self, inputs: dict[str, Any], run: RunContext) -> Iterator[Item]:
        st = self.state(run)
        ctx = st.ctx if st.ctx is not None else self.context(inputs, run)
        register = str(inputs["register"])
        sha = st.file_sha.get("register") or file_sha256(register)
        currency = run.settings.company_currency
        seen: set[str] = set()
        dept = st.departments
        totals = st.totals
        for row in read_table(register, REGISTER_COLUMNS, key="employee_id", on_error="collect"):
            d = row.data
            eid = d.get("employee_id")
            source = SourceRef(file=register, locator=row.locator, sha256=sha)
            pay_type = d.get("pay_type")
            errors = list(row.errors)
            if pay_type is not None:
                norm = pay_type.strip().lower()
                pay_type = {"salary": "salaried", "exempt": "salaried", "non-exempt": "hourly"}.get(
                    norm, norm
                )
                if pay_type not in ("salaried", "hourly"):
                    errors.append(
                        InputError(
                            f"pay type must be salaried or hourly, got {d['pay_type']!r}",
                            file=row.file,
                            sheet=row.sheet,
                            row=row.number,
                            column="pay_type",
                        )
                    )
            payload: dict[str, Any] = {
                "kind": "employee",
                "employee": {
                    "employee_id": eid,
                    "name": d["name"],
                    "department": d["department"],
                    "pay_type": pay_type,
                    "pay_date": d["pay_date"].isoformat() if d["pay_date"] else None,
                    "period_start": d["period_start"].isoformat() if d["period_start"] else None,
                    "period_end": d["period_end"].isoformat() if d["period_end"] else None,
                    "rate": _dec(d["rate"]),
                    "regular_hours": _dec(d["regular_hours"] or ZERO),
                    "overtime_hours": _dec(d["overtime_hours"] or ZERO),
                    "base_pay": _dec(d["base_pay"]),
                    "overtime_pay": _dec(d["overtime_pay"] or ZERO),
                    "other_earnings": _dec(d["other_earnings"] or ZERO),
                    "gross": _dec(d["gross"]),
                    "pretax_deductions": _dec(d["pretax_deductions"] or ZERO),
                    "taxes": _dec(d["taxes"]),
                    "posttax_deductions": _dec(d["posttax_deductions"] or ZERO),
                    "net": _dec(d["net"]),
                    "bank_account": mask_account(d["bank_account"]) if d["bank_account"] else None,
                    "row": row.number,
                },
            }
            if errors:
                st.input_errors += 1
                key = _key(st.recon_id, "row", row.number)
                yield Item.from_input_error(self.name, key, errors[0], source, payload=payload)
                continue
            # the rules need the full account; the store masks it on display (backoffice.pii)
            if d["bank_account"]:
                payload["employee"]["bank_account"] = compact_account(d["bank_account"])
            eid = str(eid)
            seen.add(eid)
            st.employees += 1
            totals["gross"] += d["gross"]
            totals["taxes"] += d["taxes"]
            totals["deductions"] += (d["pretax_deductions"] or ZERO) + (d["posttax_deductions"] or ZERO)
            totals["net"] += d["net"]
            name = d["department"] or "(none)"
            slot = dept.get(name)
            if slot is None:
                dept[name] = [d["gross"], 1]
            else:
                slot[0] += d["gross"]
                slot[1] += 1
            if d["period_start"] and (st.period_start is None or d["period_start"] < st.period_start):
                st.period_start = d["period_start"]
            if d["period_end"] and (st.period_end is None or d["period_end"] > st.period_end):
                st.period_end = d["period_end"]
            st.pay_dates.add(d["pay_date"])
            yield Item(
                bot=self.name,
                key=_key(st.recon_id, "emp", eid),
                payload=payload,
                source=source,
                amount=d["net"],
                currency=currency,
            )
        yield from self._aggregate_items(st, ctx, seen, currency)

    def _aggregate_items(
        self, st: RunState, ctx: PayrollContext, seen: set[str], currency: str
    ) -> Iterator[Item]:
        files = ctx.files
        prev_dept: dict[str, list[Any]] = {}
        if ctx.previous is not None:
            for line in ctx.previous.values():
                slot = prev_dept.setdefault(line.department or "(none)", [ZERO, 0])
                slot[0] += line.gross
                slot[1] += 1
        for name in sorted(set(st.departments) | set(prev_dept)):
            gross, count = st.departments.get(name, [ZERO, 0])
            pg, pc = prev_dept.get(name, [None, None])
            yield Item(
                bot=self.name,
                key=_key(st.recon_id, "dept", name),
                payload={
                    "kind": "department",
                    "department": {
                        "department": name,
                        "gross": str(gross),
                        "headcount": count,
                        "previous_gross": _dec(pg),
                        "previous_headcount": pc,
                    },
                },
                source=SourceRef(file=files["register"], locator=f"department {name}"),
                amount=gross,
                currency=currency,
            )
        # bank payment file
        if ctx.payment_file is not None:
            pf = ctx.payment_file
            unknown = [
                f"{p.end_to_end_id or p.locator} ({mask_account(p.account)}, {p.amount})"
                for p in pf.payments
                if (resolve_employee(p, ctx.hr) or "") not in seen
            ]
            figures = {
                "payments": pf.count,
                "total": pf.total,
                "declared_count": pf.declared_count,
                "declared_total": pf.declared_total,
                "register_net": st.totals["net"],
            }
            st.controls["bank-file"] = {**figures, "format": pf.format, "problems": pf.control_problems()}
            yield self._control(
                st,
                "bank-file",
                files.get("bank_file"),
                figures,
                pf.control_problems(),
                {"unknown_payments": unknown},
                currency,
            )
        # statements
        for i, s in enumerate(ctx.statements, start=1):
            refs = {p.end_to_end_id for pays in ctx.payments.values() for p in pays}
            matched = [(e, t) for e, t in s.transactions() if e.booked and t.end_to_end_id in refs]
            figures = {
                "opening": s.opening,
                "closing": s.closing,
                "credits": s.credits,
                "debits": s.debits,
                "payroll_entries": len(matched),
                "payroll_debits": -sum((t.amount for _, t in matched), ZERO),
            }
            st.controls[f"statement:{i}"] = {**figures, "id": s.id, "account": mask_account(s.account)}
            yield self._control(
                st, "statement", s.file or files.get("statement"), figures, [], {}, currency, suffix=s.id
            )
        # general ledger
        if ctx.gl is not None:
            figures = {f"register_{k}": st.totals[k] for k in ("gross", "taxes", "deductions", "net")}
            figures.update({f"gl_{k}": v for k, v in ctx.gl.items()})
            st.controls["gl"] = figures
            yield self._control(st, "gl", ctx.gl_file, figures, [], {}, currency)
        # headcount
        if ctx.previous is not None:
            end = st.period_end or max(st.pay_dates, default=None)
            leavers = sorted(set(ctx.previous) - seen)
            unexplained = []
            for eid in leavers:
                rec = ctx.hr.get(eid)
                if rec is None or rec.termination_date is None or (end and rec.termination_date > end):
                    unexplained.append(eid)
            joiners = sorted(seen - set(ctx.previous))
            figures = {
                "previous_headcount": len(ctx.previous),
                "headcount": st.employees,
                "joiners": len(joiners),
                "leavers": len(leavers),
            }
            st.controls["headcount"] = {**figures, "unexplained_leavers": len(unexplained)}
            yield self._control(
                st,
                "headcount",
                ctx.previous_file,
                figures,
                [],
                {"unexplained_leavers": unexplained},
                currency,
            )

    def _control(
        self,
        st: RunState,
        name: str,
        source: str | None,
        figures: dict[str, Any],
        problems: list[str],
        ids: dict[str, list[str]],
        currency: str,
        suffix: str | None = None,
    ) -> Item:
        return Item(
            bot=self.name,
            key=_key(st.recon_id, "control", name, *([suffix] if suffix else [])),
            payload={
                "kind": "control",
                "control": {
                    "name": name,
                    "source": Path(source).name if source else None,
                    "figures": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in figures.items()},
                    "problems": problems,
                    "ids": ids,
                },
            },
            source=SourceRef(file=source or "", locator=f"control {name}" + (f" {suffix}" if suffix else "")),
            currency=currency,
        )

    def act(self, items: list[Item], ctx: PayrollContext, run: RunContext) -> list[Outcome]:
        """Nothing to post: a clean employee is reconciled; a clean control or department passed."""
        out: list[Outcome] = []
        for it in items:
            kind = it.payload.get("kind")
            if kind == "employee":
                emp = it.payload["employee"]
                out.append(
                    Outcome(
                        key=it.key,
                        ok=True,
                        action="payroll.reconciled",
                        result={"employee_id": emp["employee_id"], "net": emp["net"], "gross": emp["gross"]},
                    )
                )
            else:
                name = it.payload.get("control", {}).get("name") or it.payload.get("department", {}).get(
                    "department"
                )
                out.append(
                    Outcome(key=it.key, ok=True, action="payroll.control_passed", result={"check": name})
                )
        return out

    def finish(self, run: RunContext, ctx: PayrollContext, summary: RunSummary) -> None:
        from bots.payroll_reconciliation.report import write_reconciliation_report

        st = self.state(run)
        try:
            out = run.inputs.get("out")
            path = (
                Path(out) if out else run.settings.reports_dir / f"payroll-reconciliation-{run.run_id}.xlsx"
            )
            written = write_reconciliation_report(path, self, run, ctx, st, summary)
            ev = run.store_evidence(
                written,
                f"payroll/{written.name}",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
            run.audit(
                "payroll.report_written",
                f"run:{run.run_id}",
                {"path": str(written), "sha256": ev.sha256, "reconciliation": st.recon_id},
                evidence=[ev.sha256],
            )
            summary.extra.update(
                {
                    "report": str(written),
                    "reconciliation": st.recon_id,
                    "employees": st.employees,
                    "input_errors": st.input_errors,
                }
            )
        finally:
            self.forget(run)


bot = PayrollReconciliationBot()
