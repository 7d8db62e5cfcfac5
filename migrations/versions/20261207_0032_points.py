"""Points (issue 16, LOY-1): each member's balance and the ledger of earns, reversals, burns,
returns, expiries and adjustments

Revision ID: 0032_points
Revises: 0031_coupons
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_points"
down_revision: str | None = "0031_coupons"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "point_accounts",
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("expired_through", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_point_accounts_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_point_accounts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_point_accounts")),
    )
    op.create_table(
        "point_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("order_id", BigId, nullable=True),
        sa.Column("order_line_id", BigId, nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("expires_at", When, nullable=True),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_point_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_point_entries_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["order_lines.id"], name=op.f("fk_point_entries_order_line_id_order_lines")
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_point_entries_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_entries")),
    )
    op.create_index("ix_point_entries_customer", "point_entries", ["customer_id", "id"])
    op.create_index("ix_point_entries_order", "point_entries", ["order_id"])
    op.create_index("ix_point_entries_expires", "point_entries", ["expires_at"])


def downgrade() -> None:
    op.drop_table("point_entries")
    op.drop_table("point_accounts")
