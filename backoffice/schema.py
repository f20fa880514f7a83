"""Tables of the store (SQLAlchemy Core). Alembic migrations in backoffice/migrations create them.

Amounts are stored as decimal strings (never floats); times as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "api_tokens",
    "audit",
    "audit_anchor",
    "audit_head",
    "comments",
    "engagements",
    "evidence",
    "incidents",
    "item_rounds",
    "item_violations",
    "items",
    "login_throttle",
    "metadata",
    "notices",
    "owner_registers",
    "qa_reviews",
    "qa_samples",
    "rule_versions",
    "runs",
    "saved_views",
    "sessions",
    "user_absences",
    "users",
]

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timezone-aware datetime required, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTC_DT = UTCDateTime()

users = Table(
    "users",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("role", String(40), nullable=False),
    Column("password_hash", String(300)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTC_DT, nullable=False),
    Column("last_login_at", UTC_DT),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("bot", String(80), nullable=False, index=True),
    Column("actor", String(160), nullable=False),
    Column("host", String(255)),  # where the run's process lives (crash detection)
    Column("pid", Integer),
    Column("started_at", UTC_DT, nullable=False),
    Column("finished_at", UTC_DT),
    Column("status", String(20), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("ruleset_version", String(80)),
    Column("summary", JSON),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bot", String(80), nullable=False),
    Column("key", String(200), nullable=False),
    Column("run_id", String(40)),
    # new | done | open | claimed | pending_approval | resolved | closed
    Column("status", String(20), nullable=False),
    Column("kind", String(10), nullable=False, default="business"),  # business | system
    Column("payload", JSON, nullable=False),
    Column("source", JSON, nullable=False),
    Column("amount", String(40)),  # Decimal as text
    Column("personal", Boolean, nullable=False, default=False),  # about one person: amount is pay
    Column("currency", String(3)),
    Column("fx_rate", String(40)),  # rate currency -> company currency the run recorded (Decimal text)
    Column("violations", JSON, nullable=False),
    Column("codes", String(500), nullable=False, default=""),  # " CODE1 CODE2 " for filtering
    Column("evidence", JSON, nullable=False),
    Column("priority", Integer, nullable=False, default=3),  # 1 highest .. 5 lowest
    Column("owner_role", String(40)),
    Column("tier", String(40)),  # associate | team_lead | approver
    Column("approver_only", Boolean, nullable=False, default=False),
    Column("sla_seconds", Integer),
    Column("due_at", UTC_DT),
    Column("at_risk_at", UTC_DT),
    Column("assignee", String(120)),
    Column("lease_until", UTC_DT),
    Column("decision", String(20)),  # approve | correct | reject
    Column("reason", Text),
    Column("root_cause", String(40)),
    Column("changes", JSON),
    Column("maker", String(120)),
    Column("checker", String(120)),
    Column("result", JSON),
    Column("ruleset_version", String(80)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("escalations", Integer, nullable=False, default=0),
    Column("created_at", UTC_DT, nullable=False),
    Column("updated_at", UTC_DT, nullable=False),
    Column("queued_at", UTC_DT),
    Column("resolved_at", UTC_DT),
    Column("closed_at", UTC_DT),
    Column("assigned_to", String(120)),  # who should work it next (a team lead's or auto assignment)
    Column("postponed_until", UTC_DT),  # hidden from the queue's default view until then
    Column("postpone_reason", Text),
    Column("decision_owner", String(120)),  # from the ownership register when queued (migration 0014)
    Column("response_due", UTC_DT),  # queued_at + the register's response-time commitment
    UniqueConstraint("bot", "key", name="uq_items_bot_key"),
    Index("ix_items_status_due", "status", "due_at"),
    Index("ix_items_status_priority", "status", "priority", "due_at", "id"),
    Index("ix_items_bot_status", "bot", "status"),
    Index("ix_items_assignee", "assignee"),
    Index("ix_items_queued_at", "queued_at"),
    Index("ix_items_assigned_to", "assigned_to"),
    Index("ix_items_created_at", "created_at"),
    Index("ix_items_resolved_at", "resolved_at"),
    Index("ix_items_status_id", "status", "id"),  # migration 0017: the queue page by id / newest
    Index("ix_items_status_queued", "status", "queued_at", "id"),  # ... and by age
)

# Every round an item spends in the queue (queued by a run or reopened by QA, until decided) and
# the violations raised in it: kept across corrections, reprocessing and reopens (migration 0009).
item_rounds = Table(
    "item_rounds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("bot", String(80), nullable=False),
    Column("kind", String(10), nullable=False),  # business | system
    Column("opened_by", String(120), nullable=False),  # the run's actor, or the QA user who reopened
    Column("run_id", String(40)),
    Column("queued_at", UTC_DT, nullable=False),
    Column("first_claimed_at", UTC_DT),  # waiting = first claim - queued; handling = decided - claim
    Column("decided_at", UTC_DT),
    Column("decision", String(20)),
    Column("maker", String(120)),
    Column("checker", String(120)),
    UniqueConstraint("item_id", "round", name="uq_item_rounds_item_round"),
    Index("ix_item_rounds_bot_queued", "bot", "queued_at"),
    Index("ix_item_rounds_queued", "queued_at"),
    Index("ix_item_rounds_decided", "decided_at"),
)

item_violations = Table(
    "item_violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("bot", String(80), nullable=False),
    Column("code", String(80), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("violation", JSON, nullable=False),  # {code, message, field, expected, actual, ...}
    Column("recorded_at", UTC_DT, nullable=False),
    Index("ix_item_violations_item", "item_id", "round"),
    Index("ix_item_violations_bot_code", "bot", "code"),
    Index("ix_item_violations_recorded", "recorded_at"),
)

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    Column("user", String(120), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UTC_DT, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),  # ISO-8601 UTC, exactly as hashed
    Column("actor", String(200), nullable=False),
    Column("role", String(40)),
    Column("action", String(80), nullable=False),
    Column("subject", String(200)),
    Column("bot", String(80)),
    Column("data", Text, nullable=False),  # canonical JSON, exactly as hashed
    Column("ruleset_version", String(80)),
    Column("evidence", Text, nullable=False),  # canonical JSON list of sha256
    Column("outcome", String(40)),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_subject", "subject"),
    Index("ix_audit_at", "at"),
)

# One row (id=1) holding the chain head; writers lock it, so the chain never forks.
# The signature is over (seq, hash) with the audit key (backoffice.audit.anchor).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(64)),  # NULL only in a log from before signed heads
)

# One row (id=1), written with the log's first entry: the store's id, when its log began, the
# fingerprint of the audit key it is written with; signed (backoffice.audit.anchor).
audit_anchor = Table(
    "audit_anchor",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("store_id", String(36), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("key_fp", String(64), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("alg", String(20), nullable=False),
    Column("signature", String(64), nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", UTC_DT, nullable=False),
)

# Inbox sessions, kept server-side so they can be ended (logout, password or role change,
# deactivation). ``id`` is the sha256 of the secret in the cookie, never the secret itself.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user", String(120), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("auth", String(20), nullable=False),  # how the session was opened: password
    Column("role", String(40), nullable=False),  # the role at login: a role change ends the session
    Column("credential", String(64), nullable=False),  # sha256 of the password hash at login
    Column("created_at", UTC_DT, nullable=False),
    Column("last_seen_at", UTC_DT, nullable=False),
    Column("expires_at", UTC_DT, nullable=False),  # the absolute limit
    Column("ended_at", UTC_DT),
    Column("end_reason", String(40)),
)

# Personal API tokens: created by their user, stored as sha256 of the secret part, expiring, revocable.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(24), primary_key=True),  # the public part of the token (bo_<id>_<secret>)
    Column("user", String(120), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created_at", UTC_DT, nullable=False),
    Column("expires_at", UTC_DT, nullable=False),
    Column("last_used_at", UTC_DT),
    Column("revoked_at", UTC_DT),
    Column("revoked_by", String(120)),
)

# Failed logins per key (``user:NAME``, ``client:ADDR``, ``pair:NAME@ADDR``): growing delays, not a lock.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("refusals", Integer, nullable=False, default=0),
    Column("last_failure_at", UTC_DT),
    Column("next_allowed_at", UTC_DT),
)

# A user's named filter sets on the queue page (backoffice.queue.saved_views).
saved_views = Table(
    "saved_views",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(120), nullable=False),
    Column("name", String(120), nullable=False),
    Column("query", JSON, nullable=False),  # the queue page's query parameters
    Column("created_at", UTC_DT, nullable=False),
    Column("updated_at", UTC_DT, nullable=False),
    UniqueConstraint("user", "name", name="uq_saved_views_user_name"),
)

# QA samples (backoffice.queue.sampling): a seeded random draw of done and resolved items of one
# bot, and one review row per drawn item holding its verdict.
qa_samples = Table(
    "qa_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bot", String(80), nullable=False),
    Column("size", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("date_from", UTC_DT),
    Column("date_to", UTC_DT),
    Column("population", Integer, nullable=False),
    Column("drawn_by", String(120), nullable=False),
    Column("drawn_at", UTC_DT, nullable=False),
)

qa_reviews = Table(
    "qa_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sample_id", Integer, ForeignKey("qa_samples.id"), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("bot", String(80), nullable=False),
    Column("worker", String(200), nullable=False),  # who decided the item (a user, or bot:NAME)
    Column("verdict", String(10)),  # pass | fail, None until reviewed
    Column("reason", Text),
    Column("root_cause", String(40)),
    Column("reviewer", String(120)),
    Column("reviewed_at", UTC_DT),
    UniqueConstraint("sample_id", "item_id", name="uq_qa_reviews_sample_item"),
    Index("ix_qa_reviews_bot_verdict", "bot", "verdict"),
)

# Notifications sent or attempted (backoffice.notify): the key makes an event notified once (an
# SLA notice per item and deadline); outcome sent | failed, channels what each channel answered.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("event", String(40), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("created_at", UTC_DT, nullable=False),
    Column("outcome", String(20)),
    Column("channels", JSON),
    UniqueConstraint("key", name="uq_notices_key"),
)

# Rule-set change control (backoffice.change_control): one row per proposed rule-set version of a
# bot (its code hash and params); status proposed | approved | rejected | superseded; the proposer
# (maker) and who decided it (checker). ``engagement``: NULL until engagements land (issue 14.1).
rule_versions = Table(
    "rule_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("engagement", String(80)),
    Column("bot", String(80), nullable=False),
    Column("version", String(80), nullable=False),  # RuleSet.version with these params
    Column("code_version", String(80), nullable=False),  # RuleSet.code_version (params left out)
    Column("params", JSON, nullable=False),
    Column("changes", JSON, nullable=False),  # {param: {"from": old, "to": new}} against the base
    Column("status", String(20), nullable=False),
    Column("proposer", String(120), nullable=False),
    Column("proposed_at", UTC_DT, nullable=False),
    Column("reason", Text),
    Column("decided_by", String(120)),
    Column("decided_at", UTC_DT),
    Column("decision_reason", Text),
    Index("ix_rule_versions_bot_status", "bot", "status"),
    Index("ix_rule_versions_version", "version"),
)

# The ownership register (issue 14.2): one row per proposed version of an engagement's register
# (migration 0014). ``engagement`` defaults to "default" until engagements land.
owner_registers = Table(
    "owner_registers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("engagement", String(80), server_default="default"),
    Column("version", String(80), nullable=False),  # sha256 of the rows, first 16 hex digits
    Column("source", Text, nullable=False),  # the TOML text as proposed
    Column("rows", JSON, nullable=False),  # the validated rows
    Column("diff", JSON, nullable=False),  # against the register in force when proposed
    Column("status", String(20), nullable=False),  # proposed | approved | rejected | superseded
    Column("proposer", String(120), nullable=False),
    Column("proposed_at", UTC_DT, nullable=False),
    Column("reason", Text),
    Column("decided_by", String(120)),
    Column("decided_at", UTC_DT),
    Column("decision_reason", Text),
    Index("ix_owner_registers_engagement_status", "engagement", "status"),
)

# A user's absence: while it lasts, the backup of the register takes their items and approvals.
user_absences = Table(
    "user_absences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(120), nullable=False),
    Column("starts_at", UTC_DT, nullable=False),
    Column("until", UTC_DT, nullable=False),
    Column("set_by", String(120), nullable=False),
    Column("ended_at", UTC_DT),  # `users back` ends it early
    Index("ix_user_absences_user", "user"),
)

# Incidents (issue 14.5, migration 0015): a system failure that stopped a run; status
# open | acknowledged | resolved; the client's notification decision (notify yes | no).
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("engagement", String(80), server_default="default"),
    Column("kind", String(40), nullable=False),  # target-down | rule-storm | bot-defect
    Column("run_id", String(40)),
    Column("bot", String(80), nullable=False),
    Column("opened_at", UTC_DT, nullable=False),
    Column("status", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("escalated_to", String(120)),  # the tier (team_lead) or the register's named owner
    Column("owner", String(120)),  # the register's decision owner of the bot, when in force
    Column("notify", String(5)),  # yes | no: the client's decision
    Column("notify_reason", Text),
    Column("decided_by", String(120)),
    Column("decided_at", UTC_DT),
    Column("acked_by", String(120)),
    Column("acked_at", UTC_DT),
    Column("resolved_by", String(120)),
    Column("resolved_at", UTC_DT),
    Index("ix_incidents_status_opened", "status", "opened_at"),
    Index("ix_incidents_run", "run_id"),
)

# Engagements (issue 14.1, migration 0016): the clients the provider serves, listed in the provider's
# store; each has a store of its own (backoffice.store.Store.open(engagement=NAME)).
engagements = Table(
    "engagements",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("created_at", UTC_DT, nullable=False),
    Column("created_by", String(120), nullable=False),
)
