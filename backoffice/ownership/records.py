"""Versions of an engagement's ownership register: propose, diff, approve, reject, and the one in force.

A change is proposed by the provider (rpa_expert or team_lead), diffed against the register in
force, and approved (or rejected) by the engagement's client approver: a user of role approver,
never the proposer, and the one the register in force names (the proposal's own for the first
register), unless that one is away. Until approved, the old register stays in force; approving
supersedes it. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, true
from sqlalchemy.engine import Connection

from backoffice import proposals
from backoffice.audit import AuditEntry, append
from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.ownership.absences import away_among
from backoffice.ownership.model import DEFAULT_ENGAGEMENT, OwnerRow, Register
from backoffice.schema import owner_registers
from backoffice.store import Store, utcnow
from backoffice.users import Action, deny, require

__all__ = [
    "RegisterVersion",
    "approve",
    "current_in",
    "current_register",
    "diff",
    "get_version",
    "list_versions",
    "propose",
    "reject",
]

FIELDS = (
    "delivery_owner",
    "decision_owner",
    "backup",
    "response_hours",
    "escalate_amount",
    "escalate_age_hours",
    "path",
)


@dataclass(frozen=True)
class RegisterVersion:
    id: int
    engagement: str
    version: str
    status: str
    proposer: str
    proposed_at: datetime
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    diff: dict[str, Any]
    register: Register

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "engagement": self.engagement,
            "version": self.version,
            "status": self.status,
            "proposer": self.proposer,
            "proposed_at": self.proposed_at.isoformat(),
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_reason": self.decision_reason,
            "diff": self.diff,
            "register": self.register.to_dict(),
        }


def _engagement(name: str | None) -> str | None:
    return name or None


def _register(row: Any) -> Register:
    body = dict(row.rows)
    return Register(
        engagement=row.engagement or DEFAULT_ENGAGEMENT,
        client_approver=body["client_approver"],
        currency=body.get("currency"),
        rows=[OwnerRow.from_dict(r) for r in body["rules"]],
        source=row.source,
        id=int(row.id),
        status=row.status,
    )


def _version(row: Any) -> RegisterVersion:
    return RegisterVersion(
        id=int(row.id),
        engagement=row.engagement or DEFAULT_ENGAGEMENT,
        version=row.version,
        status=row.status,
        proposer=row.proposer,
        proposed_at=row.proposed_at,
        reason=row.reason,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        diff=dict(row.diff or {}),
        register=_register(row),
    )


def _of(engagement: str | None) -> Any:
    """Rows of ``engagement``; None: every row (a store holds one engagement's registers)."""
    c = owner_registers.c
    if engagement is None:
        return true()
    if engagement == DEFAULT_ENGAGEMENT:
        return c.engagement.is_(None) | (c.engagement == DEFAULT_ENGAGEMENT)
    return c.engagement == engagement


def current_in(conn: Connection, engagement: str | None = None) -> Register | None:
    """The approved register in force for ``engagement`` (inside the caller's transaction)."""
    q = (
        select(owner_registers)
        .where(_of(_engagement(engagement)), owner_registers.c.status == "approved")
        .order_by(owner_registers.c.id.desc())
    )
    row = conn.execute(q).first()
    return _register(row) if row is not None else None


def current_register(store: Store, engagement: str | None = None) -> Register | None:
    """The approved register in force for ``engagement`` (``"default"`` when None), or None."""
    with store.read() as conn:
        return current_in(conn, engagement)


def diff(old: Register | None, new: Register) -> dict[str, Any]:
    """Rows added, removed and changed (field: from -> to) from ``old`` to ``new``, and changed settings."""
    before = {(r.bot, r.code): r.to_dict() for r in (old.rows if old else [])}
    after = {(r.bot, r.code): r.to_dict() for r in new.rows}
    changed = []
    for key in sorted(set(before) & set(after)):
        fields = {
            f: {"from": before[key][f], "to": after[key][f]}
            for f in FIELDS
            if before[key][f] != after[key][f]
        }
        if fields:
            changed.append({"bot": key[0], "code": key[1], "changes": fields})
    settings = {}
    for name in ("client_approver", "currency"):
        was = getattr(old, name) if old else None
        if was != getattr(new, name):
            settings[name] = {"from": was, "to": getattr(new, name)}
    return {
        "base": old.id if old else None,
        "added": [after[k] for k in sorted(set(after) - set(before))],
        "removed": [before[k] for k in sorted(set(before) - set(after))],
        "changed": changed,
        "settings": settings,
    }


def _one(conn: Connection, version_id: int) -> RegisterVersion:
    row = conn.execute(select(owner_registers).where(owner_registers.c.id == version_id)).first()
    if row is None:
        raise NotFound(f"no ownership register version #{version_id} (`backoffice owners list` lists them)")
    return _version(row)


def get_version(store: Store, user: str, version_id: int) -> RegisterVersion:
    require(store, user, Action.READ_QUEUE, f"owners:{version_id}")
    with store.read() as conn:
        return _one(conn, version_id)


def list_versions(
    store: Store, user: str, engagement: str | None = None, *, status: str | None = None
) -> list[RegisterVersion]:
    require(store, user, Action.READ_QUEUE, "owners")
    q = select(owner_registers).where(_of(_engagement(engagement))).order_by(owner_registers.c.id.desc())
    if status is not None:
        q = q.where(owner_registers.c.status == status)
    with store.read() as conn:
        return [_version(r) for r in conn.execute(q)]


def propose(store: Store, register: Register, user: str, *, reason: str | None = None) -> RegisterVersion:
    """Store ``register`` (validated against the store's users) as a proposal, diffed against the
    register in force. The register in force stays in force until the proposal is approved."""
    engagement = register.engagement
    who = require(store, user, Action.PROPOSE_OWNERS, f"owners:{engagement}")
    if engagement != store.engagement:
        raise InputError(
            f"the register is engagement {engagement!r}'s; this is the store of {store.engagement!r} "
            f"(--engagement {engagement})",
            field="engagement",
        )
    with store.read() as conn:
        current = current_in(conn, engagement)
        waiting = conn.execute(
            select(owner_registers.c.id).where(
                _of(engagement),
                owner_registers.c.status == "proposed",
                owner_registers.c.version == register.version,
            )
        ).first()
    if current is not None and current.version == register.version:
        raise ConflictError(f"the register in force (#{current.id}) already says this; nothing to propose")
    if waiting is not None:
        raise ConflictError(f"this register is already proposed as #{waiting.id}")
    changes = diff(current, register)
    with store.write() as conn:
        result = conn.execute(
            insert(owner_registers).values(
                engagement=engagement,
                version=register.version,
                source=register.source,
                rows=register.body(),
                diff=changes,
                status="proposed",
                proposer=who.name,
                proposed_at=utcnow(),
                reason=reason,
            )
        )
        pk = result.inserted_primary_key
        if pk is None:  # pragma: no cover - every backend returns the new id
            raise ConflictError("the proposal was not stored")
        new_id = int(pk[0])
        append(
            conn,
            store,
            AuditEntry(
                actor=who.name,
                role=who.role,
                action="owners.proposed",
                subject=f"owners:{new_id}",
                data={
                    "engagement": engagement,
                    "version": register.version,
                    "base": changes["base"],
                    "added": len(changes["added"]),
                    "removed": len(changes["removed"]),
                    "changed": len(changes["changed"]),
                    "reason": reason,
                },
                outcome="proposed",
            ),
        )
        return _one(conn, new_id)


def _decide(
    store: Store, version_id: int, user: str, *, approve: bool, reason: str | None
) -> RegisterVersion:
    subject = f"owners:{version_id}"
    verb = "approve" if approve else "reject"
    who = require(store, user, Action.APPROVE_OWNERS, subject)
    with store.read() as conn:
        rec = _one(conn, version_id)
        current = current_in(conn, rec.engagement)
        named = (current or rec.register).client_approver
        named_away = bool(away_among(conn, [named], utcnow()))
    if rec.proposer == who.name:
        raise deny(
            store,
            who.name,
            who.role,
            f"owners.{verb}",
            subject,
            f"{who.name} proposed register #{rec.id} and may not {verb} it: maker != checker",
        )
    if who.name != named and not named_away:
        raise deny(
            store,
            who.name,
            who.role,
            f"owners.{verb}",
            subject,
            f"the client approver of {rec.engagement} is {named}; {who.name} may {verb} only while {named} is away",
        )
    if rec.status != "proposed":
        raise ConflictError(f"register #{rec.id} is {rec.status}, not proposed")
    with store.write() as conn:
        status, superseded = proposals.decide(
            conn,
            owner_registers,
            rec.id,
            decider=who.name,
            approve=approve,
            reason=reason,
            now=utcnow(),
            scope=_of(rec.engagement),
            label=f"register #{rec.id}",
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=who.name,
                role=who.role,
                action=f"owners.{status}",
                subject=subject,
                data={
                    "engagement": rec.engagement,
                    "version": rec.version,
                    "proposer": rec.proposer,
                    "superseded": superseded,
                    "reason": reason,
                },
                outcome=status,
            ),
        )
        return _one(conn, rec.id)


def approve(store: Store, version_id: int, user: str, *, reason: str | None = None) -> RegisterVersion:
    return _decide(store, version_id, user, approve=True, reason=reason)


def reject(store: Store, version_id: int, user: str, *, reason: str | None = None) -> RegisterVersion:
    return _decide(store, version_id, user, approve=False, reason=reason)
