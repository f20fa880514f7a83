"""Where a queued item goes: owner role, priority, tier and SLA deadlines from the violated rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from backoffice.pii import WORKER_CLEAR, Masking
from backoffice.rules import RuleSet, RuleSpec, Violation

__all__ = [
    "QUEUE_FIELD_NAMES",
    "TIERS",
    "deadlines",
    "fx_rate",
    "maker_tiers",
    "masking_for",
    "may_check",
    "may_make",
    "next_tier",
    "queue_fields",
    "raised",
    "works_on",
]

TIERS = ("associate", "team_lead", "approver")

QUEUE_FIELD_NAMES = (
    "owner_role",
    "priority",
    "approver_only",
    "sla_seconds",
    "due_at",
    "at_risk_at",
    "queued_at",
    "tier",
    "codes",
)


def queue_fields(
    violations: Sequence[Violation],
    ruleset: RuleSet | None,
    now: datetime,
    at_risk_fraction: float,
) -> dict[str, Any]:
    """Owner role, priority, SLA deadline and at-risk time from the violated rules' specs."""
    specs: list[RuleSpec] = [
        ruleset.spec(v.code) if ruleset else RuleSpec(code=v.code) for v in violations if v.blocking
    ] or [RuleSpec(code="SYSTEM")]
    first = min(specs, key=lambda s: (s.priority, s.sla))
    sla = min(s.sla for s in specs)
    return {
        "owner_role": first.owner_role,
        "priority": min(s.priority for s in specs),
        "approver_only": any(s.approver_only for s in specs),
        "sla_seconds": int(sla.total_seconds()),
        "due_at": now + sla,
        "at_risk_at": now + sla * at_risk_fraction,
        "queued_at": now,
        "tier": "associate",
        "codes": " " + " ".join(sorted({v.code for v in violations})) + " ",
    }


def deadlines(sla_seconds: int | None, now: datetime, at_risk_fraction: float) -> dict[str, datetime]:
    """A fresh SLA from ``now`` (reopen, escalation); an item without one gets a day."""
    sla = timedelta(seconds=sla_seconds or 86400)
    return {"due_at": now + sla, "at_risk_at": now + sla * at_risk_fraction}


def next_tier(tier: str | None) -> str | None:
    """The tier above ``tier`` (None: already the last)."""
    i = TIERS.index(tier or TIERS[0])
    return TIERS[i + 1] if i + 1 < len(TIERS) else None


def _rank(tier: str | None) -> int:
    return TIERS.index(tier or TIERS[0])


def raised(current: str | None, needed: str) -> str:
    """An item's tier is a floor: it only rises until the item is decided."""
    return TIERS[max(_rank(current), _rank(needed))]


# Approvers check, they do not make (DOMAIN.md, Roles): the approver tier is worked by team leads.
_TOP_MAKER = "team_lead"


def may_make(role: str, tier: str | None) -> bool:
    """Whether ``role`` may claim and decide (as maker) an item at ``tier``: from the tier up, the
    approver tier being worked by team leads."""
    return role in TIERS and _rank(role) >= min(_rank(tier), _rank(_TOP_MAKER))


def maker_tiers(role: str) -> tuple[str, ...]:
    """The tiers whose items ``role`` may claim (for claim-next)."""
    return tuple(t for t in TIERS if may_make(role, t))


def may_check(role: str, tier: str | None) -> bool:
    """Whether ``role`` may check (confirm or refuse) an item at ``tier``: from the tier up."""
    return role in TIERS and _rank(role) >= _rank(tier)


def works_on(name: str, role: str, row: Mapping[str, Any]) -> bool:
    """Whether the user ``name`` with ``role`` works the queued item ``row`` (need to know,
    DOMAIN.md): its assignee, its current tier's role (the roles that may claim it), its maker
    and its checkers while it waits for approval. They see the pay figures they must check."""
    status = row.get("status")
    if status == "claimed" and row.get("assignee") == name:
        return True
    if status in ("open", "claimed"):  # the roles that may claim it; approvers on their own tier
        tier = row.get("tier") or TIERS[0]
        return role == tier or (role != "approver" and may_make(role, tier))
    if status == "pending_approval":
        return row.get("maker") == name or (
            role in ("team_lead", "approver") and may_check(role, row.get("tier"))
        )
    return False


def masking_for(name: str, role: str, it: Any, *, unmask: bool = False) -> Masking:
    """How the user ``name`` (``role``) sees the item ``it`` (a QueueItem): its workers see the
    pay figures they must check (need to know); ``unmask`` (compliance, audited by the caller)
    shows everything but secrets; everyone else sees masks."""
    row = {**it.row, "status": it.status}
    return Masking(unmask=unmask, clear=WORKER_CLEAR if works_on(name, role, row) else frozenset())


def fx_rate(currency: str | None, company_currency: str, rates: Mapping[str, Decimal]) -> Decimal | None:
    """The rate from ``currency`` to the company currency: 1 for the company currency (or none),
    the run's rate otherwise; None when the run has no rate for it (the item needs an approver)."""
    if currency is None or currency.upper() == company_currency.upper():
        return Decimal(1)
    return rates.get(currency.upper())
