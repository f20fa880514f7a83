"""audit: a signed chain head and the log's anchor (store id, start, audit key fingerprint)

Revision ID: 0007_audit_anchor
Revises: 0006 (server-side sessions, API tokens, login throttle: 0006_sessions_tokens.py)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_anchor"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("signature", sa.String(64), nullable=True))
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("store_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("key_fp", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(20), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_anchor")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("signature")
