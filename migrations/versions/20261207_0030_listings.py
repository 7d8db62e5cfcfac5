"""Listings (issue 16, CAT-4): a product is a draft or published, and a manager's reason when it was
published despite banned words; every product there is published (existing, demo and imported)

Revision ID: 0030_listings
Revises: 0029_metric_rollups
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_listings"
down_revision: str | None = "0029_metric_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), server_default=sa.text("'published'"), nullable=False)
        )
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.String(length=200), nullable=True))
    op.execute("UPDATE products SET published_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("override_reason")
        batch.drop_column("published_at")
        batch.drop_column("status")
