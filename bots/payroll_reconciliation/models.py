"""What the payroll bot takes and what it checks.

- :class:`PayrollInputs`: the run's inputs (the ``backoffice run payroll-reconciliation`` options,
  the flow's parameters, the deployment's parameter schema);
- :class:`PayrollItem`: one employee's pay line, one department's totals, or one file-level
  control. The runner validates every item payload with it and hands it to the rules. Money is
  Decimal; payloads carry it as strings. A person's pay figures and bank account are declared
  with their data class, so the core masks them everywhere (CLI, inbox, exports, logs).
"""

from __future__ import annotations

import warnings
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from backoffice.contract import InputFile, Inputs, OutputFile
from backoffice.data_classes import DataClass

__all__ = [
    "ControlCheck",
    "DepartmentTotals",
    "HRMasterRow",
    "PayLine",
    "PaymentLine",
    "PayrollInputs",
    "PayrollItem",
    "PreviousLine",
    "StatementEntry",
    "TimesheetLine",
]

Pay = Annotated[Decimal, DataClass.PAY]
"""A person's pay figure (gross, net, rate, a deduction...)."""


# The option is --register (as since the first release). On a pydantic model the field only
# shadows ABCMeta.register on the class, never an instance's value: the warning is noise here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class PayrollInputs(Inputs):
        """One pay period's files. Tables are xlsx or CSV (see README.md for the columns)."""

        register: InputFile = Field(description="Payroll register for the period (xlsx or CSV).")
        hr: InputFile = Field(description="HR master data (xlsx or CSV).")
        timesheets: InputFile = Field(description="Weekly timesheets (xlsx or CSV).")
        bank_file: InputFile = Field(description="Salary payment file: pain.001 XML, NACHA or CSV.")
        statement: InputFile | None = Field(
            default=None, description="Bank statement: camt.053 XML (or zip) or MT940."
        )
        gl: InputFile | None = Field(default=None, description="General ledger payroll totals (xlsx or CSV).")
        previous: InputFile | None = Field(
            default=None, description="Previous period's payroll register (xlsx or CSV)."
        )
        vendors: InputFile | None = Field(
            default=None, description="Vendor master with bank accounts (ghost-employee check)."
        )
        out: OutputFile = Field(description="Where to write the reconciliation workbook (.xlsx).")

        @field_validator("out")
        @classmethod
        def _xlsx(cls, value: object) -> object:
            if str(value).lower().endswith(".xlsx"):
                return value
            raise ValueError("must name an .xlsx file")


class PayLine(BaseModel):
    """One row of the payroll register."""

    employee_id: str = Field(min_length=1)
    name: str | None = None
    department: str | None = None
    pay_type: Literal["salaried", "hourly"] | None = None
    pay_date: date
    period_start: date | None = None
    period_end: date | None = None
    rate: Annotated[Decimal | None, DataClass.PAY] = None
    regular_hours: Decimal = Decimal("0")
    overtime_hours: Decimal = Decimal("0")
    base_pay: Annotated[Decimal | None, DataClass.PAY] = None
    overtime_pay: Pay = Decimal("0")
    other_earnings: Pay = Decimal("0")
    gross: Pay
    pretax_deductions: Pay = Decimal("0")
    taxes: Pay = Decimal("0")
    posttax_deductions: Pay = Decimal("0")
    net: Pay
    bank_account: Annotated[str | None, DataClass.BANK_ACCOUNT] = None
    row: int | None = None


class DepartmentTotals(BaseModel):
    """A department's gross pay and headcount this period and the previous one (totals, not a
    person's pay)."""

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


# -- the records an employee item is compared with, stored as its evidence (backoffice.evidence_records)
class HRMasterRow(BaseModel):
    """The employee's row of the HR master, as the rules read it."""

    employee_id: str
    department: str | None = None
    pay_type: str | None = None
    hire_date: date | None = None
    termination_date: date | None = None
    annual_salary: Annotated[Decimal | None, DataClass.PAY] = None
    hourly_rate: Annotated[Decimal | None, DataClass.PAY] = None
    salary_change_approval: str | None = None
    bank_account: Annotated[str | None, DataClass.BANK_ACCOUNT] = None
    row: int | None = None


class TimesheetLine(BaseModel):
    """One week of the employee's timesheets."""

    week_start: str
    hours: Decimal
    overtime: Decimal


class PaymentLine(BaseModel):
    """A payment to the employee in the bank payment file."""

    end_to_end_id: str
    amount: Pay
    currency: str | None = None
    account: Annotated[str | None, DataClass.BANK_ACCOUNT] = None
    locator: str | None = None


class StatementEntry(BaseModel):
    """What the bank statement booked for a payment (by end-to-end id)."""

    end_to_end_id: str
    booked: Annotated[Decimal | None, DataClass.PAY] = None


class PreviousLine(BaseModel):
    """The employee's line in the previous period's register."""

    department: str | None = None
    rate: Annotated[Decimal | None, DataClass.PAY] = None
    gross: Pay
