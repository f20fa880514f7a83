"""indexes for KPIs over time (issue 13): items by creation and decision time, rounds by their
queued and decided times, violations by when they were recorded (the daily series of
backoffice.queue.trends filter each on a date range)

Revision ID: 0012_kpi_trend_indexes
Revises: 0011_notices
"""

from __future__ import annotations

from alembic import op

revision = "0012_kpi_trend_indexes"
down_revision = "0011_notices"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_items_created_at", "items", ["created_at"]),
    ("ix_items_resolved_at", "items", ["resolved_at"]),
    ("ix_item_rounds_queued", "item_rounds", ["queued_at"]),
    ("ix_item_rounds_decided", "item_rounds", ["decided_at"]),
    ("ix_item_violations_recorded", "item_violations", ["recorded_at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
