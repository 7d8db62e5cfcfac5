"""Imported order history (ORD-1, issue 15 item 6): an order's currency as its file gave it, the
mark of imported history (when it was imported; no clock, sweep or notification takes it up),
whether its dates are unknown, the values flagged as bad; and customers found by a platform's own
id (a marketplace's customer id, a store's email) when they have no mobile phone

Revision ID: 0027_history
Revises: 0026_metrics
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027_history"
down_revision: str | None = "0026_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("orders", sa.Column("currency", sa.String(3), nullable=True))
    op.add_column("orders", sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("undated", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("orders", sa.Column("import_flags", JSONType, nullable=True))
    op.create_table(
        "customer_keys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            BigId,
            sa.ForeignKey("customers.id", name="fk_customer_keys_customer_id_customers"),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_keys"),
        sa.UniqueConstraint("key_hash", name="uq_customer_keys_key_hash"),
    )
    op.create_index("ix_customer_keys_customer_id", "customer_keys", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_keys_customer_id", table_name="customer_keys")
    op.drop_table("customer_keys")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("import_flags")
        batch_op.drop_column("undated")
        batch_op.drop_column("imported_at")
        batch_op.drop_column("currency")
