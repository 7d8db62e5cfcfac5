"""The metric set's rollups (issue 15, ANA-1 at size): a whole store day, ISO week or month's
figures for all channels, kept by the worker and read while fresh (`analytics.rollups`)

Revision ID: 0029_metric_rollups
Revises: 0028_metric_indexes
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029_metric_rollups"
down_revision: str | None = "0028_metric_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("first", sa.Date(), nullable=False),
        sa.Column("metrics", JSONType, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "first"),
    )


def downgrade() -> None:
    op.drop_table("metric_rollups")
