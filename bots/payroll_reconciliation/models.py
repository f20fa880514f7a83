"""The payroll item: one employee's pay line, one department's totals, or one file-level control.

The runner validates every item payload with :class:`PayrollItem` and hands it to the rules.
Money is Decimal; payloads carry it as strings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

__all__ = ["ControlCheck", "DepartmentTotals", "PayLine", "PayrollItem"]


class PayLine(BaseModel):
    """One row of the payroll register."""

    employee_id: str = Field(min_length=1)
    name: str | None = None
    department: str | None = None
    pay_type: Literal["salaried", "hourly"] | None = None
    pay_date: date
    period_start: date | None = None
    period_end: date | None = None
    rate: Decimal | None = None
    regular_hours: Decimal = Decimal("0")
    overtime_hours: Decimal = Decimal("0")
    base_pay: Decimal | None = None
    overtime_pay: Decimal = Decimal("0")
    other_earnings: Decimal = Decimal("0")
    gross: Decimal
    pretax_deductions: Decimal = Decimal("0")
    taxes: Decimal = Decimal("0")
    posttax_deductions: Decimal = Decimal("0")
    net: Decimal
    bank_account: str | None = None
    row: int | None = None


class DepartmentTotals(BaseModel):
    """A department's gross pay and headcount this period and the previous one."""

    department: str
    gross: Decimal
    headcount: int
    previous_gross: Decimal | None = None
    previous_headcount: int | None = None


class ControlCheck(BaseModel):
    """A file-level control: the bank payment file, the bank statement, the general ledger, headcount.

    ``figures`` are the control totals (money as Decimal); ``problems`` are structural findings of
    the file readers (e.g. a NACHA entry hash that does not match); ``ids`` lists the subjects of
    a finding (employee ids, end-to-end ids; bank accounts masked).
    """

    name: Literal["bank-file", "statement", "gl", "headcount"]
    source: str | None = None
    figures: dict[str, Decimal | int | None] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)
    ids: dict[str, list[str]] = Field(default_factory=dict)


class PayrollItem(BaseModel):
    """Exactly one of ``employee``, ``department`` or ``control`` is set, matching ``kind``."""

    kind: Literal["employee", "department", "control"]
    employee: PayLine | None = None
    department: DepartmentTotals | None = None
    control: ControlCheck | None = None

    @model_validator(mode="after")
    def _one_part(self) -> PayrollItem:
        part = getattr(self, self.kind)
        if part is None:
            raise ValueError(f"kind {self.kind!r} needs its {self.kind!r} part")
        return self
