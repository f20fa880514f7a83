"""The scaffold-name bot's rules: pure functions of (payment, params), no I/O.

Each rule has a stable code; the rule set's version covers this module's source and the params,
so changing a rule or a tolerance shows up in the audit trail and in change control. The bot takes
its params in its constructor and builds its rule set with :func:`build_ruleset`, so an approved
tolerance change (``backoffice rules propose scaffold-name --set limit=500``) is what it runs with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from backoffice import RuleSet, Violation, rule
from pydantic import BaseModel, Field

from .models import ScaffoldNamePayment


class ScaffoldNameParams(BaseModel):
    """The tolerances the rules run with."""

    limit: Decimal = Field(
        default=Decimal("1000.00"), description="Largest amount paid without a team lead's approval."
    )


#: The default params (those of :data:`RULES`).
PARAMS = ScaffoldNameParams()


@rule(
    code="SCAFFOLD-CODE-LIMIT",
    owner_role="team_lead",
    sla=timedelta(hours=8),
    description="Amount above the limit",
)
def over_limit(payment: ScaffoldNamePayment, params: ScaffoldNameParams) -> Iterator[Violation]:
    if payment.amount > params.limit:
        yield Violation(
            code="",
            message="amount above the limit",
            field="amount",
            expected=str(params.limit),
            actual=str(payment.amount),
        )


@rule(
    code="SCAFFOLD-CODE-ACCOUNT",
    owner_role="associate",
    sla=timedelta(hours=24),
    description="No bank account for the payee",
)
def missing_account(payment: ScaffoldNamePayment, params: ScaffoldNameParams) -> Iterator[Violation]:
    if not (payment.payee_account or "").strip():
        yield Violation(code="", message="no bank account for the payee", field="payee_account")


def build_ruleset(params: ScaffoldNameParams) -> RuleSet:
    """The rule set run with ``params`` (its version hashes them)."""
    return RuleSet("scaffold-name", [over_limit, missing_account], params=params)


#: The rule set with the default params.
RULES = build_ruleset(PARAMS)
