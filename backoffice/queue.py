"""The human exception queue.

Operations: enqueue, list/filter/count, get, claim (with a lease; an expired lease returns the
item), claim_next (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), release, comment, resolve
(approve / correct with field changes / reject, with reason and root-cause code), reopen,
escalate, escalate_overdue, stats. Each transition and its audit entry commit in one
transaction; two concurrent claims of one item: exactly one wins.

Maker-checker: approving a business exception takes two people. The maker (associate or team
lead holding the claim) proposes the approval, which parks the item in ``pending_approval``;
a checker who is not the maker confirms it: a team lead within the delegated limit, an
approver above it or for approver-only codes (duplicates, bank changes). Bots and admins
never approve.
"""

from __future__ import annotations

import builtins
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement

from backoffice.audit import AuditEntry, append, append_many
from backoffice.errors import ConflictError, InputError, NotFound
from backoffice.items import Item
from backoffice.jsonutil import jsonable
from backoffice.pii import is_personal_payload, is_sensitive, mask_value, masked
from backoffice.rules import RuleSet, RuleSpec, Violation
from backoffice.schema import comments, items
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, allowed, deny, require

__all__ = ["DECISIONS", "ROOT_CAUSES", "STATUSES", "TIERS", "Queue", "QueueItem", "queue_fields"]

STATUSES = ("new", "done", "open", "claimed", "pending_approval", "resolved", "closed")
QUEUED = ("open", "claimed", "pending_approval")
DECISIONS = ("approve", "correct", "reject")
ROOT_CAUSES = (
    "bad_source_data",
    "vendor_error",
    "po_not_updated",
    "receipt_not_posted",
    "master_data",
    "bot_defect",
    "application_change",
    "other",
)
TIERS = ("associate", "team_lead", "approver")
SlaState = Literal["ok", "at_risk", "overdue", "none"]


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
        r = self.row
        if r["status"] == "claimed" and r["lease_until"] is not None and r["lease_until"] < self.now:
            return "open"  # the lease expired: the item is back in the queue
        return str(r["status"])

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

    def to_dict(self, *, unmask: bool = False) -> dict[str, Any]:
        r = self.row

        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        violations = []
        for v in r["violations"] or []:
            v = dict(v)
            if not unmask and v.get("field") and is_sensitive(str(v["field"])):
                v["expected"] = mask_value(str(v["field"]), v.get("expected"))
                v["actual"] = mask_value(str(v["field"]), v.get("actual"))
            violations.append(v)
        return {
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
            # an item about one person: its amount is that person's pay
            "amount": r["amount"] if unmask or not r.get("personal") else mask_value("net_pay", r["amount"]),
            "currency": r["currency"],
            "violations": violations,
            "codes": (r["codes"] or "").split(),
            "source": r["source"],
            "payload": r["payload"] if unmask else masked(r["payload"]),
            "evidence": r["evidence"],
            "decision": r["decision"],
            "reason": r["reason"],
            "root_cause": r["root_cause"],
            "changes": r["changes"] if unmask or not r["changes"] else masked(r["changes"]),
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


def _set_path(payload: dict[str, Any], path: str, value: Any) -> Any:
    """Set ``a.b.0.c`` in nested dicts/lists; returns the old value. Raises InputError if absent."""
    parts = path.split(".")
    node: Any = payload
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"no list element {part!r} in {path!r}", field=path)
            if last:
                old = node[int(part)]
                node[int(part)] = value
                return old
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                old = node.get(part)
                node[part] = value
                return old
            if part not in node:
                raise InputError(f"no field {part!r} in {path!r}", field=path)
            node = node[part]
        else:
            raise InputError(f"cannot set {path!r}: {parts[i - 1]!r} is not a record", field=path)
    return None  # pragma: no cover


class Queue:
    """The exception queue on a store. Every method that changes state audits it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings

    # -- bot side ---------------------------------------------------------------------------------
    def enqueue(
        self,
        new_items: Iterable[Item],
        *,
        run_id: str | None = None,
        ruleset: RuleSet | None = None,
        actor: str = "bot",
    ) -> list[int]:
        """Put items with violations in the queue (one transaction, one audit entry each).

        Items whose (bot, key) is already known are left alone: enqueueing twice is harmless.
        """
        batch = list(new_items)
        if not batch:
            return []
        now = utcnow()
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for it in batch:
            rows.setdefault((it.bot, it.key), self._row(it, now, run_id, ruleset, status="open"))
        dialect_insert = pg_insert if not self.store.is_sqlite else sqlite_insert
        stmt = (
            dialect_insert(items)
            .on_conflict_do_nothing(index_elements=["bot", "key"])  # known keys are left alone
            .returning(items.c.id, items.c.bot, items.c.key)
        )
        with self.store.write() as conn:
            ids = {(r.bot, r.key): int(r.id) for r in conn.execute(stmt, list(rows.values()))}
            fresh = [row for k, row in rows.items() if k in ids]
            append_many(conn, self.store, (self._queued_entry(r, ids, actor, ruleset) for r in fresh))
        rows = {k: rows[k] for k in rows if k in ids}
        return [ids[k] for k in rows]

    def _row(
        self, it: Item, now: datetime, run_id: str | None, ruleset: RuleSet | None, *, status: str
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "bot": it.bot,
            "key": it.key,
            "run_id": run_id,
            "status": status,
            "kind": it.kind,
            "payload": jsonable(it.payload),
            "source": it.source.model_dump(mode="json"),
            "amount": str(it.amount) if it.amount is not None else None,
            "personal": is_personal_payload(it.payload),
            "currency": it.currency,
            "violations": [v.model_dump(mode="json") for v in it.violations],
            "codes": "",
            "evidence": [e.model_dump(mode="json") for e in it.evidence],
            "priority": 3,
            "owner_role": None,
            "tier": None,
            "approver_only": False,
            "sla_seconds": None,
            "due_at": None,
            "at_risk_at": None,
            "queued_at": None,
            "ruleset_version": ruleset.version if ruleset else None,
            "created_at": now,
            "updated_at": now,
        }
        if status == "open":
            row.update(queue_fields(it.violations, ruleset, now, self.settings.at_risk_fraction))
        return row

    @staticmethod
    def _queued_entry(
        row: dict[str, Any], ids: Mapping[tuple[str, str], int], actor: str, ruleset: RuleSet | None
    ) -> AuditEntry:
        return AuditEntry(
            actor=actor,
            role="bot",
            action="item.queued",
            subject=f"item:{ids[(row['bot'], row['key'])]}",
            bot=row["bot"],
            data={
                "key": row["key"],
                "kind": row["kind"],
                "codes": row["codes"].split(),
                "source": row["source"],
                "amount": row["amount"],
                "due_at": row["due_at"].isoformat() if row["due_at"] else None,
            },
            ruleset_version=ruleset.version if ruleset else None,
            evidence=[e["sha256"] for e in row["evidence"]],
            outcome="queued",
        )

    # -- reading ----------------------------------------------------------------------------------
    def _filters(
        self,
        *,
        status: str | None = None,
        bot: str | None = None,
        code: str | None = None,
        owner_role: str | None = None,
        assignee: str | None = None,
        kind: str | None = None,
        sla: str | None = None,
        older_than: timedelta | None = None,
        now: datetime,
    ) -> list[ColumnElement[bool]]:
        c = items.c
        where: list[ColumnElement[bool]] = []
        if status == "open":
            where.append(or_(c.status == "open", and_(c.status == "claimed", c.lease_until < now)))
        elif status == "unclaimed":  # internal: open and never claimed or released
            where.append(c.status == "open")
        elif status == "expired":  # internal: claimed, lease over
            where.append(and_(c.status == "claimed", c.lease_until < now))
        elif status == "claimed":
            where.append(and_(c.status == "claimed", c.lease_until >= now))
        elif status == "queued":
            where.append(c.status.in_(QUEUED))
        elif status:
            if status not in STATUSES:
                raise InputError(f"unknown status {status!r}; one of {', '.join((*STATUSES, 'queued'))}")
            where.append(c.status == status)
        else:
            where.append(c.status.in_(QUEUED))
        if bot:
            where.append(c.bot == bot)
        if code:
            where.append(c.codes.contains(f" {code} "))
        if owner_role:
            where.append(c.owner_role == owner_role)
        if assignee:
            where.append(and_(c.assignee == assignee, c.status != "open", c.lease_until >= now))
        if kind:
            where.append(c.kind == kind)
        if sla == "overdue":
            where.append(and_(c.status.in_(QUEUED), c.due_at <= now))
        elif sla == "at_risk":
            where.append(and_(c.status.in_(QUEUED), c.at_risk_at <= now, c.due_at > now))
        elif sla == "ok":
            where.append(and_(c.status.in_(QUEUED), c.at_risk_at > now))
        elif sla:
            raise InputError(f"unknown SLA state {sla!r}; one of ok, at_risk, overdue")
        if older_than is not None:
            where.append(c.queued_at <= now - older_than)
        return where

    _SORTS: dict[str, Any] = {
        "due": (items.c.due_at.asc(), items.c.id.asc()),
        "priority": (items.c.priority.asc(), items.c.due_at.asc(), items.c.id.asc()),
        "age": (items.c.queued_at.asc(), items.c.id.asc()),
        "newest": (items.c.id.desc(),),
        "id": (items.c.id.asc(),),
    }

    def list(
        self,
        *,
        limit: int | None = 100,
        offset: int = 0,
        sort: str = "due",
        **filters: Any,
    ) -> builtins.list[QueueItem]:
        """Items matching the filters (default: everything queued), sorted, one page."""
        now = utcnow()
        if sort not in self._SORTS:
            raise InputError(f"unknown sort {sort!r}; one of {', '.join(self._SORTS)}")
        q = select(items).where(*self._filters(now=now, **filters)).order_by(*self._SORTS[sort])
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self.store.read() as conn:
            return [QueueItem(dict(r._mapping), now) for r in conn.execute(q)]

    def count(self, **filters: Any) -> int:
        now = utcnow()
        q = select(func.count()).select_from(items).where(*self._filters(now=now, **filters))
        with self.store.read() as conn:
            return int(conn.execute(q).scalar_one())

    def get(self, item_id: int) -> QueueItem:
        with self.store.read() as conn:
            row = conn.execute(select(items).where(items.c.id == item_id)).first()
        if row is None:
            raise NotFound(f"no item {item_id}")
        return QueueItem(dict(row._mapping), utcnow())

    def comments(self, item_id: int) -> builtins.list[dict[str, Any]]:
        with self.store.read() as conn:
            q = select(comments).where(comments.c.item_id == item_id).order_by(comments.c.id)
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- transitions ------------------------------------------------------------------------------
    def _load(self, conn: Connection, item_id: int) -> QueueItem:
        q = select(items).where(items.c.id == item_id)
        if not self.store.is_sqlite:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no item {item_id}")
        return QueueItem(dict(row._mapping), utcnow())

    def _audit(
        self,
        conn: Connection,
        user: User | str,
        action: str,
        it: QueueItem,
        data: dict[str, Any],
        outcome: str | None = None,
    ) -> None:
        name, role = (user.name, user.role) if isinstance(user, User) else (user, "system")
        append(
            conn,
            self.store,
            AuditEntry(
                actor=name,
                role=role,
                action=action,
                subject=f"item:{it.row['id']}",
                bot=it.row["bot"],
                data=data,
                ruleset_version=it.row["ruleset_version"],
                outcome=outcome,
            ),
        )

    def _deny(self, user: User, action: str, item_id: int, why: str) -> Exception:
        return deny(self.store, user.name, user.role, action, f"item:{item_id}", why)

    def claim(self, item_id: int, user_name: str) -> QueueItem:
        """Take an item for ``lease_minutes``. Exactly one of two concurrent claims wins."""
        user = require(self.store, user_name, Action.WORK, f"item:{item_id}")
        return self._claim(item_id, user)

    def _claim(self, item_id: int, user: User) -> QueueItem:
        """The atomic conditional UPDATE behind every claim, with its audit entry."""
        now = utcnow()
        until = now + timedelta(minutes=self.settings.lease_minutes)
        c = items.c
        with self.store.write() as conn:
            before = self._load(conn, item_id)
            res = conn.execute(
                update(items)
                .where(
                    c.id == item_id,
                    or_(
                        c.status == "open",
                        and_(c.status == "claimed", or_(c.lease_until < now, c.assignee == user.name)),
                    ),
                )
                .values(status="claimed", assignee=user.name, lease_until=until, updated_at=now)
            )
            if res.rowcount != 1:
                holder = before.assignee
                raise ConflictError(
                    f"item {item_id} is {before.status}"
                    + (f", claimed by {holder} until {before.row['lease_until']:%H:%M} UTC" if holder else "")
                )
            data: dict[str, Any] = {"lease_until": until.isoformat()}
            if before.row["status"] == "claimed" and before.row["assignee"] != user.name:
                data["lease_expired_for"] = before.row["assignee"]
            self._audit(conn, user, "item.claimed", before, data)
        return QueueItem(
            {**before.row, "status": "claimed", "assignee": user.name, "lease_until": until}, now
        )

    def claim_next(self, user_name: str, **filters: Any) -> QueueItem | None:
        """Claim the most urgent open item matching the filters, in one write transaction.

        Open items come first (index on status, priority, due), then items whose lease expired.
        PostgreSQL skips rows other claimers hold (``FOR UPDATE SKIP LOCKED``); SQLite's
        ``BEGIN IMMEDIATE`` already makes the transaction the only writer.
        """
        user = require(self.store, user_name, Action.WORK)
        filters.pop("status", None)
        now = utcnow()
        until = now + timedelta(minutes=self.settings.lease_minutes)
        values: dict[str, Any] = {
            "status": "claimed",
            "assignee": user.name,
            "lease_until": until,
            "updated_at": now,
        }
        with self.store.write() as conn:
            item_id = None
            for state in ("unclaimed", "expired"):
                q = (
                    select(items.c.id)
                    .where(*self._filters(now=now, status=state, **filters))
                    .order_by(*self._SORTS["priority"])
                    .limit(1)
                )
                if not self.store.is_sqlite:
                    q = q.with_for_update(skip_locked=True)
                item_id = conn.execute(q).scalar()
                if item_id is not None:
                    break
            if item_id is None:
                return None
            it = self._load(conn, item_id)
            conn.execute(update(items).where(items.c.id == item_id).values(**values))
            data: dict[str, Any] = {"lease_until": until.isoformat(), "next": True}
            if it.row["status"] == "claimed":
                data["lease_expired_for"] = it.row["assignee"]
            self._audit(conn, user, "item.claimed", it, data)
        return QueueItem({**it.row, **values}, now)

    def _held(self, it: QueueItem, user: User, action: str) -> None:
        if it.row["status"] != "claimed" or it.row["assignee"] != user.name:
            holder = it.assignee
            raise ConflictError(
                f"item {it.row['id']} is {it.status}"
                + (f" and claimed by {holder}" if holder else "")
                + f"; claim it before you {action}"
            )

    def release(self, item_id: int, user_name: str) -> QueueItem:
        user = require(self.store, user_name, Action.WORK, f"item:{item_id}")
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            self._held(it, user, "release it")
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(status="open", assignee=None, lease_until=None, updated_at=utcnow())
            )
            self._audit(conn, user, "item.released", it, {})
        return self.get(item_id)

    def comment(self, item_id: int, user_name: str, text: str) -> None:
        user = require(self.store, user_name, Action.READ_QUEUE, f"item:{item_id}")
        text = text.strip()
        if not text:
            raise InputError("a comment needs text", field="text")
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            conn.execute(
                insert(comments).values(item_id=item_id, user=user.name, text=text[:5000], at=utcnow())
            )
            self._audit(conn, user, "item.commented", it, {"text": text[:5000]})

    def resolve(
        self,
        item_id: int,
        user_name: str,
        decision: str,
        reason: str,
        *,
        root_cause: str | None = None,
        changes: Mapping[str, Any] | None = None,
        model: type[BaseModel] | None = None,
    ) -> QueueItem:
        """Decide an item. See the module docstring for who may do what."""
        if decision not in DECISIONS:
            raise InputError(f"decision must be one of {', '.join(DECISIONS)}", field="decision")
        if not reason or not reason.strip():
            raise InputError("a decision needs a reason", field="reason")
        if root_cause is not None and root_cause not in ROOT_CAUSES:
            raise InputError(f"root cause must be one of {', '.join(ROOT_CAUSES)}", field="root_cause")
        if decision == "correct" and not changes:
            raise InputError("a correction needs at least one --set FIELD=VALUE", field="changes")
        if decision != "correct" and changes:
            raise InputError("field changes go with --decision correct", field="changes")
        user = require(self.store, user_name, Action.READ_QUEUE, f"item:{item_id}")
        now = utcnow()
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            pending = it.row["status"] == "pending_approval"
            may_work = allowed(user.role, Action.WORK)
            if not pending and may_work:
                return self._decide(conn, it, user, decision, reason, root_cause, changes, model, now)
        # Checkers and refusals leave the write transaction first (a denial is audited in its own).
        if pending:
            return self._check(item_id, user, decision, reason.strip())
        raise self._deny(
            user, f"resolve:{decision}", item_id, f"{user.name} ({user.role}) may not work exceptions"
        )

    def _decide(
        self,
        conn: Connection,
        it: QueueItem,
        user: User,
        decision: str,
        reason: str,
        root_cause: str | None,
        changes: Mapping[str, Any] | None,
        model: type[BaseModel] | None,
        now: datetime,
    ) -> QueueItem:
        """The maker's decision, inside the caller's write transaction."""
        item_id = it.row["id"]
        self._held(it, user, "decide it")
        values: dict[str, Any] = {
            "decision": decision,
            "reason": reason.strip(),
            "root_cause": root_cause,
            "maker": user.name,
            "updated_at": now,
            "lease_until": None,
        }
        data: dict[str, Any] = {"decision": decision, "reason": reason.strip(), "root_cause": root_cause}
        needs_checker = decision == "approve" and it.row["kind"] == "business"
        if decision == "correct":
            payload = jsonable(it.row["payload"])
            before: dict[str, Any] = {}
            for path, value in (changes or {}).items():
                before[path] = _set_path(payload, path, value)
            if model is not None:
                try:
                    model.model_validate(payload)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise InputError(f"correction is not valid: {first['msg']}", field=where) from None
            values.update(payload=payload, changes=dict(changes or {}))
            data.update(before=before, after=dict(changes or {}))
        if needs_checker:
            tier = "approver" if self._above_limit(it) else "team_lead"
            values.update(status="pending_approval", tier=tier, assignee=None)
            data["needs"] = tier
            action = "item.approval_requested"
        else:
            values.update(status="resolved", resolved_at=now, assignee=None)
            action = "item.resolved"
        conn.execute(update(items).where(items.c.id == item_id).values(**values))
        self._audit(conn, user, action, it, data, outcome=decision)
        return QueueItem({**it.row, **values}, now)

    @staticmethod
    def _sla(it: QueueItem) -> timedelta:
        return timedelta(seconds=it.row["sla_seconds"] or 86400)

    def _above_limit(self, it: QueueItem) -> bool:
        amount = it.amount
        over = amount is not None and abs(amount) > self.settings.delegated_limit
        return bool(over or it.row["approver_only"])

    def _check(self, item_id: int, user: User, decision: str, reason: str) -> QueueItem:
        """The checker's half of maker-checker."""
        with self.store.write() as conn:
            it = self._load(conn, item_id)
        subject = f"check:{decision}"
        if decision == "correct":
            raise InputError("an item waiting for approval can be approved or rejected, not corrected")
        if user.role in ("admin", "bot") or not allowed(user.role, Action.APPROVE):
            raise self._deny(user, subject, item_id, f"{user.name} ({user.role}) may not approve")
        if user.name == it.row["maker"]:
            raise self._deny(
                user,
                subject,
                item_id,
                f"maker-checker: {user.name} made this decision and cannot also check it",
            )
        if self._above_limit(it) and not allowed(user.role, Action.APPROVE_ABOVE_LIMIT):
            why = (
                f"item {item_id} is above the delegated limit of {self.settings.delegated_limit} "
                f"{self.settings.company_currency} or needs an approver ({' '.join(it.codes)}); "
                "an approver must check it"
            )
            raise self._deny(user, subject, item_id, why)
        now = utcnow()
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            if it.row["status"] != "pending_approval":
                raise ConflictError(f"item {item_id} is {it.status}, no longer waiting for approval")
            final = "approve" if decision == "approve" else "reject"
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    status="resolved",
                    decision=final,
                    checker=user.name,
                    reason=f"{it.row['reason']} | checker: {reason}",
                    resolved_at=now,
                    updated_at=now,
                )
            )
            self._audit(
                conn,
                user,
                "item.approved" if final == "approve" else "item.approval_refused",
                it,
                {"maker": it.row["maker"], "reason": reason, "amount": it.row["amount"]},
                outcome=final,
            )
        return self.get(item_id)

    def reopen(self, item_id: int, user_name: str, reason: str) -> QueueItem:
        user = require(self.store, user_name, Action.REOPEN, f"item:{item_id}")
        if not reason.strip():
            raise InputError("reopening needs a reason", field="reason")
        now = utcnow()
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            if it.row["status"] in QUEUED or it.row["status"] == "new":
                raise ConflictError(f"item {item_id} is {it.status}; only decided or finished items reopen")
            sla = self._sla(it)
            conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    status="open",
                    assignee=None,
                    lease_until=None,
                    decision=None,
                    checker=None,
                    maker=None,
                    resolved_at=None,
                    closed_at=None,
                    queued_at=now,
                    due_at=now + sla,
                    at_risk_at=now + sla * self.settings.at_risk_fraction,
                    updated_at=now,
                )
            )
            self._audit(conn, user, "item.reopened", it, {"reason": reason, "was": it.row["status"]})
        return self.get(item_id)

    def escalate(self, item_id: int, user_name: str | None, reason: str) -> QueueItem:
        """Move an item up one tier (associate -> team lead -> approver). ``None`` = the system."""
        actor: User | str = (
            require(self.store, user_name, Action.ESCALATE, f"item:{item_id}")
            if user_name
            else "system:escalation"
        )
        with self.store.write() as conn:
            it = self._load(conn, item_id)
            self._escalate(conn, it, actor, reason)
        return self.get(item_id)

    def _escalate(self, conn: Connection, it: QueueItem, actor: User | str, reason: str) -> None:
        if it.row["status"] not in QUEUED:
            raise ConflictError(f"item {it.row['id']} is {it.status}; only queued items escalate")
        tier = it.row["tier"] or "associate"
        if tier == TIERS[-1]:
            raise ConflictError(f"item {it.row['id']} is already with the last tier ({tier})")
        nxt = TIERS[TIERS.index(tier) + 1]
        now = utcnow()
        sla = self._sla(it)
        conn.execute(
            update(items)
            .where(items.c.id == it.row["id"])
            .values(
                tier=nxt,
                owner_role=nxt,
                priority=max(1, int(it.row["priority"]) - 1),
                escalations=int(it.row["escalations"]) + 1,
                due_at=now + sla,
                at_risk_at=now + sla * self.settings.at_risk_fraction,
                updated_at=now,
            )
        )
        self._audit(conn, actor, "item.escalated", it, {"from": tier, "to": nxt, "reason": reason})

    def escalate_overdue(self) -> builtins.list[int]:
        """Escalate every overdue queued item not yet with the last tier. Returns their ids."""
        now = utcnow()
        done: builtins.list[int] = []
        with self.store.write() as conn:
            q = select(items).where(
                items.c.status.in_(QUEUED), items.c.due_at <= now, items.c.tier != TIERS[-1]
            )
            if not self.store.is_sqlite:  # two runs at once: each overdue item is escalated by one of them
                q = q.with_for_update(skip_locked=True)
            for r in conn.execute(q).fetchall():
                self._escalate(conn, QueueItem(dict(r._mapping), now), "system:escalation", "overdue")
                done.append(int(r.id))
        return done

    # -- KPIs -------------------------------------------------------------------------------------
    def stats(self, *, bot: str | None = None) -> dict[str, Any]:
        """KPI figures: the inbox's KPI page shows exactly these."""
        now = utcnow()
        c = items.c
        where = [c.bot == bot] if bot else []
        with self.store.read() as conn:
            by_status = Counter(
                {
                    s: n
                    for s, n in conn.execute(select(c.status, func.count()).where(*where).group_by(c.status))
                }
            )
            # Aggregates in SQL; Python only sees the columns each figure needs.
            straight = int(
                conn.execute(
                    select(func.count()).where(*where, c.status == "done", c.queued_at.is_(None))
                ).scalar_one()
            )
            by_code: Counter[str] = Counter()
            for codes, n in conn.execute(select(c.codes, func.count()).where(*where).group_by(c.codes)):
                for code in (codes or "").split():
                    by_code[code] += n
            decided = conn.execute(
                select(c.queued_at, c.resolved_at, c.due_at).where(
                    *where, c.resolved_at.is_not(None), c.queued_at.is_not(None)
                )
            ).fetchall()
            ages = [
                (now - q).total_seconds()
                for (q,) in conn.execute(
                    select(c.queued_at).where(*where, c.status.in_(QUEUED), c.queued_at.is_not(None))
                )
            ]
        processed = sum(n for s, n in by_status.items() if s != "new")
        handling = [(r.resolved_at - r.queued_at).total_seconds() for r in decided]
        resolved_n = len(decided)
        attained = sum(1 for r in decided if r.due_at is None or r.resolved_at <= r.due_at)
        ages.sort()
        buckets = {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 0}
        for a in ages:
            days = a / 86400
            key = "<1d" if days < 1 else "1-3d" if days < 3 else "3-7d" if days < 7 else ">7d"
            buckets[key] += 1

        def pct(n: int, d: int) -> float | None:
            return round(100.0 * n / d, 2) if d else None

        return {
            "bot": bot,
            "as_of": now.isoformat(),
            "items": processed,
            "by_status": {s: by_status.get(s, 0) for s in STATUSES},
            "queued": sum(by_status.get(s, 0) for s in QUEUED),
            "straight_through": straight,
            "straight_through_rate": pct(straight, processed),
            "exception_rate": pct(processed - straight, processed),
            "exception_rate_by_code": {k: pct(v, processed) for k, v in sorted(by_code.items())},
            "exceptions_by_code": dict(sorted(by_code.items())),
            "avg_handling_seconds": round(statistics.fmean(handling), 1) if handling else None,
            "sla_attainment": pct(attained, resolved_n),
            "backlog_age_seconds": {
                "median": round(statistics.median(ages), 1) if ages else None,
                "p90": round(ages[min(len(ages) - 1, int(0.9 * len(ages)))], 1) if ages else None,
                "oldest": round(ages[-1], 1) if ages else None,
            },
            "ageing_buckets": buckets,
        }
