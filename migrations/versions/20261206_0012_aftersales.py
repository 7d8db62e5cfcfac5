"""After-sales cases (ASV-1..6): cases, their lines, return shipments

Revision ID: 0012_aftersales
Revises: 0011_refunds
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_aftersales"
down_revision: str | None = "0011_refunds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "aftersales_cases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_no", sa.String(32), nullable=False),
        sa.Column(
            "order_id",
            BigId,
            sa.ForeignKey("orders.id", name="fk_aftersales_cases_order_id_orders"),
            nullable=False,
        ),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("deadline", When, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("discount_share", sa.BigInteger(), nullable=False),
        sa.Column("shipping", sa.BigInteger(), nullable=False),
        sa.Column("return_shipping", sa.BigInteger(), nullable=False),
        sa.Column("refund_total", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reject_reason", sa.String(200), nullable=True),
        sa.Column(
            "replacement_order_id",
            BigId,
            sa.ForeignKey("orders.id", name="fk_aftersales_cases_replacement_order_id_orders"),
            nullable=True,
        ),
        sa.Column(
            "created_by",
            BigId,
            sa.ForeignKey("users.id", name="fk_aftersales_cases_created_by_users"),
            nullable=True,
        ),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("decided_at", When, nullable=True),
        sa.Column("received_at", When, nullable=True),
        sa.Column("inspected_at", When, nullable=True),
        sa.Column("refunded_at", When, nullable=True),
        sa.Column("closed_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_aftersales_cases"),
        sa.UniqueConstraint("case_no", name="uq_aftersales_cases_case_no"),
    )
    op.create_index("ix_aftersales_cases_order_id", "aftersales_cases", ["order_id"])
    op.create_index("ix_aftersales_cases_state_created", "aftersales_cases", ["state", "created_at"])
    op.create_index("ix_aftersales_cases_type_created", "aftersales_cases", ["type", "created_at"])
    op.create_table(
        "aftersales_case_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            BigId,
            sa.ForeignKey("aftersales_cases.id", name="fk_aftersales_case_lines_case_id_aftersales_cases"),
            nullable=False,
        ),
        sa.Column(
            "order_line_id",
            BigId,
            sa.ForeignKey("order_lines.id", name="fk_aftersales_case_lines_order_line_id_order_lines"),
            nullable=False,
        ),
        sa.Column(
            "sku_id",
            BigId,
            sa.ForeignKey("skus.id", name="fk_aftersales_case_lines_sku_id_skus"),
            nullable=False,
        ),
        sa.Column("sku_code", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("discount_share", sa.BigInteger(), nullable=False),
        sa.Column("restocked", sa.Integer(), nullable=False),
        sa.Column("written_off", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_aftersales_case_lines"),
    )
    op.create_index("ix_aftersales_case_lines_case_id", "aftersales_case_lines", ["case_id"])
    op.create_index("ix_aftersales_case_lines_order_line_id", "aftersales_case_lines", ["order_line_id"])
    op.create_table(
        "aftersales_return_shipments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            BigId,
            sa.ForeignKey(
                "aftersales_cases.id", name="fk_aftersales_return_shipments_case_id_aftersales_cases"
            ),
            nullable=False,
        ),
        sa.Column("carrier", sa.String(40), nullable=False),
        sa.Column("tracking_no", sa.String(64), nullable=False),
        sa.Column(
            "created_by",
            BigId,
            sa.ForeignKey("users.id", name="fk_aftersales_return_shipments_created_by_users"),
            nullable=True,
        ),
        sa.Column("created_at", When, nullable=False),
        sa.Column("received_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_aftersales_return_shipments"),
        sa.UniqueConstraint("case_id", name="uq_aftersales_return_shipments_case_id"),
    )
    op.create_index(
        "ix_aftersales_return_shipments_tracking_no", "aftersales_return_shipments", ["tracking_no"]
    )


def downgrade() -> None:
    op.drop_table("aftersales_return_shipments")
    op.drop_table("aftersales_case_lines")
    op.drop_table("aftersales_cases")
