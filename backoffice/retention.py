"""Retention per record class, legal holds, and purges that keep the audit chain verifiable.

Record classes (default retention; ``None`` keeps forever), changeable with
``backoffice audit retention set CLASS DAYS``:

=============  =====  ==========================================================================
class          days   what
=============  =====  ==========================================================================
financial      3653   entries and items of bots whose ``record_class`` is financial (invoices,
                      postings), and of bots that are not installed: 10 years
payroll        2557   entries and items of bots whose ``record_class`` is payroll: 7 years
security        730   logins, failed logins, permission denials, user and role changes: 2 years
audit_access   3653   audit reads, exports, verifications, unmasks, holds, purges: 10 years
operational     365   entries and items of bots whose ``record_class`` is operational, and
                      anything else: 1 year
=============  =====  ==========================================================================

The class of a bot's items and entries is the bot's declared ``record_class`` (read through the
plugin registry). A bot that is not installed, or that names a class not listed here, gets
``financial``: the longest business retention, so nothing is purged early for want of a name.

A legal hold names a scope: a subject (``item:42``, ``run:abc``, ``user:bob``), ``bot:NAME``,
``actor:NAME`` or ``class:CLASS``. Held records are never purged, whatever their age.

Purging the audit log. The log is a hash chain, so entries can only leave it from the front:
:func:`purge` removes the longest prefix in which *every* entry is past its class's retention and
not held, and first writes a signed **checkpoint** ``(seq, hash, at, purged)`` of the last removed
entry (HMAC-SHA256 with ``BACKOFFICE_AUDIT_KEY``, else plain SHA-256), then appends a
``retention.purged`` entry carrying that checkpoint. :func:`backoffice.audit.verify` starts after
the latest checkpoint: it checks the signature, that the retained chain holds the matching
``retention.purged`` entry, and that the first retained entry links to the checkpoint's hash.
An entry of a long-lived class therefore keeps the shorter-lived entries after it in the log
until it expires too (never too early, sometimes later than its class says).

Items (payloads with personal data), their comments and evidence files are purged per class on
their own: a finished item (done, resolved, closed) whose class retention has passed since it
finished and that is not held is deleted; evidence files that no remaining item or audit entry
references (and older than the shortest retention) are deleted too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)

from backoffice.audit import AuditEntry, append, evidence_path
from backoffice.audit.chain import chain_start
from backoffice.audit.checkpoints import audit_checkpoints, checkpoints, latest_checkpoint, sign_checkpoint
from backoffice.errors import ConfigError, ConflictError, InputError, NotFound
from backoffice.plugins import registry
from backoffice.schema import UTC_DT, audit, comments, evidence, item_rounds, item_violations, items, metadata
from backoffice.store import Store, utcnow
from backoffice.users import Action, User, deny, require

__all__ = [
    "CLASSES",
    "BotClasses",
    "Hold",
    "PurgeResult",
    "chain_start",
    "checkpoints",
    "holds",
    "latest_checkpoint",
    "place_hold",
    "policies",
    "purge",
    "record_class",
    "release_hold",
    "set_policy",
]

CLASSES: dict[str, int | None] = {
    "financial": 3653,
    "payroll": 2557,
    "security": 730,
    "audit_access": 3653,
    "operational": 365,
}
CLASS_HELP = {
    "financial": "entries and items of bots with record_class financial (invoices, postings)",
    "payroll": "entries and items of bots with record_class payroll",
    "security": "logins, failed logins, permission denials, user and role changes",
    "audit_access": "audit reads, exports, verifications, unmasks, legal holds, purges",
    "operational": "entries and items of bots with record_class operational; anything else",
}
UNKNOWN_BOT_CLASS = "financial"
MANAGE_ROLES = frozenset({"compliance"})
FINISHED = ("done", "resolved", "closed")

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(200), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UTC_DT, nullable=False),
    Column("released_by", String(120)),
    Column("released_at", UTC_DT),
)

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("record_class", String(40), primary_key=True),
    Column("days", Integer),
    Column("updated_by", String(120), nullable=False),
    Column("updated_at", UTC_DT, nullable=False),
)


# -- classes and policies ---------------------------------------------------------------------------
class BotClasses:
    """Each bot's declared ``record_class``, looked up in the plugin registry once per bot for
    the lifetime of this object (one purge)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, bot: str) -> str:
        if bot not in self._known:
            try:
                found = registry().find(bot)
            except ConfigError:  # an entry point that is not a Bot: as if not installed
                found = None
            cls = found.record_class if found is not None else UNKNOWN_BOT_CLASS
            self._known[bot] = cls if cls in CLASSES else UNKNOWN_BOT_CLASS
        return self._known[bot]


def record_class(action: str, bot: str | None, bot_classes: BotClasses | None = None) -> str:
    """The record class of an audit entry (or, with ``action="item"``, of an item of ``bot``).

    Pass one ``bot_classes`` when classifying many records (each bot is looked up once)."""
    if action.startswith(("audit.", "pii.", "retention.", "legal_hold.", "access_review.")):
        return "audit_access"
    if action in ("login", "login.failed", "logout", "permission.denied") or action.startswith("user."):
        return "security"
    if bot:
        return (bot_classes or BotClasses())(bot)
    return "operational"


def policies(store: Store) -> dict[str, int | None]:
    """Retention days per class: the defaults overridden by ``retention_policies`` rows."""
    out = dict(CLASSES)
    with store.read() as conn:
        for row in conn.execute(select(retention_policies)):
            out[row.record_class] = row.days
    return out


def _manager(store: Store, user_name: str, what: str, subject: str | None) -> User:
    user = require(store, user_name, Action.READ_AUDIT, subject)
    if user.role not in MANAGE_ROLES:
        raise deny(
            store,
            user.name,
            user.role,
            what,
            subject,
            f"{user.name} ({user.role}) may not {what}; compliance may",
        )
    return user


def set_policy(store: Store, record_class_: str, days: int | None, *, by: str) -> None:
    if record_class_ not in CLASSES:
        raise InputError(
            f"unknown record class {record_class_!r}; one of {', '.join(CLASSES)}", field="class"
        )
    if days is not None and days < 1:
        raise InputError("retention is at least 1 day (or 'forever')", field="days")
    user = _manager(store, by, "set retention", f"retention:{record_class_}")
    before = policies(store)[record_class_]
    now = utcnow()
    with store.write() as conn:
        conn.execute(delete(retention_policies).where(retention_policies.c.record_class == record_class_))
        conn.execute(
            insert(retention_policies).values(
                record_class=record_class_, days=days, updated_by=user.name, updated_at=now
            )
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="retention.policy_set",
                subject=f"retention:{record_class_}",
                data={"before": {"days": before}, "after": {"days": days}},
                outcome="ok",
            ),
        )


# -- legal holds ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hold:
    id: int
    scope: str
    reason: str
    created_by: str
    created_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "released_by": self.released_by,
            "released_at": self.released_at.isoformat() if self.released_at else None,
        }


_SCOPE_KINDS = ("item", "run", "user", "bot", "actor", "class", "subject")


def _check_scope(scope: str) -> str:
    scope = scope.strip()
    kind, _, value = scope.partition(":")
    if kind not in _SCOPE_KINDS or not value:
        raise InputError(
            f"a hold scope is KIND:VALUE with KIND one of {', '.join(_SCOPE_KINDS)} (e.g. item:42), got {scope!r}",
            field="scope",
        )
    if kind == "class" and value not in CLASSES:
        raise InputError(f"unknown record class {value!r}; one of {', '.join(CLASSES)}", field="scope")
    return scope


def holds(store: Store, *, active_only: bool = True) -> list[Hold]:
    q = select(legal_holds).order_by(legal_holds.c.id)
    if active_only:
        q = q.where(legal_holds.c.released_at.is_(None))
    with store.read() as conn:
        return [Hold(**dict(r._mapping)) for r in conn.execute(q)]


def place_hold(store: Store, scope: str, reason: str, *, by: str) -> Hold:
    scope = _check_scope(scope)
    if not reason.strip():
        raise InputError("a legal hold needs a reason", field="reason")
    user = _manager(store, by, "place a legal hold", scope)
    now = utcnow()
    with store.write() as conn:
        result = conn.execute(
            insert(legal_holds).values(
                scope=scope, reason=reason.strip(), created_by=user.name, created_at=now
            )
        )
        pk = result.inserted_primary_key
        if pk is None:  # pragma: no cover - every backend returns the new id
            raise ConflictError("the legal hold was not stored")
        hold_id = int(pk[0])
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="legal_hold.placed",
                subject=scope,
                data={"hold": hold_id, "reason": reason.strip()},
                outcome="ok",
            ),
        )
    return Hold(hold_id, scope, reason.strip(), user.name, now)


def release_hold(store: Store, hold_id: int, reason: str, *, by: str) -> None:
    if not reason.strip():
        raise InputError("releasing a legal hold needs a reason", field="reason")
    user = _manager(store, by, "release a legal hold", f"hold:{hold_id}")
    with store.write() as conn:
        row = conn.execute(select(legal_holds).where(legal_holds.c.id == hold_id)).first()
        if row is None:
            raise NotFound(f"no legal hold {hold_id}")
        if row.released_at is not None:
            raise ConflictError(f"legal hold {hold_id} was released already")
        conn.execute(
            update(legal_holds)
            .where(legal_holds.c.id == hold_id)
            .values(released_by=user.name, released_at=utcnow())
        )
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="legal_hold.released",
                subject=row.scope,
                data={"hold": hold_id, "reason": reason.strip()},
                outcome="ok",
            ),
        )


def _held(active: list[Hold], *, subject: str | None, bot: str | None, actor: str | None, cls: str) -> bool:
    for h in active:
        kind, _, value = h.scope.partition(":")
        if kind == "bot" and bot == value:
            return True
        if kind == "actor" and actor == value:
            return True
        if kind == "class" and cls == value:
            return True
        if kind == "subject" and subject == value:
            return True
        if kind in ("item", "run", "user") and subject == h.scope:
            return True
    return False


# -- purge ------------------------------------------------------------------------------------------
@dataclass
class PurgeResult:
    as_of: datetime
    dry_run: bool
    entries_purged: int = 0
    through_seq: int | None = None
    checkpoint: dict[str, Any] | None = None
    stopped_at: dict[str, Any] | None = None
    by_class: Counter[str] = field(default_factory=Counter)
    items_purged: int = 0
    items_held: int = 0
    comments_purged: int = 0
    evidence_purged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "entries_purged": self.entries_purged,
            "through_seq": self.through_seq,
            "checkpoint": self.checkpoint,
            "stopped_at": self.stopped_at,
            "by_class": dict(sorted(self.by_class.items())),
            "items_purged": self.items_purged,
            "items_held": self.items_held,
            "comments_purged": self.comments_purged,
            "evidence_purged": self.evidence_purged,
        }


def _expired(at: datetime, days: int | None, as_of: datetime) -> bool:
    return days is not None and at + timedelta(days=days) <= as_of


def _rows_from(store: Store, start_seq: int) -> Iterator[dict[str, Any]]:
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=2000).execute(
            select(
                audit.c.seq,
                audit.c.at,
                audit.c.action,
                audit.c.bot,
                audit.c.subject,
                audit.c.actor,
                audit.c.hash,
            )
            .where(audit.c.seq >= start_seq)
            .order_by(audit.c.seq)
        )
        for r in result:
            yield dict(r._mapping)


def purge(store: Store, *, by: str, as_of: datetime | None = None, dry_run: bool = False) -> PurgeResult:
    """Purge what retention allows (see the module docstring); ``dry_run`` only reports."""
    user = _manager(store, by, "purge records", "retention:purge")
    as_of = as_of or utcnow()
    if as_of.tzinfo is None:
        raise InputError("as_of must be timezone-aware", field="as_of")
    days = policies(store)
    active = holds(store)
    result = PurgeResult(as_of=as_of, dry_run=dry_run)

    start_seq, _ = chain_start(store)
    last: dict[str, Any] | None = None
    bot_classes = BotClasses()
    for row in _rows_from(store, start_seq):
        cls = record_class(row["action"], row["bot"], bot_classes)
        at = datetime.fromisoformat(row["at"])
        held = _held(active, subject=row["subject"], bot=row["bot"], actor=row["actor"], cls=cls)
        if held or not _expired(at, days[cls], as_of):
            result.stopped_at = {
                "seq": row["seq"],
                "class": cls,
                "why": "legal hold" if held else f"retained until {_until(at, days[cls])}",
            }
            break
        result.by_class[cls] += 1
        last = row
    if last is not None:
        result.entries_purged = sum(result.by_class.values())
        result.through_seq = int(last["seq"])

    finished_at = func.coalesce(items.c.closed_at, items.c.resolved_at, items.c.updated_at, type_=UTC_DT)
    with store.read() as conn:
        candidates = conn.execute(
            select(items.c.id, items.c.bot, finished_at.label("finished")).where(items.c.status.in_(FINISHED))
        ).all()
    purge_items: list[int] = []
    for c in candidates:
        cls = record_class("item", c.bot, bot_classes)
        finished: datetime = c.finished
        if not _expired(finished, days[cls], as_of):
            continue
        if _held(active, subject=f"item:{c.id}", bot=c.bot, actor=None, cls=cls):
            result.items_held += 1
            continue
        purge_items.append(int(c.id))
    result.items_purged = len(purge_items)
    if dry_run:
        return result

    with store.write() as conn:
        if result.through_seq is not None and last is not None:
            at_text = as_of.isoformat(timespec="microseconds")
            alg, sig = sign_checkpoint(
                store, result.through_seq, last["hash"], at_text, result.entries_purged
            )
            cp = {
                "seq": result.through_seq,
                "hash": last["hash"],
                "at": at_text,
                "purged": result.entries_purged,
                "created_by": user.name,
                "alg": alg,
                "signature": sig,
            }
            conn.execute(insert(audit_checkpoints).values(**cp))
            conn.execute(delete(audit).where(audit.c.seq <= result.through_seq))
            result.checkpoint = cp
        for chunk in range(0, len(purge_items), 500):
            ids = purge_items[chunk : chunk + 500]
            result.comments_purged += conn.execute(
                delete(comments).where(comments.c.item_id.in_(ids))
            ).rowcount
            conn.execute(delete(item_violations).where(item_violations.c.item_id.in_(ids)))
            conn.execute(delete(item_rounds).where(item_rounds.c.item_id.in_(ids)))
            conn.execute(delete(items).where(items.c.id.in_(ids)))
        shortest = min((d for d in days.values() if d), default=None)
        gone = _orphan_evidence(conn, as_of - timedelta(days=shortest)) if shortest else []
        result.evidence_purged = len(gone)
        append(
            conn,
            store,
            AuditEntry(
                actor=user.name,
                role=user.role,
                action="retention.purged",
                subject=f"checkpoint:{result.through_seq}" if result.checkpoint else "retention:purge",
                data={**result.to_dict(), "policies": days, "holds": [h.scope for h in active]},
                outcome="ok",
            ),
        )
    for sha in gone:
        path = evidence_path(store, sha)
        path.unlink(missing_ok=True)
    return result


def _until(at: datetime, days: int | None) -> str:
    return "forever" if days is None else (at + timedelta(days=days)).date().isoformat()


def _orphan_evidence(conn: Any, older_than: datetime) -> list[str]:
    """Delete evidence rows no item or retained audit entry references; returns their hashes."""
    referenced: set[str] = set()
    for (ev,) in conn.execute(select(items.c.evidence)):
        for ref in ev or []:
            if isinstance(ref, dict) and "sha256" in ref:
                referenced.add(str(ref["sha256"]))
    for (ev,) in conn.execute(select(audit.c.evidence).where(audit.c.evidence != "[]")):
        referenced.update(json.loads(ev))
    gone = [
        sha
        for sha, created in conn.execute(select(evidence.c.sha256, evidence.c.created_at))
        if sha not in referenced and created <= older_than
    ]
    for chunk in range(0, len(gone), 500):
        conn.execute(delete(evidence).where(evidence.c.sha256.in_(gone[chunk : chunk + 500])))
    return gone
