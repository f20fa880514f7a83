"""Incidents (issue 14, deliverable 5): a system failure that stopped a run (target down, rule
storm, bot defect), opened by the system and escalated to the team lead tier (a named owner from
the ownership register when there is one); the client's notification decision; acknowledged and
resolved by users. Every step is also an audit entry with subject ``incident:<id>``.
``engagement`` defaults to "default" until engagements land.

Revision ID: 0015_incidents
Revises: 0014_ownership
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_incidents"
down_revision = "0014_ownership"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("engagement", sa.String(80), nullable=True, server_default="default"),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("escalated_to", sa.String(120)),
        sa.Column("owner", sa.String(120)),
        sa.Column("notify", sa.String(5)),
        sa.Column("notify_reason", sa.Text()),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("acked_by", sa.String(120)),
        sa.Column("acked_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String(120)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_incidents_status_opened", "incidents", ["status", "opened_at"])
    op.create_index("ix_incidents_run", "incidents", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_incidents_run", table_name="incidents")
    op.drop_index("ix_incidents_status_opened", table_name="incidents")
    op.drop_table("incidents")
