"""Indexes the console's pages read through: orders by date and by channel order number, open breaches

Revision ID: 0005_console_indexes
Revises: 0004_fulfillment
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_console_indexes"
down_revision: str | None = "0004_fulfillment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_BREACH = "state = 'breached' AND stopped_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_orders_channel_order_no", "orders", ["channel_order_no"])
    op.create_index(
        "ix_sla_clocks_open_breach",
        "sla_clocks",
        ["kind", "deadline"],
        postgresql_where=sa.text(OPEN_BREACH),
        sqlite_where=sa.text(OPEN_BREACH),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_open_breach", table_name="sla_clocks")
    op.drop_index("ix_orders_channel_order_no", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
