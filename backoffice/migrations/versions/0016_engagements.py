"""Engagements (issue 14, deliverable 1): the register of clients, kept in the provider's store
(the default engagement's). Each engagement has a store of its own (its own SQLite file, or its own
PostgreSQL schema), so its runs, items, evidence, audit chain, users and reports live apart; this
table only lists them. The table exists in every store (one schema) and is empty in an
engagement's own.

Revision ID: 0016_engagements
Revises: 0015_incidents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_engagements"
down_revision = "0015_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engagements",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("engagements")
