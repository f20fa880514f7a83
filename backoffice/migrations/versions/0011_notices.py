"""Notices (issue 13): one row per notification sent or attempted (SLA at risk and breach,
escalation, failed run), keyed so an event is notified once (an SLA notice per item and deadline)

Revision ID: 0011_notices
Revises: 0010_queue_work
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_notices"
down_revision = "0010_queue_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("channels", sa.JSON()),
        sa.UniqueConstraint("key", name="uq_notices_key"),
    )


def downgrade() -> None:
    op.drop_table("notices")
