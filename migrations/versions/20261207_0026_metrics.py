"""The metric dictionary's foundation (issue 15): a two-level category tree for products, and
each order line's unit cost at the time of sale; lines placed before this migration get the SKU's
current cost, flagged `cost_backfilled`

Revision ID: 0026_metrics
Revises: 0025_sla_budget_source
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_metrics"
down_revision: str | None = "0025_sla_budget_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "parent_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("categories.id"),
            nullable=True,
        ),
        sa.Column("name", sa.String(120), nullable=False),
    )
    # Unique per parent; a top-level name (parent NULL) unique among the top level.
    op.create_index("ux_categories_parent_name", "categories", ["parent_id", "name"], unique=True)
    op.create_index(
        "ux_categories_top_name",
        "categories",
        ["name"],
        unique=True,
        postgresql_where=sa.text("parent_id IS NULL"),
        sqlite_where=sa.text("parent_id IS NULL"),
    )
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(
            sa.Column("category_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_foreign_key("fk_products_category_id", "categories", ["category_id"], ["id"])
        batch_op.create_index("ix_products_category_id", ["category_id"])
    with op.batch_alter_table("order_lines") as batch_op:
        batch_op.add_column(sa.Column("unit_cost", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("cost_backfilled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE order_lines SET cost_backfilled = TRUE, "
        "unit_cost = (SELECT skus.cost FROM skus WHERE skus.id = order_lines.sku_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch_op:
        batch_op.drop_column("cost_backfilled")
        batch_op.drop_column("unit_cost")
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_index("ix_products_category_id")
        batch_op.drop_constraint("fk_products_category_id", type_="foreignkey")
        batch_op.drop_column("category_id")
    op.drop_index("ux_categories_top_name", table_name="categories")
    op.drop_index("ux_categories_parent_name", table_name="categories")
    op.drop_table("categories")
