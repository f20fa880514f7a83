"""What a payment file holds: :class:`Payment` and :class:`PaymentFile` (declared vs actual controls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from backoffice.money import q2
from connectors.bankfiles.notices import Notice

__all__ = ["Payment", "PaymentFile"]


@dataclass(slots=True)
class Payment:
    """One outgoing credit transfer. ``amount`` is positive for a credit to the payee."""

    end_to_end_id: str
    name: str
    account: str
    amount: Decimal
    currency: str = "EUR"
    employee_id: str | None = None
    bic: str | None = None
    routing: str | None = None
    remittance: str | None = None
    locator: str = ""  # where in the file: "CdtTrfTxInf 12", "line 7", "row 3"


@dataclass
class PaymentFile:
    """A parsed payment file with what its headers *declare* and what its content *is*."""

    format: Literal["pain.001", "nacha", "csv"]
    file: str
    payments: list[Payment] = field(default_factory=list)
    declared_count: int | None = None
    declared_total: Decimal | None = None
    batches: list[dict[str, Any]] = field(
        default_factory=list
    )  # per PmtInf / NACHA batch: declared vs actual
    problems: list[str] = field(default_factory=list)  # structural control problems found while reading
    execution_date: date | None = None
    warnings: list[Notice] = field(default_factory=list)  # lenient readings (a return's 000000 date)

    @property
    def count(self) -> int:
        return len(self.payments)

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    def control_problems(self) -> list[str]:
        """Every way the declared counts/totals (and NACHA entry hashes) disagree with the payments."""
        out = list(self.problems)
        if self.declared_count is not None and self.declared_count != self.count:
            out.append(f"declared {self.declared_count} transactions, file holds {self.count}")
        if self.declared_total is not None and q2(self.declared_total) != q2(self.total):
            out.append(f"declared control sum {q2(self.declared_total)}, payments add up to {q2(self.total)}")
        return out
