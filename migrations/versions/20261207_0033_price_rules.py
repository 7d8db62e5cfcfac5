"""Price rules (issue 16, CAT-3, CAT-2): scheduled promotions and stock-triggered markdowns per SKU
or category, each with a window and a floor; a rule beyond the band's floor or the creator's
authority waits for an approval

Revision ID: 0033_price_rules
Revises: 0032_points
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0033_price_rules"
down_revision: str | None = "0032_points"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
ACTIVE = sa.text("state = 'active'")


def upgrade() -> None:
    op.create_table(
        "price_rules",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sku_id", BigId, nullable=True),
        sa.Column("category_id", BigId, nullable=True),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("floor", sa.BigInteger(), nullable=True),
        sa.Column("starts_at", When, nullable=False),
        sa.Column("ends_at", When, nullable=True),
        sa.Column("stock_above", sa.BigInteger(), nullable=True),
        sa.Column("stock_days", sa.Integer(), nullable=True),
        sa.Column("above_since", When, nullable=True),
        sa.Column("marked_from", When, nullable=True),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("approval_id", BigId, nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint(
            "(sku_id IS NULL) <> (category_id IS NULL)", name=op.f("ck_price_rules_sku_or_category")
        ),
        sa.CheckConstraint(
            "(price IS NULL) <> (percent_bp IS NULL)", name=op.f("ck_price_rules_price_or_percent")
        ),
        sa.CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp < 10000)",
            name=op.f("ck_price_rules_percent_range"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_price_rules_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_price_rules_category_id_categories")
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_price_rules_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_price_rules_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_rules")),
    )
    op.create_index(
        "ix_price_rules_sku_active", "price_rules", ["sku_id"], postgresql_where=ACTIVE, sqlite_where=ACTIVE
    )
    op.create_index(
        "ix_price_rules_category_active",
        "price_rules",
        ["category_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )
    op.create_index("ix_price_rules_starts", "price_rules", ["starts_at"])


def downgrade() -> None:
    op.drop_index("ix_price_rules_starts", table_name="price_rules")
    op.drop_index("ix_price_rules_category_active", table_name="price_rules")
    op.drop_index("ix_price_rules_sku_active", table_name="price_rules")
    op.drop_table("price_rules")
