"""What the register decides for a queued item: its decision owner and response deadline (when it
is queued), who holds it and its approvals now (the backup while the owner is away, or when the
owner made the decision), and the tier its escalation thresholds (amount, age) call for.

Kept free of ``backoffice.queue`` imports: the queue calls these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.engine import Connection

from backoffice.ownership.absences import away_among
from backoffice.ownership.model import OwnerRow, Register
from backoffice.ownership.records import current_in

__all__ = [
    "ItemOwner",
    "codes_of",
    "company_amount",
    "item_owner",
    "owner_fields",
    "threshold_level",
]

ESCALATION_LEVELS = 3  # associate -> team lead -> client approver


def codes_of(row: Mapping[str, Any]) -> list[str]:
    """The rule codes of an item row (``codes`` is stored as `` CODE1 CODE2 ``)."""
    return [c for c in str(row.get("codes") or "").split() if c]


def owner_fields(
    register: Register | None, bot: str, codes: Iterable[str], queued_at: datetime
) -> dict[str, Any]:
    """``decision_owner`` and ``response_due`` of an item of ``bot`` raising ``codes``, queued at
    ``queued_at`` (both None without a register or a row for the bot)."""
    row = register.row_for_codes(bot, sorted(set(codes))) if register is not None else None
    if row is None:
        return {"decision_owner": None, "response_due": None}
    return {"decision_owner": row.decision_owner, "response_due": queued_at + response_time(row)}


def response_time(row: OwnerRow) -> timedelta:
    return timedelta(seconds=int(Decimal(row.response_hours) * 3600))


@dataclass(frozen=True)
class ItemOwner:
    """An item's ownership now: the register's decision owner, the backup, and who holds it."""

    decision_owner: str
    backup: str | None
    holder: str  # who has the item and its approvals now
    away: bool  # the decision owner is away
    response_due: datetime | None
    row: OwnerRow | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_owner": self.decision_owner,
            "backup": self.backup,
            "holder": self.holder,
            "away": self.away,
            "response_due": self.response_due.isoformat() if self.response_due else None,
            "response_hours": str(self.row.response_hours) if self.row else None,
            "path": list(self.row.path) if self.row else [],
        }


def item_owner(
    conn: Connection, row: Mapping[str, Any], at: datetime, *, register: Register | None = None
) -> ItemOwner | None:
    """Who owns the item ``row`` (a row of ``items``) at ``at``; None when it has no decision owner.
    The backup holds it while the owner is away, and checks it when the owner is its maker."""
    owner = row.get("decision_owner")
    if not owner:
        return None
    reg = register if register is not None else current_in(conn)
    found = reg.row_for_codes(str(row["bot"]), codes_of(row)) if reg is not None else None
    backup = found.backup if found is not None and found.backup != owner else None
    away = bool(away_among(conn, [owner], at))
    holder = backup if backup and (away or row.get("maker") == owner) else owner
    due = row.get("response_due")
    if isinstance(due, datetime) and due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return ItemOwner(owner, backup, holder, away, due, found)


def company_amount(row: Mapping[str, Any], company_currency: str) -> Decimal | None:
    """An item row's amount in the company currency (its run's rate), None when unknown."""
    raw = row.get("amount")
    if raw in (None, ""):
        return None
    try:
        amount = Decimal(str(raw))
        if row.get("fx_rate"):
            return amount * Decimal(str(row["fx_rate"]))
    except InvalidOperation:
        return None
    currency = row.get("currency")
    if currency is None or str(currency).upper() == company_currency.upper():
        return amount
    return None


def threshold_level(
    owner: OwnerRow, row: Mapping[str, Any], now: datetime, company_currency: str
) -> tuple[int, str]:
    """How far up the path (0 associate, 1 team lead, 2 client approver) the register's thresholds
    put the item ``row``, and why: an amount above ``escalate_amount`` goes to the client approver;
    every ``escalate_age_hours`` an item waits takes it one step up."""
    level, why = 0, ""
    if owner.escalate_amount is not None:
        amount = company_amount(row, company_currency)
        if amount is not None and amount > owner.escalate_amount:
            level, why = (
                ESCALATION_LEVELS - 1,
                f"amount {amount} above {owner.escalate_amount} {company_currency}",
            )
    queued = row.get("queued_at")
    if owner.escalate_age_hours and isinstance(queued, datetime):
        queued = queued if queued.tzinfo else queued.replace(tzinfo=UTC)
        steps = int((now - queued).total_seconds() // (owner.escalate_age_hours * 3600))
        if steps > level:
            level, why = (
                min(steps, ESCALATION_LEVELS - 1),
                f"waiting over {owner.escalate_age_hours * steps} hours",
            )
    return level, why
