"""Campaigns (issue 16, LOY-3): a theme, a window, channels and offers (coupons, a gift over a
minimum spend), orders attributed through the coupons

Revision ID: 0034_campaigns
Revises: 0033_price_rules
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0034_campaigns"
down_revision: str | None = "0033_price_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", When, nullable=False),
        sa.Column("ends_at", When, nullable=False),
        sa.Column("channels", JSONType, nullable=False),
        sa.Column("coupon_ids", JSONType, nullable=False),
        sa.Column("gift_sku", sa.String(length=64), nullable=True),
        sa.Column("gift_min_spend", sa.BigInteger(), nullable=True),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_campaigns_window_ordered")),
        sa.CheckConstraint(
            "gift_min_spend IS NULL OR gift_min_spend >= 0",
            name=op.f("ck_campaigns_gift_min_spend_not_negative"),
        ),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name=op.f("ck_campaigns_budget_not_negative")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_campaigns_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_window", "campaigns", ["starts_at", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_campaigns_window", table_name="campaigns")
    op.drop_table("campaigns")
