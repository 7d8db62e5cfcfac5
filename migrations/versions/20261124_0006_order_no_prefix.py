"""Orders found by a prefix of their number: an index PostgreSQL's LIKE 'SF2611%' can read

The unique index of order_no serves LIKE only under the C collation: databases made with a
language's collation (en_US.UTF-8, zh_CN.UTF-8, even C.UTF-8) need the pattern operator class.
Making the unique index itself a pattern one would spare a second index, but on SQLite that
means rebuilding the orders table that six tables reference; there this index is a plain one
beside the unique one (the search reads order_no by GLOB).

Revision ID: 0006_order_no_prefix
Revises: 0005_console_indexes
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_order_no_prefix"
down_revision: str | None = "0005_console_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_order_no_pattern",
        "orders",
        ["order_no"],
        postgresql_ops={"order_no": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_orders_order_no_pattern", table_name="orders")
