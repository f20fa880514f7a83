"""item_rounds and item_violations: every round an item spends in the queue and the violations
raised in it, kept across corrections, reprocessing and QA reopens (issue 13)

A round starts when the runner queues an item (or QA reopens it) and ends with its decision;
``first_claimed_at`` splits its time into waiting (queued -> claimed) and handling (claimed ->
decided). Existing queued or decided items get their current round backfilled as round 1.

Revision ID: 0009_item_rounds
Revises: 0008_items_fx_rate
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009_item_rounds"
down_revision = "0008_items_fx_rate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rounds = op.create_table(
        "item_rounds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("opened_by", sa.String(120), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_claimed_at", sa.DateTime(timezone=True)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision", sa.String(20)),
        sa.Column("maker", sa.String(120)),
        sa.Column("checker", sa.String(120)),
        sa.UniqueConstraint("item_id", "round", name="uq_item_rounds_item_round"),
        sa.Index("ix_item_rounds_bot_queued", "bot", "queued_at"),
    )
    violations = op.create_table(
        "item_violations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("code", sa.String(80), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("violation", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_item_violations_item", "item_id", "round"),
        sa.Index("ix_item_violations_bot_code", "bot", "code"),
    )
    conn = op.get_bind()
    items = sa.table(
        "items",
        sa.column("id"),
        sa.column("bot"),
        sa.column("kind"),
        sa.column("run_id"),
        sa.column("violations"),
        sa.column("queued_at"),
        sa.column("resolved_at"),
        sa.column("decision"),
        sa.column("maker"),
        sa.column("checker"),
    )
    round_rows, violation_rows = [], []
    for r in conn.execute(sa.select(items).where(items.c.queued_at.is_not(None))):
        round_rows.append(
            {
                "item_id": r.id,
                "round": 1,
                "bot": r.bot,
                "kind": r.kind or "business",
                "opened_by": "migration",
                "run_id": r.run_id,
                "queued_at": r.queued_at,
                "decided_at": r.resolved_at,
                "decision": r.decision,
                "maker": r.maker,
                "checker": r.checker,
            }
        )
        found = r.violations
        if isinstance(found, str):
            found = json.loads(found)
        for v in found or []:
            violation_rows.append(
                {
                    "item_id": r.id,
                    "round": 1,
                    "bot": r.bot,
                    "code": str(v.get("code")),
                    "severity": str(v.get("severity") or "error"),
                    "violation": v,
                    "recorded_at": r.queued_at,
                }
            )
    if round_rows:
        op.bulk_insert(rounds, round_rows)
    if violation_rows:
        op.bulk_insert(violations, violation_rows)


def downgrade() -> None:
    op.drop_table("item_violations")
    op.drop_table("item_rounds")
