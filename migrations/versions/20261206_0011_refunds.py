"""The refund ledger (PAY-3, ASV-4): refunds and their callbacks, the payment's reserved total

Revision ID: 0011_refunds
Revises: 0010_access
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_refunds"
down_revision: str | None = "0010_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("refund_reserved", sa.BigInteger(), server_default="0", nullable=False))
        batch.create_check_constraint(
            "refund_within_amount", "refund_reserved >= 0 AND refund_reserved <= amount"
        )
    op.create_table(
        "refunds",
        sa.Column("id", BigId, nullable=False),
        sa.Column("payment_id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("provider_reference", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.Column("requested_by", BigId, nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], name=op.f("fk_refunds_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
    )
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"])
    op.create_index(op.f("ix_refunds_order_id"), "refunds", ["order_id"])
    op.create_index(op.f("ix_refunds_case_id"), "refunds", ["case_id"])
    op.create_table(
        "refund_callbacks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("refund_id", BigId, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.String(length=30), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_callbacks_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_callbacks")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_refund_callbacks_provider_event_id")),
    )
    op.create_index(op.f("ix_refund_callbacks_refund_id"), "refund_callbacks", ["refund_id"])


def downgrade() -> None:
    op.drop_table("refund_callbacks")
    op.drop_table("refunds")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint("ck_payments_refund_within_amount", type_="check")
        batch.drop_column("refund_reserved")
