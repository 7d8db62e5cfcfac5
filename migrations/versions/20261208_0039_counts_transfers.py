"""Cycle counts and transfers (issue 18, INV-3/6/7): counts and their lines, transfer orders and
their lines, and why each reservation's warehouse was chosen

Revision ID: 0039_counts_transfers
Revises: 0038_inventory_planning
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039_counts_transfers"
down_revision: str | None = "0038_inventory_planning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _user(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"))


def upgrade() -> None:
    op.add_column("reservations", sa.Column("reason", sa.String(length=20), nullable=True))
    op.create_table(
        "stock_counts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("warehouse_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=True),
        sa.Column("needs_manager", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("approved_by", BigId, nullable=True),
        sa.Column("approved_at", When, nullable=True),
        sa.Column("posted_by", BigId, nullable=True),
        sa.Column("posted_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_counts_warehouse_id_warehouses")
        ),
        _user("stock_counts", "created_by"),
        _user("stock_counts", "approved_by"),
        _user("stock_counts", "posted_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
        sa.UniqueConstraint(
            "warehouse_id", "kind", "period", name=op.f("uq_stock_counts_warehouse_id_kind_period")
        ),
    )
    op.create_index(op.f("ix_stock_counts_state"), "stock_counts", ["state"])
    op.create_table(
        "stock_count_lines",
        sa.Column("id", BigId, nullable=False),
        sa.Column("count_id", BigId, nullable=False),
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("sku_code", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=True),
        sa.Column("counted", sa.BigInteger(), nullable=True),
        sa.Column("counted_by", BigId, nullable=True),
        sa.Column("counted_at", When, nullable=True),
        sa.CheckConstraint(
            "counted IS NULL OR counted >= 0", name=op.f("ck_stock_count_lines_counted_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["count_id"], ["stock_counts.id"], name=op.f("fk_stock_count_lines_count_id_stock_counts")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_count_lines_sku_id_skus")),
        _user("stock_count_lines", "counted_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lines")),
        sa.UniqueConstraint("count_id", "sku_id", name=op.f("uq_stock_count_lines_count_id_sku_id")),
    )
    op.create_index("ix_stock_count_lines_sku", "stock_count_lines", ["sku_id", "count_id"])
    op.create_table(
        "transfers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("from_warehouse_id", BigId, nullable=False),
        sa.Column("to_warehouse_id", BigId, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("shipped_at", When, nullable=True),
        sa.Column("received_at", When, nullable=True),
        sa.CheckConstraint("from_warehouse_id <> to_warehouse_id", name=op.f("ck_transfers_two_warehouses")),
        sa.ForeignKeyConstraint(
            ["from_warehouse_id"], ["warehouses.id"], name=op.f("fk_transfers_from_warehouse_id_warehouses")
        ),
        sa.ForeignKeyConstraint(
            ["to_warehouse_id"], ["warehouses.id"], name=op.f("fk_transfers_to_warehouse_id_warehouses")
        ),
        _user("transfers", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_state"), "transfers", ["state"])
    op.create_table(
        "transfer_lines",
        sa.Column("id", BigId, nullable=False),
        sa.Column("transfer_id", BigId, nullable=False),
        sa.Column("sku_id", BigId, nullable=False),
        sa.Column("sku_code", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_transfer_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_transfer_lines_transfer_id_transfers")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_transfer_lines_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_lines")),
        sa.UniqueConstraint("transfer_id", "sku_id", name=op.f("uq_transfer_lines_transfer_id_sku_id")),
    )


def downgrade() -> None:
    op.drop_table("transfer_lines")
    op.drop_index(op.f("ix_transfers_state"), table_name="transfers")
    op.drop_table("transfers")
    op.drop_index("ix_stock_count_lines_sku", table_name="stock_count_lines")
    op.drop_table("stock_count_lines")
    op.drop_index(op.f("ix_stock_counts_state"), table_name="stock_counts")
    op.drop_table("stock_counts")
    op.drop_column("reservations", "reason")
