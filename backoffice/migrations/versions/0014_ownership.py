"""The ownership register (issue 14, deliverable 2): one row per proposed register version of an
engagement (the TOML text, its parsed rows, the diff against the one in force, status
proposed | approved | rejected | superseded, maker and checker); users' absences (the backup takes
their items and approvals meanwhile); each queued item's decision owner and response deadline.
``engagement`` defaults to "default": one implicit engagement until engagements land.

Revision ID: 0014_ownership
Revises: 0013_rule_versions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_ownership"
down_revision = "0013_rule_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_registers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("engagement", sa.String(80), nullable=True, server_default="default"),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("proposer", sa.String(120), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_reason", sa.Text()),
    )
    op.create_index("ix_owner_registers_engagement_status", "owner_registers", ["engagement", "status"])
    op.create_table(
        "user_absences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user", sa.String(120), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(120), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_user_absences_user", "user_absences", ["user"])
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("decision_owner", sa.String(120), nullable=True))
        batch.add_column(sa.Column("response_due", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("response_due")
        batch.drop_column("decision_owner")
    op.drop_index("ix_user_absences_user", table_name="user_absences")
    op.drop_table("user_absences")
    op.drop_index("ix_owner_registers_engagement_status", table_name="owner_registers")
    op.drop_table("owner_registers")
