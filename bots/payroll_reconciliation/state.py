"""The state of one payroll run: its look-ups and what streaming the register learned.

``open`` builds it; ``read`` fills in the totals while it streams the register; the rules get
its :attr:`PayrollState.ctx`; ``finish`` writes the workbook from it. One object per run, handed
to that run's steps only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.contract import State
from backoffice.items import file_sha256
from backoffice.runner import Run
from bots.payroll_reconciliation.context import PayrollContext
from bots.payroll_reconciliation.models import PayrollInputs

__all__ = ["INPUT_NAMES", "PayrollState", "input_paths", "recon_id_for"]

# The input files of a reconciliation, in the order their hashes make its id (do not reorder:
# the id is part of every item key).
INPUT_NAMES = ("register", "hr", "timesheets", "bank_file", "statement", "gl", "previous", "vendors")


def input_paths(inputs: PayrollInputs) -> dict[str, str | None]:
    """Input name -> path as text (None when not given), for the readers."""
    out: dict[str, str | None] = {}
    for name in INPUT_NAMES:
        path: Path | None = getattr(inputs, name)
        out[name] = None if path is None else str(path)
    return out


def recon_id_for(inputs: PayrollInputs) -> tuple[str, dict[str, str]]:
    """A reconciliation is identified by the sha256 of all its input files together."""
    shas: dict[str, str] = {}
    digest = hashlib.sha256()
    for name, path in input_paths(inputs).items():
        if path is None:
            continue
        shas[name] = file_sha256(path)
        digest.update(f"{name}={shas[name]};".encode())
    return digest.hexdigest()[:16], shas


class PayrollState(State[PayrollInputs]):
    """One run: ``ctx`` (the look-ups the rules get), the reconciliation id and input hashes,
    and the figures streaming the register collects for the aggregate items and the report."""

    def __init__(self, inputs: PayrollInputs, run: Run, ctx: PayrollContext) -> None:
        super().__init__(inputs, run)
        self.ctx = ctx
        self.recon_id, self.file_sha = recon_id_for(inputs)
        self.employees = 0
        self.input_errors = 0
        self.totals: dict[str, Decimal] = defaultdict(Decimal)
        self.departments: dict[str, list[Any]] = {}  # name -> [gross, headcount]
        self.period_start: date | None = None
        self.period_end: date | None = None
        self.pay_dates: set[date] = set()
        self.controls: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return (
            f"PayrollState(run {self.run.run_id}, reconciliation {self.recon_id}, {self.employees} employees)"
        )
