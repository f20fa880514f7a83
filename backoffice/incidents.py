"""Incidents (issue 14, deliverable 5): a system failure that stopped a run.

Kinds: ``target-down`` (the target refused the bot or the circuit breaker opened),
``rule-storm`` (the rules raised more exceptions than the bound) and ``bot-defect`` (an
unexpected error failed the run). Who does what (DOMAIN.md, the client/provider matrix):

- the provider detects and escalates: the system opens the incident and escalates it to the
  team lead tier, named from the ownership register in force (the team lead of the bot's path,
  else its delivery owner) when there is one;
- the client owns the notification decision: an approver decides ``notify`` yes or no with a
  reason (:func:`decide`), once; the register's client approver is named as its owner;
- the provider acknowledges (:func:`acknowledge`) and resolves (:func:`resolve`) it.

Status: ``open -> acknowledged -> resolved`` (``open -> resolved`` too). Every step is one audit
entry with subject ``incident:<id>`` (``incident.opened``, ``incident.escalated``,
``incident.decided``, ``incident.acknowledged``, ``incident.resolved``): the incident's timeline.
An incident belongs to the engagement whose store it is in (the run's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from backoffice.audit import AuditEntry, append, entries
from backoffice.errors import ConflictError, NotFound, UsageError
from backoffice.notify import Notice
from backoffice.ownership import DEFAULT_ENGAGEMENT, current_in
from backoffice.pii import mask_text
from backoffice.schema import incidents
from backoffice.store import Store, utcnow
from backoffice.users import Action, require

__all__ = [
    "ACTOR",
    "KINDS",
    "STATUSES",
    "Incident",
    "acknowledge",
    "decide",
    "get_incident",
    "incident_notice",
    "list_incidents",
    "open_count",
    "open_incident",
    "resolve",
    "subject_of",
    "timeline",
]

KINDS = ("target-down", "rule-storm", "bot-defect")
STATUSES = ("open", "acknowledged", "resolved")
ACTOR = "system:incidents"
TEAM_LEAD_TIER = "team_lead"


def subject_of(incident_id: int) -> str:
    return f"incident:{incident_id}"


@dataclass(frozen=True)
class Incident:
    id: int
    engagement: str
    kind: str
    run_id: str | None
    bot: str
    opened_at: datetime
    status: str
    summary: str
    data: dict[str, Any]
    escalated_to: str | None
    owner: str | None
    notify: str | None
    notify_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {
            "id": self.id,
            "engagement": self.engagement,
            "kind": self.kind,
            "run_id": self.run_id,
            "bot": self.bot,
            "opened_at": iso(self.opened_at),
            "status": self.status,
            "summary": self.summary,
            "data": self.data,
            "escalated_to": self.escalated_to,
            "owner": self.owner,
            "notify": self.notify,
            "notify_reason": self.notify_reason,
            "decided_by": self.decided_by,
            "decided_at": iso(self.decided_at),
            "acked_by": self.acked_by,
            "acked_at": iso(self.acked_at),
            "resolved_by": self.resolved_by,
            "resolved_at": iso(self.resolved_at),
        }


def _incident(row: Any) -> Incident:
    m = row._mapping
    return Incident(
        **{k: m[k] for k in Incident.__dataclass_fields__ if k not in ("engagement", "data")},
        engagement=m["engagement"] or DEFAULT_ENGAGEMENT,
        data=dict(m["data"] or {}),
    )


def _masked(value: Any) -> Any:
    """Free text in an incident's figures masked (an error message may quote an account)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def open_incident(
    conn: Connection,
    store: Store,
    *,
    kind: str,
    bot: str,
    run_id: str | None,
    summary: str,
    data: Mapping[str, Any],
    actor: str = ACTOR,
    ruleset_version: str | None = None,
    evidence: Iterable[str] = (),
) -> Incident:
    """Open an incident inside the caller's transaction, escalate it to the team lead tier (named
    by the register in force when there is one) and audit both steps."""
    if kind not in KINDS:
        raise UsageError(f"incident kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    register = current_in(conn)
    escalated_to, owner, named = TEAM_LEAD_TIER, None, False
    if register is not None:
        owner = register.client_approver
        owned = register.row_for(bot, None)
        if owned is not None:
            escalated_to = owned.path[-2] if len(owned.path) >= 2 else owned.delivery_owner
            named = True
    figures = _masked(dict(data))
    text = mask_text(summary)[:500]
    at = utcnow()
    result = conn.execute(
        insert(incidents).values(
            engagement=store.engagement,
            kind=kind,
            run_id=run_id,
            bot=bot,
            opened_at=at,
            status="open",
            summary=text,
            data=figures,
            escalated_to=escalated_to,
            owner=owner,
        )
    )
    key = result.inserted_primary_key
    if key is None:
        raise ConflictError("the incident was not stored")
    incident_id = int(key[0])
    subject = subject_of(incident_id)

    def entry(action: str, data: dict[str, Any], outcome: str, proofs: Iterable[str] = ()) -> AuditEntry:
        return AuditEntry(
            actor=actor,
            role="system",
            action=action,
            subject=subject,
            bot=bot,
            data=data,
            ruleset_version=ruleset_version,
            evidence=list(proofs),
            outcome=outcome,
        )

    opened = {"kind": kind, "run_id": run_id, "summary": text, **figures}
    append(conn, store, entry("incident.opened", opened, "open", evidence))
    escalated = {
        "tier": TEAM_LEAD_TIER,
        "to": escalated_to,
        "named_by_register": named,
        "register": register.version if register is not None else None,
        "notification_owner": owner,
    }
    append(conn, store, entry("incident.escalated", escalated, "escalated"))
    return _one(conn, incident_id)


def incident_notice(incident: Incident) -> Notice:
    """The notification of a new incident (event ``incident``, sent once per incident): its id,
    kind, bot, run and who it is escalated to; no figures, no error text."""
    facts = {
        "incident_id": incident.id,
        "kind": incident.kind,
        "bot": incident.bot,
        "run_id": incident.run_id,
        "escalated_to": incident.escalated_to,
        "notification_owner": incident.owner,
    }
    title = f"Incident opened: {incident.kind} in {incident.bot} run {incident.run_id or '-'} (incident {incident.id})"
    return Notice("incident", subject_of(incident.id), title, f"incident:{incident.id}", facts)


def _one(conn: Connection, incident_id: int) -> Incident:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return _incident(row)


def get_incident(store: Store, user: str, incident_id: int) -> Incident:
    require(store, user, Action.READ_INCIDENTS, subject_of(incident_id))
    with store.read() as conn:
        return _one(conn, incident_id)


def list_incidents(
    store: Store,
    user: str,
    *,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Incident]:
    """Incidents, newest first; ``status`` one of STATUSES or ``unresolved`` (open or acknowledged)."""
    require(store, user, Action.READ_INCIDENTS)
    q = select(incidents).order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
    if status == "unresolved":
        q = q.where(incidents.c.status != "resolved")
    elif status is not None:
        if status not in STATUSES:
            raise UsageError(
                f"status must be one of {', '.join(STATUSES)} or unresolved, got {status!r}", field="status"
            )
        q = q.where(incidents.c.status == status)
    if since is not None:
        q = q.where(incidents.c.opened_at >= since)
    if until is not None:
        q = q.where(incidents.c.opened_at < until)
    with store.read() as conn:
        return [_incident(r) for r in conn.execute(q)]


def open_count(conn: Connection) -> int:
    """Incidents not resolved yet (for the KPI page; the caller checked the reader)."""
    q = select(func.count()).select_from(incidents).where(incidents.c.status != "resolved")
    return int(conn.execute(q).scalar_one())


def timeline(store: Store, user: str, incident_id: int) -> list[dict[str, Any]]:
    """The incident's steps, oldest first: its ``incident.*`` audit entries (denied attempts on
    it are in the log too, under the same subject, but are not steps)."""
    require(store, user, Action.READ_INCIDENTS, subject_of(incident_id))
    return [e for e in entries(store, subject=subject_of(incident_id)) if e["action"].startswith("incident.")]


def _step(
    store: Store,
    incident_id: int,
    user: str,
    role: str,
    action: str,
    values: dict[str, Any],
    data: dict[str, Any],
    *,
    allowed_from: tuple[str, ...],
    status: str | None = None,
    check: Any = None,
) -> Incident:
    with store.write() as conn:
        current = _one(conn, incident_id)
        if current.status not in allowed_from:
            raise ConflictError(
                f"incident {incident_id} is {current.status}; {action.split('.')[1]} needs it "
                f"{' or '.join(allowed_from)}"
            )
        if check is not None:
            check(current)
        if status is not None:
            values = {**values, "status": status}
        conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))
        append(
            conn,
            store,
            AuditEntry(
                actor=user,
                role=role,
                action=action,
                subject=subject_of(incident_id),
                bot=current.bot,
                data={"before": current.status, "after": status or current.status, **data},
                outcome=status or current.status,
            ),
        )
        return _one(conn, incident_id)


def decide(store: Store, incident_id: int, user: str, *, notify: bool, reason: str) -> Incident:
    """The client's decision whether to notify stakeholders (regulators, customers) of the
    incident: once, with a reason, by an approver (client side)."""
    who = require(store, user, Action.DECIDE_INCIDENTS, subject_of(incident_id))
    if not reason.strip():
        raise UsageError("a notification decision needs a reason (--reason)", field="reason")

    def once(current: Incident) -> None:
        if current.notify is not None:
            raise ConflictError(
                f"incident {incident_id}: {current.decided_by} already decided notify={current.notify}"
            )

    choice = "yes" if notify else "no"
    return _step(
        store,
        incident_id,
        who.name,
        who.role,
        "incident.decided",
        {"notify": choice, "notify_reason": reason, "decided_by": who.name, "decided_at": utcnow()},
        {"notify": choice, "reason": reason},
        allowed_from=STATUSES,
        check=once,
    )


def acknowledge(store: Store, incident_id: int, user: str, *, note: str | None = None) -> Incident:
    """The provider takes the incident on (rpa_expert or team lead)."""
    who = require(store, user, Action.HANDLE_INCIDENTS, subject_of(incident_id))
    return _step(
        store,
        incident_id,
        who.name,
        who.role,
        "incident.acknowledged",
        {"acked_by": who.name, "acked_at": utcnow()},
        {"note": note} if note else {},
        allowed_from=("open",),
        status="acknowledged",
    )


def resolve(store: Store, incident_id: int, user: str, *, note: str | None = None) -> Incident:
    """The provider closes the incident (the target is back, the defect fixed)."""
    who = require(store, user, Action.HANDLE_INCIDENTS, subject_of(incident_id))
    return _step(
        store,
        incident_id,
        who.name,
        who.role,
        "incident.resolved",
        {"resolved_by": who.name, "resolved_at": utcnow()},
        {"note": note} if note else {},
        allowed_from=("open", "acknowledged"),
        status="resolved",
    )
