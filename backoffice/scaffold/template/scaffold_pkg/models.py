"""What the scaffold-name bot is given (its inputs) and what one item is (a payment request).

Every field of :class:`ScaffoldNameInputs` becomes an option of ``backoffice run scaffold-name``
(``ledger`` -> ``--ledger``), a parameter of its Prefect flow and of its deployment; the field's
description is the help text. Personal fields of the item model carry a data class, so the queue,
the inbox and evidence packs mask them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from backoffice import DataClass, InputFile, Inputs, OutputFile
from pydantic import BaseModel, Field, field_validator

COLUMNS = ("ref", "payee", "amount", "payee_account")


class ScaffoldNameInputs(Inputs):
    payments: InputFile = Field(
        description="CSV of payment requests with the columns ref, payee, amount, payee_account."
    )
    ledger: OutputFile = Field(
        description="JSON-lines ledger the approved payments are written to (created if missing)."
    )

    @field_validator("payments")
    @classmethod
    def _csv(cls, value: InputFile) -> InputFile:
        if value.suffix.lower() != ".csv":
            raise ValueError("must name a .csv file")
        return value


class ScaffoldNamePayment(BaseModel):
    """One payment request (one CSV row), as the rules see it."""

    ref: str = Field(min_length=1, description="The request's reference, unique in its file.")
    payee: str = Field(min_length=1, description="Who is paid.")
    amount: Decimal = Field(gt=0, description="Amount to pay.")
    payee_account: Annotated[str | None, DataClass.BANK_ACCOUNT] = Field(
        default=None, description="The payee's bank account (masked to its last 4 outside the item's work)."
    )
