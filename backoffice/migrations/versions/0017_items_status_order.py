"""Status-order indexes for the queue page (issue 15): listing a status by id (oldest/newest) or
by queued time without sorting every item of that status. backoffice.inbox.listing picks them
only where they help; a selective filter keeps its own index.

Revision ID: 0017_items_status_order
Revises: 0016_engagements
"""

from __future__ import annotations

from alembic import op

revision = "0017_items_status_order"
down_revision = "0016_engagements"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_items_status_id", "items", ["status", "id"]),
    ("ix_items_status_queued", "items", ["status", "queued_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
