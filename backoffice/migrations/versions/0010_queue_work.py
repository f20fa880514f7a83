"""Queue work (issue 13): item assignment and postponement (nullable columns on ``items``), saved
views per user, and QA samples with their per-item verdicts

Revision ID: 0010_queue_work
Revises: 0009_item_rounds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_queue_work"
down_revision = "0009_item_rounds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(120)))
        batch.add_column(sa.Column("postponed_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("postpone_reason", sa.Text()))
    op.create_index("ix_items_assigned_to", "items", ["assigned_to"])
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(120), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user", "name", name="uq_saved_views_user_name"),
    )
    op.create_table(
        "qa_samples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("date_from", sa.DateTime(timezone=True)),
        sa.Column("date_to", sa.DateTime(timezone=True)),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("drawn_by", sa.String(120), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sample_id", sa.Integer(), sa.ForeignKey("qa_samples.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(10)),
        sa.Column("reason", sa.Text()),
        sa.Column("root_cause", sa.String(40)),
        sa.Column("reviewer", sa.String(120)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("sample_id", "item_id", name="uq_qa_reviews_sample_item"),
        sa.Index("ix_qa_reviews_bot_verdict", "bot", "verdict"),
    )


def downgrade() -> None:
    op.drop_table("qa_reviews")
    op.drop_table("qa_samples")
    op.drop_table("saved_views")
    op.drop_index("ix_items_assigned_to", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("postpone_reason")
        batch.drop_column("postponed_until")
        batch.drop_column("assigned_to")
