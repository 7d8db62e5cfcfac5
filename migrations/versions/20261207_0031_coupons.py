"""Coupons (issue 16, LOY-4): coupons, their codes, the ledger of uses and each buyer's allowance

Revision ID: 0031_coupons
Revises: 0030_listings
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031_coupons"
down_revision: str | None = "0030_listings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("min_spend", sa.BigInteger(), nullable=False),
        sa.Column("limit_total", sa.Integer(), nullable=True),
        sa.Column("limit_per_customer", sa.Integer(), nullable=True),
        sa.Column("starts_at", When, nullable=True),
        sa.Column("ends_at", When, nullable=True),
        sa.Column("skus", JSONType, nullable=False),
        sa.Column("categories", JSONType, nullable=False),
        sa.Column("stacking_group", sa.String(length=40), nullable=True),
        sa.Column("combines_with", JSONType, nullable=False),
        sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_coupons_used_not_negative")),
        sa.CheckConstraint(
            "limit_total IS NULL OR used <= limit_total", name=op.f("ck_coupons_used_within_limit")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_coupons_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "coupon_codes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("coupon_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "max_uses IS NULL OR used <= max_uses", name=op.f("ck_coupon_codes_used_within_max")
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_codes_coupon_id_coupons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_coupon_codes_code")),
    )
    op.create_index("ix_coupon_codes_coupon", "coupon_codes", ["coupon_id", "id"])
    op.create_table(
        "coupon_uses",
        sa.Column("id", BigId, nullable=False),
        sa.Column("coupon_id", BigId, nullable=False),
        sa.Column("code_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("buyer", sa.String(length=64), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("used_at", When, nullable=False),
        sa.Column("released_at", When, nullable=True),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_uses_coupon_id_coupons")),
        sa.ForeignKeyConstraint(
            ["code_id"], ["coupon_codes.id"], name=op.f("fk_coupon_uses_code_id_coupon_codes")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_coupon_uses_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_uses")),
    )
    op.create_index("ux_coupon_uses_order_coupon", "coupon_uses", ["order_id", "coupon_id"], unique=True)
    op.create_index("ix_coupon_uses_coupon", "coupon_uses", ["coupon_id", "id"])
    op.create_table(
        "coupon_allowances",
        sa.Column("coupon_id", BigId, nullable=False),
        sa.Column("buyer", sa.String(length=64), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_coupon_allowances_used_not_negative")),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_allowances_coupon_id_coupons")
        ),
        sa.PrimaryKeyConstraint("coupon_id", "buyer", name=op.f("pk_coupon_allowances")),
    )


def downgrade() -> None:
    op.drop_table("coupon_allowances")
    op.drop_table("coupon_uses")
    op.drop_table("coupon_codes")
    op.drop_table("coupons")
