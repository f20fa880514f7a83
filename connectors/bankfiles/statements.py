"""What a bank statement holds: :class:`Statement`, its :class:`CamtEntry` entries and their transactions.

Amounts are signed: + credit, - debit. A statement whose opening + credits - debits is not its
closing balance is *data* (``balance_difference()``), for a reconciliation rule to report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from connectors.bankfiles.notices import Notice

__all__ = ["CamtEntry", "CamtTransaction", "Statement"]


@dataclass(slots=True)
class CamtTransaction:
    """One transaction inside an entry (TxDtls); ``amount`` signed like its entry (+ credit, - debit)."""

    amount: Decimal
    end_to_end_id: str | None = None
    instr_id: str | None = None
    acct_svcr_ref: str | None = None
    structured_ref: str | None = None
    partner_name: str | None = None
    partner_account: str | None = None
    remittance: str | None = None

    @property
    def reference(self) -> str | None:
        return self.structured_ref or self.end_to_end_id or self.acct_svcr_ref or self.instr_id


@dataclass(slots=True)
class CamtEntry:
    """One booked (or pending) entry; ``amount`` signed: + credit, - debit."""

    amount: Decimal
    currency: str
    status: str
    booking_date: date | None
    value_date: date | None
    reversal: bool
    tx_type: str | None
    acct_svcr_ref: str | None
    info: str | None
    transactions: list[CamtTransaction]
    locator: str = ""

    @property
    def booked(self) -> bool:
        return self.status.upper() in ("BOOK", "BOOKED", "")


@dataclass
class Statement:
    """A bank statement (camt.053, camt.054 notification, or one MT940 :20: block)."""

    id: str
    account: str
    currency: str
    opening: Decimal | None
    closing: Decimal | None
    opening_date: date | None = None
    closing_date: date | None = None
    entries: list[CamtEntry] = field(default_factory=list)
    file: str = ""
    kind: str = "camt.053"
    available: Decimal | None = None  # closing available balance (camt CLAV, MT940 :64:), never the closing
    line: int | None = None  # where the statement starts (MT940 :20: line)
    warnings: list[Notice] = field(default_factory=list)

    @property
    def credits(self) -> Decimal:
        return sum((e.amount for e in self.entries if e.booked and e.amount > 0), Decimal("0"))

    @property
    def debits(self) -> Decimal:
        return -sum((e.amount for e in self.entries if e.booked and e.amount < 0), Decimal("0"))

    def balance_difference(self) -> Decimal | None:
        """closing - (opening + credits - debits) over booked entries; None without both balances."""
        if self.opening is None or self.closing is None:
            return None
        return self.closing - (self.opening + self.credits - self.debits)

    @property
    def balanced(self) -> bool | None:
        """Whether opening + credits - debits = closing; None when the file has no balances to check."""
        diff = self.balance_difference()
        return None if diff is None else diff == 0

    def transactions(self) -> Iterator[tuple[CamtEntry, CamtTransaction]]:
        for e in self.entries:
            for t in e.transactions:
                yield e, t
