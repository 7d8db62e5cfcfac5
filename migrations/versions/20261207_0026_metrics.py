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


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "parent_id",
            BigId,
            sa.ForeignKey("categories.id", name="fk_categories_parent_id_categories"),
            nullable=True,
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
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
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its foreign key in place; rebuilding `products` or
        # `order_lines` (batch mode) would be refused by their children's enforced foreign keys.
        op.execute(
            "ALTER TABLE products ADD COLUMN category_id INTEGER"
            " CONSTRAINT fk_products_category_id_categories REFERENCES categories (id)"
        )
    else:
        op.add_column("products", sa.Column("category_id", BigId, nullable=True))
        op.create_foreign_key(
            "fk_products_category_id_categories", "products", "categories", ["category_id"], ["id"]
        )
    op.create_index("ix_products_category_id", "products", ["category_id"])
    op.add_column("order_lines", sa.Column("unit_cost", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column(
        "order_lines", sa.Column("cost_backfilled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        "UPDATE order_lines SET cost_backfilled = TRUE, "
        "unit_cost = (SELECT skus.cost FROM skus WHERE skus.id = order_lines.sku_id)"
    )


def downgrade() -> None:
    """(SQLite rebuilds `products` and `order_lines` for it, which their children's enforced
    foreign keys refuse while they hold rows, as for the earlier revisions.)"""
    with op.batch_alter_table("order_lines") as batch_op:
        batch_op.drop_column("cost_backfilled")
        batch_op.drop_column("unit_cost")
    op.drop_index("ix_products_category_id", "products")
    with op.batch_alter_table("products") as batch_op:
        if op.get_bind().dialect.name != "sqlite":  # SQLite's goes with its column
            batch_op.drop_constraint("fk_products_category_id_categories", type_="foreignkey")
        batch_op.drop_column("category_id")
    op.drop_index("ux_categories_top_name", table_name="categories")
    op.drop_index("ux_categories_parent_name", table_name="categories")
    op.drop_table("categories")
