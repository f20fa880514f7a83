"""index for claim_next: open items by priority and due time

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_status_priority", "items", ["status", "priority", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_status_priority", table_name="items")
