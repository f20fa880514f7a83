"""Checks made before anything is typed into the target. Pure functions, no I/O.

The look-ups they need (the target's vendor master and currencies, today's date) come in
:class:`DataEntryContext`, fetched once per run by the bot's ``open`` (``rules_context``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from backoffice.rules import RuleSet, RuleSpec, Violation, rule
from bots.data_entry.models import InvoiceRow

__all__ = ["ACT_CODES", "PARAMS", "RULES", "DataEntryContext", "DataEntryParams", "build_ruleset"]


class DataEntryParams(BaseModel):
    """The tolerances the rules run with (part of the rule-set version)."""

    model_config = ConfigDict(frozen=True)

    max_future_days: int = Field(
        default=0, ge=0, description="How many days after today an invoice date may lie (DE-DATE)."
    )


#: The default parameters: those of :data:`RULES`, the rule set of the ``bot`` object.
PARAMS = DataEntryParams()


@dataclass(frozen=True)
class DataEntryContext:
    """Reference data from the target, read once per run."""

    target: str
    vendors: dict[str, bool] | None = field(default_factory=dict)  # vendor_no -> blocked; None: no master
    currencies: frozenset[str] = frozenset()
    today: date = field(default_factory=date.today)
    max_future_days: int = 0


@rule(code="DE-TOTAL", description="Gross amount equals net plus tax, to the cent.")
def total_adds_up(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    if row.net_amount + row.tax_amount != row.gross_amount:
        yield Violation(
            code="",
            message=f"gross {row.gross_amount} is not net {row.net_amount} + tax {row.tax_amount}",
            field="gross_amount",
            expected=str(row.net_amount + row.tax_amount),
            actual=str(row.gross_amount),
        )


@rule(code="DE-AMOUNT", description="Amounts are not negative and the gross amount is above zero.")
def amounts_positive(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    for name in ("net_amount", "tax_amount", "gross_amount"):
        value: Decimal = getattr(row, name)
        if value < 0 or (name == "gross_amount" and value == 0):
            yield Violation(code="", message=f"{name} must be above zero", field=name, actual=str(value))


@rule(
    code="DE-VENDOR",
    description="The vendor exists in the target's vendor master and is not blocked.",
    codes=(
        RuleSpec(code="DE-VENDOR-BLOCKED", description="The vendor is blocked for posting in the target."),
    ),
)
def vendor_known(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    if ctx.vendors is None:  # the target's mapping declares no vendor master: its form checks
        return
    if row.vendor_no not in ctx.vendors:
        yield Violation(
            code="",
            message=f"vendor {row.vendor_no} is not in the target",
            field="vendor_no",
            actual=row.vendor_no,
        )
    elif ctx.vendors[row.vendor_no]:
        yield Violation(
            code="DE-VENDOR-BLOCKED",
            message=f"vendor {row.vendor_no} is blocked in the target",
            field="vendor_no",
            actual=row.vendor_no,
        )


@rule(code="DE-CURRENCY", description="The currency is one the target accepts.")
def currency_accepted(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    if ctx.currencies and row.currency not in ctx.currencies:
        yield Violation(
            code="",
            message=f"currency {row.currency} is not accepted by the target",
            field="currency",
            expected=sorted(ctx.currencies),
            actual=row.currency,
        )


@rule(code="DE-DATE", description="The invoice date is not in the future; the due date is not before it.")
def dates_plausible(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    latest = ctx.today + timedelta(days=ctx.max_future_days)
    if row.invoice_date > latest:
        yield Violation(
            code="",
            message=f"invoice date {row.invoice_date} is in the future",
            field="invoice_date",
            expected=f"<= {latest}",
            actual=row.invoice_date.isoformat(),
        )
    if row.due_date is not None and row.due_date < row.invoice_date:
        yield Violation(
            code="",
            message=f"due date {row.due_date} is before the invoice date",
            field="due_date",
            expected=f">= {row.invoice_date}",
            actual=row.due_date.isoformat(),
        )


#: Codes raised while acting (after the rules passed); listed so the queue knows owner and SLA.
ACT_CODES = (
    RuleSpec(code="DE-REJECTED", description="The target's own validation refused the form."),
    RuleSpec(
        code="DE-DUPLICATE",
        description="The target already holds this invoice under another reference.",
        priority=2,
    ),
    RuleSpec(code="DE-READBACK", description="The saved record differs from what was typed.", priority=2),
    RuleSpec(
        code="DE-SYSTEM",
        owner_role="rpa_expert",
        sla=timedelta(hours=8),
        description="Entry failed for a technical reason (timeout or 5xx after retries, a missing element at "
        "once); a run of them stops the run instead (circuit breaker, one incident).",
    ),
)


@rule(
    code="DE-REFERENCE",
    description="Row id and invoice number are usable as target references.",
    codes=ACT_CODES,
)
def reference_usable(row: InvoiceRow, ctx: DataEntryContext) -> Iterator[Violation]:
    if any(ch.isspace() for ch in row.invoice_no):
        yield Violation(
            code="", message="invoice number contains spaces", field="invoice_no", actual=row.invoice_no
        )


RULE_FUNCTIONS = (
    total_adds_up,
    amounts_positive,
    vendor_known,
    currency_accepted,
    dates_plausible,
    reference_usable,
)


def build_ruleset(params: DataEntryParams) -> RuleSet:
    """The rule set run with ``params`` (its version hashes them): change control builds the bot
    with approved params, ``DataEntryBot(params)``, and the bot builds its rule set here."""
    return RuleSet(
        "data-entry",
        list(RULE_FUNCTIONS),
        params=params,
        # The model's validators (formula and control-character refusal) and the read-back comparison
        # decide outcomes too: a change there is a new rule-set version.
        depends_on=["bots.data_entry.models", "bots.data_entry.readback"],
    )


#: The rule set with the default params.
RULES = build_ruleset(PARAMS)
