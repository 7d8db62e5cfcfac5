"""Indexes the metric dictionary reads by (issue 15, bench/analytics.py): orders by their count
time (`Order.counted_at`, an expression), refunds by their settlement, SLA clocks by their deadline
in every state, and each stock ledger pair's movements in time order with their balance

Revision ID: 0028_metric_indexes
Revises: 0027_history
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_metric_indexes"
down_revision: str | None = "0027_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `Order.counted_at` exactly as its hybrid writes it, so the databases match the index to it: its
# UNDATED (1900-01-01 UTC) as each dialect renders that literal.
COUNTED_AT = (
    "(CASE WHEN payment_terms IN ('net30', 'net60') THEN confirmed_at WHEN undated THEN '{undated}'"
    " ELSE paid_at END)"
)
UNDATED = {"postgresql": "1900-01-01 00:00:00+00:00", "sqlite": "1900-01-01 00:00:00.000000"}
INDEXES = (
    ("ix_refunds_settled_at", "refunds", ["settled_at"]),
    ("ix_sla_clocks_deadline", "sla_clocks", ["deadline"]),
    ("ix_stock_ledger_pair_at", "stock_ledger", ["sku_id", "warehouse_id", "at", "id"]),
)


def upgrade() -> None:
    undated = UNDATED[op.get_bind().dialect.name]
    op.create_index("ix_orders_counted_at", "orders", [sa.text(COUNTED_AT.format(undated=undated))])
    for name, table, columns in INDEXES:
        # PostgreSQL keeps the balance in the ledger's index: its pairs are read without the table.
        include = ["balance_after"] if name == "ix_stock_ledger_pair_at" else None
        op.create_index(name, table, columns, postgresql_include=include)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_orders_counted_at", table_name="orders")
