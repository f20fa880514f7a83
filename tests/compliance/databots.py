"""Two small bots with declared data classes, for the compliance tests (masking, retention, access
review, evidence packs), so those tests do not depend on the bundled bots' models.

- ``test-invoices``: invoices whose bank account (``iban``, BANK_ACCOUNT) differs from the vendor
  master (an input, itself declared BANK_ACCOUNT) are queued as ``INV-BANK-CHANGE``; the vendor is
  the counterparty (``party_field``); record class ``financial``.
- ``test-payroll``: one employee's pay line (pay figures PAY, bank account BANK_ACCOUNT, national
  id NATIONAL_ID, phone CONTACT); a gross that differs from the HR figure is ``PAY-SALARY``; the
  item's amount is the person's net pay (``amount_class`` PAY); record class ``payroll``.

Both read their items from a JSON file (``[{"key", "payload", "amount", "source", "evidence"}]``).
They are installed as real entry points by ``tests/compliance/conftest.py`` (:func:`install`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from backoffice.contract import Bot, InputFile, Inputs, State
from backoffice.data_classes import DataClass
from backoffice.items import EvidenceRef, Item, SourceRef
from backoffice.rules import RuleSet, Violation, rule

INVOICES = "test-invoices"
PAYROLL = "test-payroll"

Pay = Annotated[Decimal, DataClass.PAY]


class Invoice(BaseModel):
    invoice_number: str
    vendor_id: str
    gross_total: Decimal  # an invoice total: not personal
    iban: Annotated[str, DataClass.BANK_ACCOUNT]


class InvoiceInputs(Inputs):
    invoices: InputFile = Field(description="JSON list of invoice items.")
    master_iban: Annotated[str, DataClass.BANK_ACCOUNT] = Field(description="The vendor master's account.")


class Employee(BaseModel):
    employee_id: str
    name: str
    national_id: Annotated[str, DataClass.NATIONAL_ID]
    bank_account: Annotated[str, DataClass.BANK_ACCOUNT]
    phone: Annotated[str | None, DataClass.CONTACT] = None
    gross: Pay
    net: Pay
    annual_salary: Annotated[Decimal | None, DataClass.PAY] = None  # not `Pay | None`: see declared()


class PayItem(BaseModel):
    kind: Literal["employee"]
    employee: Employee


class PayrollInputs(Inputs):
    pay_lines: InputFile = Field(description="JSON list of pay lines.")
    hr_gross: Decimal = Field(description="The gross pay the HR master has.")


def _items(bot: str, path: Path) -> Iterator[Item]:
    for rec in json.loads(path.read_text(encoding="utf-8")):
        yield Item(
            bot=bot,
            key=rec["key"],
            payload=rec["payload"],
            source=SourceRef.model_validate(rec["source"]),
            amount=Decimal(rec["amount"]),
            currency="EUR",
            evidence=[EvidenceRef.model_validate(e) for e in rec.get("evidence", [])],
        )


@rule(code="INV-BANK-CHANGE", description="The invoice names another bank account than the vendor master")
def bank_change(inv: Invoice, state: State[InvoiceInputs]) -> Iterable[Violation]:
    master = state.inputs.master_iban
    if inv.iban != master:
        yield Violation(
            code="",
            message=f"invoice asks for payment to {inv.iban}; vendor master has {master}",
            field="iban",
            expected=master,
            actual=inv.iban,
        )


@rule(code="PAY-SALARY", description="Gross pay differs from the HR master")
def salary(item: PayItem, state: State[PayrollInputs]) -> Iterable[Violation]:
    hr = state.inputs.hr_gross
    if item.employee.gross != hr:
        yield Violation(
            code="",
            message="pay differs from the HR master",
            field="employee.gross",
            expected=str(hr),
            actual=str(item.employee.gross),
        )


class InvoiceBot(Bot[InvoiceInputs, State[InvoiceInputs]]):
    name = INVOICES
    Inputs = InvoiceInputs
    model = Invoice
    record_class = "financial"
    title_field = "invoice_number"
    party_field = "vendor_id"
    ruleset = RuleSet(INVOICES, [bank_change])

    def read(self, state: State[InvoiceInputs]) -> Iterable[Item]:
        return _items(self.name, state.inputs.invoices)


class PayrollBot(Bot[PayrollInputs, State[PayrollInputs]]):
    name = PAYROLL
    Inputs = PayrollInputs
    model = PayItem
    record_class = "payroll"
    title_field = "employee.name"
    amount_class = DataClass.PAY
    ruleset = RuleSet(PAYROLL, [salary])

    def read(self, state: State[PayrollInputs]) -> Iterable[Item]:
        return _items(self.name, state.inputs.pay_lines)


invoices = InvoiceBot()
payroll = PayrollBot()


def install(site: Path) -> Path:
    """A dist-info under ``site`` publishing both bots as ``backoffice.bots`` entry points (as pip
    would); put ``site`` on ``sys.path`` to install them."""
    dist = site / "backoffice_compliance_bots-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: backoffice-compliance-bots\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[backoffice.bots]\n"
        f"{INVOICES} = tests.compliance.databots:invoices\n"
        f"{PAYROLL} = tests.compliance.databots:payroll\n"
    )
    return site


def write_items(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path
