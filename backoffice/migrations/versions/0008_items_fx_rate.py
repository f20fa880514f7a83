"""items.fx_rate: the rate from the item's currency to the company currency its run recorded, so
the delegated limit is compared in the company currency

Revision ID: 0008_items_fx_rate
Revises: 0007_audit_anchor
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_items_fx_rate"
down_revision = "0007_audit_anchor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("fx_rate", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("fx_rate")
