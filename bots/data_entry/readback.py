"""The read-back check: the saved record compared field by field with what was typed.

Its verdicts (``DE-READBACK``) decide whether a row is done, so the rule set's version covers
this module (``depends_on`` in :mod:`bots.data_entry.rules`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from backoffice.rules import Violation

__all__ = ["AMOUNT_FIELDS", "DATE_FIELDS", "compare_fields"]

AMOUNT_FIELDS = ("net_amount", "tax_amount", "gross_amount")
DATE_FIELDS = ("invoice_date", "due_date")


def _same(field: str, expected: str, actual: str) -> bool:
    if field in AMOUNT_FIELDS and expected and actual:
        try:
            return Decimal(expected) == Decimal(actual.replace(",", ""))
        except InvalidOperation:
            return False
    if field in DATE_FIELDS and expected and actual:
        try:
            return date.fromisoformat(expected) == date.fromisoformat(actual)
        except ValueError:
            return False
    return expected.strip() == actual.strip()


def compare_fields(expected: dict[str, str], actual: dict[str, str]) -> list[Violation]:
    """One DE-READBACK violation per field whose saved value differs from what was typed
    (amounts as decimals, dates as dates, text exactly)."""
    out: list[Violation] = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            out.append(
                Violation(
                    code="DE-READBACK",
                    message=f"{name} is not shown on the saved record",
                    field=name,
                    expected=want,
                    actual=None,
                )
            )
        elif not _same(name, want, got):
            out.append(
                Violation(
                    code="DE-READBACK",
                    message=f"{name} was saved as {got!r}, typed {want!r}",
                    field=name,
                    expected=want,
                    actual=got,
                )
            )
    return out
