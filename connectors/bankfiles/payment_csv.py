"""A plain payment list as CSV or xlsx: end_to_end_id, employee_id, name, account, amount, currency."""

from __future__ import annotations

from pathlib import Path

from connectors.bankfiles.accounts import compact_account
from connectors.bankfiles.payments import Payment, PaymentFile
from connectors.excel import ColumnSpec, read_table

__all__ = ["PAYMENT_CSV_COLUMNS", "read_payment_csv"]


PAYMENT_CSV_COLUMNS = ("end_to_end_id", "employee_id", "name", "account", "amount", "currency")


def read_payment_csv(path: str | Path) -> PaymentFile:
    """A plain payment CSV/xlsx: end_to_end_id, employee_id, name, account (IBAN), amount, currency."""
    cols = {
        "end_to_end_id": ColumnSpec("str", aliases=("e2e id", "end to end id", "reference")),
        "employee_id": ColumnSpec("str", required=False, nullable=True, aliases=("emp id", "employee")),
        "name": ColumnSpec("str", aliases=("payee", "beneficiary", "creditor")),
        "account": ColumnSpec("str", aliases=("iban", "account number", "bank account")),
        "amount": ColumnSpec("money"),
        "currency": ColumnSpec("str", required=False, nullable=True, aliases=("ccy",)),
    }
    pf = PaymentFile("csv", str(path))
    # a repeated end-to-end id is kept: paying someone twice is a finding for the caller, not bad input
    for row in read_table(path, cols):
        pf.payments.append(
            Payment(
                end_to_end_id=row["end_to_end_id"],
                name=row["name"],
                account=compact_account(row["account"]),
                amount=row["amount"],
                currency=row["currency"] or "EUR",
                employee_id=row["employee_id"],
                locator=row.locator,
            )
        )
    return pf
