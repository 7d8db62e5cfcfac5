"""Inventory planning (issue 18, INV-4, INV-5, ANA-5): safety-stock watches per SKU and per
warehouse with their alert state, daily demand, forecasts and their nightly runs, suppliers and
what they sell, purchase orders and their lines, and the notices of orders held for stock

Revision ID: 0038_inventory_planning
Revises: 0037_erasure
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0038_inventory_planning"
down_revision: str | None = "0037_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forecast_runs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("skus", sa.Integer(), nullable=False),
        sa.Column("summary", JSONType, nullable=False),
        sa.Column("started_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_runs")),
        sa.UniqueConstraint("day", name=op.f("uq_forecast_runs_day")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", BigId, nullable=False),
        sa.Column("supplier_id", BigId, nullable=False),
        sa.Column("warehouse_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("changed_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_purchase_orders_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_purchase_orders_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    op.create_index("ix_purchase_orders_status", "purchase_orders", ["status", "id"], unique=False)
    op.create_index(op.f("ix_purchase_orders_supplier_id"), "purchase_orders", ["supplier_id"], unique=False)
    op.create_table(
        "shortage_notices",
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("purchase_order_id", BigId, nullable=True),
        sa.Column("ship_by", sa.Date(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shortage_notices_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_shortage_notices_purchase_order_id_purchase_orders"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_shortage_notices")),
    )
    op.create_index(
        op.f("ix_shortage_notices_purchase_order_id"), "shortage_notices", ["purchase_order_id"], unique=False
    )
    op.create_table(
        "daily_demand",
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_daily_demand_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", "day", name=op.f("pk_daily_demand")),
    )
    op.create_table(
        "demand_forecasts",
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("daily", JSONType, nullable=False),
        sa.Column("abc", sa.String(length=1), nullable=False),
        sa.Column("mape", sa.Float(), nullable=True),
        sa.Column("wape", sa.Float(), nullable=True),
        sa.Column("naive_mape", sa.Float(), nullable=True),
        sa.Column("naive_wape", sa.Float(), nullable=True),
        sa.Column("computed_at", When, nullable=False),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_demand_forecasts_sku_id_skus")),
        sa.PrimaryKeyConstraint("sku_id", name=op.f("pk_demand_forecasts")),
    )
    op.create_table(
        "purchase_order_lines",
        sa.Column("id", BigId, nullable=False),
        sa.Column("purchase_order_id", BigId, nullable=False),
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received >= 0 AND received <= quantity",
            name=op.f("ck_purchase_order_lines_received_within_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_purchase_order_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
        sa.UniqueConstraint(
            "purchase_order_id", "sku_id", name=op.f("uq_purchase_order_lines_purchase_order_id_sku_id")
        ),
    )
    op.create_index(op.f("ix_purchase_order_lines_sku_id"), "purchase_order_lines", ["sku_id"], unique=False)
    op.create_table(
        "safety_levels",
        sa.Column("id", BigId, nullable=False),
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("warehouse_id", BigId, nullable=True),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.Column("falls", sa.Integer(), nullable=False),
        sa.Column("changed_at", When, nullable=True),
        sa.CheckConstraint(
            "threshold IS NULL OR threshold >= 0", name=op.f("ck_safety_levels_threshold_not_negative")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_safety_levels_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_safety_levels_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_levels")),
    )
    op.create_index(
        "ux_safety_levels_sku",
        "safety_levels",
        ["sku_id"],
        unique=True,
        sqlite_where=sa.text("warehouse_id IS NULL"),
        postgresql_where=sa.text("warehouse_id IS NULL"),
    )
    op.create_index(
        "ux_safety_levels_sku_warehouse",
        "safety_levels",
        ["sku_id", "warehouse_id"],
        unique=True,
        sqlite_where=sa.text("warehouse_id IS NOT NULL"),
        postgresql_where=sa.text("warehouse_id IS NOT NULL"),
    )
    op.create_table(
        "supplier_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("supplier_id", BigId, nullable=False),
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        sa.Column("moq", sa.Integer(), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("lead_time_days >= 0", name=op.f("ck_supplier_items_lead_time_not_negative")),
        sa.CheckConstraint("moq > 0", name=op.f("ck_supplier_items_moq_positive")),
        sa.CheckConstraint("pack_size > 0", name=op.f("ck_supplier_items_pack_size_positive")),
        sa.CheckConstraint("unit_cost >= 0", name=op.f("ck_supplier_items_unit_cost_not_negative")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_supplier_items_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_supplier_items_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_items")),
        sa.UniqueConstraint("supplier_id", "sku_id", name=op.f("uq_supplier_items_supplier_id_sku_id")),
    )
    op.create_index(op.f("ix_supplier_items_sku_id"), "supplier_items", ["sku_id"], unique=False)


def downgrade() -> None:
    for table in (
        "supplier_items",
        "safety_levels",
        "purchase_order_lines",
        "demand_forecasts",
        "daily_demand",
        "shortage_notices",
        "purchase_orders",
        "suppliers",
        "forecast_runs",
    ):
        op.drop_table(table)  # its indexes go with it
