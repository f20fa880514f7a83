"""How the queue shows an item: :class:`QueueItem`, a row of ``items`` seen at one moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from backoffice.lifecycle import QUEUED, effective_status
from backoffice.pii import Masking
from backoffice.rules import Violation

__all__ = ["QueueItem", "SlaState"]

SlaState = Literal["ok", "at_risk", "overdue", "none"]


@dataclass
class QueueItem:
    """A row of the items table as the queue sees it."""

    row: dict[str, Any]
    now: datetime

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def status(self) -> str:
        """The stored status, except that a claim whose lease expired reads as ``open``."""
        return effective_status(str(self.row["status"]), self.row["lease_until"], self.now)

    @property
    def assignee(self) -> str | None:
        return None if self.status == "open" else self.row["assignee"]

    @property
    def amount(self) -> Decimal | None:
        return Decimal(self.row["amount"]) if self.row["amount"] is not None else None

    @property
    def violations(self) -> list[Violation]:
        return [Violation.model_validate(v) for v in self.row["violations"] or []]

    @property
    def sla_state(self) -> SlaState:
        if self.status not in QUEUED or self.row["due_at"] is None:
            return "none"
        if self.now >= self.row["due_at"]:
            return "overdue"
        if self.row["at_risk_at"] is not None and self.now >= self.row["at_risk_at"]:
            return "at_risk"
        return "ok"

    def to_dict(self, *, unmask: bool = False, masking: Masking | None = None) -> dict[str, Any]:
        """The item as a reader sees it: masked by its bot's data classes (backoffice.pii) unless
        ``unmask``; pass one ``masking`` when listing many items."""
        r = self.row

        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        clear = {
            "id": r["id"],
            "bot": r["bot"],
            "key": r["key"],
            "status": self.status,
            "kind": r["kind"],
            "priority": r["priority"],
            "owner_role": r["owner_role"],
            "tier": r["tier"],
            "due_at": iso(r["due_at"]),
            "at_risk_at": iso(r["at_risk_at"]),
            "sla_state": self.sla_state,
            "assignee": self.assignee,
            "lease_until": iso(r["lease_until"]) if self.assignee else None,
            "assigned_to": r.get("assigned_to"),
            "postponed_until": iso(r.get("postponed_until")),
            "amount": r["amount"],
            "currency": r["currency"],
            "violations": [dict(v) for v in r["violations"] or []],
            "codes": (r["codes"] or "").split(),
            "source": r["source"],
            "payload": r["payload"],
            "evidence": r["evidence"],
            "decision": r["decision"],
            "reason": r["reason"],
            "root_cause": r["root_cause"],
            "changes": r["changes"],
            "maker": r["maker"],
            "checker": r["checker"],
            "escalations": r["escalations"],
            "run_id": r["run_id"],
            "ruleset_version": r["ruleset_version"],
            "created_at": iso(r["created_at"]),
            "queued_at": iso(r["queued_at"]),
            "resolved_at": iso(r["resolved_at"]),
            "closed_at": iso(r["closed_at"]),
        }
        return (masking or Masking(unmask=unmask)).item(clear, personal=bool(r.get("personal")))
