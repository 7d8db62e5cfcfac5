"""The funnel's traffic counts (CRM-5): visitors and inquiries per store day and channel

Revision ID: 0021_traffic_counts
Revises: 0020_tickets
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_traffic_counts"
down_revision: str | None = "0020_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "traffic_counts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("inquiries", sa.Integer(), nullable=False),
        sa.Column(
            "updated_by",
            BigId,
            sa.ForeignKey("users.id", name="fk_traffic_counts_updated_by_users"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "visitors >= 0 AND inquiries >= 0", name=op.f("ck_traffic_counts_counts_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_traffic_counts"),
        sa.UniqueConstraint("day", "channel", name="uq_traffic_counts_day_channel"),
    )


def downgrade() -> None:
    op.drop_table("traffic_counts")
