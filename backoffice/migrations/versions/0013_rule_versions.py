"""Rule-set change control (issue 14, deliverable 3): one row per proposed rule-set version of a bot
(code hash + params), its status (proposed | approved | rejected | superseded), its maker and checker.
``engagement`` is nullable: one implicit engagement until engagements land.

Revision ID: 0013_rule_versions
Revises: 0012_kpi_trend_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_rule_versions"
down_revision = "0012_kpi_trend_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("engagement", sa.String(80)),
        sa.Column("bot", sa.String(80), nullable=False),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("code_version", sa.String(80), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("proposer", sa.String(120), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_reason", sa.Text()),
    )
    op.create_index("ix_rule_versions_bot_status", "rule_versions", ["bot", "status"])
    op.create_index("ix_rule_versions_version", "rule_versions", ["version"])


def downgrade() -> None:
    op.drop_index("ix_rule_versions_version", table_name="rule_versions")
    op.drop_index("ix_rule_versions_bot_status", table_name="rule_versions")
    op.drop_table("rule_versions")
