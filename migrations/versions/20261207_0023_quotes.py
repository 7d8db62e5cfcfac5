"""B2B quotes, contracts and the approval mechanism (CRM-6, CAT-2); orders on credit terms
(ORD-5): `orders.payment_terms` and `orders.payment_due_at`

Revision ID: 0023_quotes
Revises: 0022_business_time_kb
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_quotes"
down_revision: str | None = "0022_business_time_kb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _fk(table: str, column: str, target: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column, BigId, sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"), nullable=nullable
    )


def upgrade() -> None:
    op.add_column("orders", sa.Column("payment_terms", sa.String(10), nullable=True))
    op.add_column("orders", sa.Column("payment_due_at", When, nullable=True))
    op.create_table(
        "approvals",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("asked", Json, nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("discount_percent", sa.Float(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _fk("approvals", "requested_by", "users"),
        sa.Column("requested_by_name", sa.String(80), nullable=False),
        sa.Column("requested_at", When, nullable=False),
        _fk("approvals", "approver_id", "users"),
        sa.Column("approver_name", sa.String(80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_subject", "approvals", ["subject"])
    op.create_index("ix_approvals_state_requested", "approvals", ["state", "requested_at"])
    op.create_table(
        "quotes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _fk("quotes", "customer_id", "customers"),
        _fk("quotes", "lead_id", "leads"),
        sa.Column("contact", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("payment_terms", sa.String(10), nullable=False),
        sa.Column("aftersales_terms", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("reasons", Json, nullable=False),
        _fk("quotes", "approval_id", "approvals"),
        sa.Column("decision_note", sa.Text(), nullable=True),
        _fk("quotes", "created_by", "users"),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("submitted_at", When, nullable=True),
        sa.Column("approved_at", When, nullable=True),
        sa.Column("expires_at", When, nullable=True),
        sa.Column("sent_at", When, nullable=True),
        sa.Column("answered_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
    )
    op.create_index("ix_quotes_customer_id", "quotes", ["customer_id"])
    op.create_index("ix_quotes_lead_id", "quotes", ["lead_id"])
    op.create_index("ix_quotes_state_expires", "quotes", ["state", "expires_at"])
    op.create_table(
        "quote_lines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _fk("quote_lines", "quote_id", "quotes", nullable=False),
        sa.Column("sku_code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("discount_bp", sa.Integer(), nullable=False),
        sa.Column("list_price", sa.BigInteger(), nullable=False),
        sa.Column("price_band", sa.String(20), nullable=False),
        sa.Column("net_unit_price", sa.BigInteger(), nullable=False),
        sa.Column("line_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quote_lines"),
    )
    op.create_index("ix_quote_lines_quote_id", "quote_lines", ["quote_id"])
    op.create_table(
        "contracts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("contract_no", sa.String(20), nullable=False),
        _fk("contracts", "quote_id", "quotes", nullable=False),
        _fk("contracts", "order_id", "orders"),
        _fk("contracts", "customer_id", "customers"),
        sa.Column("contact", sa.LargeBinary(), nullable=False),
        sa.Column("lines", Json, nullable=False),
        sa.Column("delivery_date", sa.Date(), nullable=False),
        sa.Column("payment_terms", sa.String(10), nullable=False),
        sa.Column("payment_due_at", When, nullable=True),
        sa.Column("aftersales_terms", sa.Text(), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        _fk("contracts", "created_by", "users"),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contracts"),
        sa.UniqueConstraint("contract_no", name="uq_contracts_contract_no"),
        sa.UniqueConstraint("quote_id", name="uq_contracts_quote_id"),
    )


def downgrade() -> None:
    op.drop_table("contracts")
    op.drop_index("ix_quote_lines_quote_id", table_name="quote_lines")
    op.drop_table("quote_lines")
    op.drop_index("ix_quotes_state_expires", table_name="quotes")
    op.drop_index("ix_quotes_lead_id", table_name="quotes")
    op.drop_index("ix_quotes_customer_id", table_name="quotes")
    op.drop_table("quotes")
    op.drop_index("ix_approvals_state_requested", table_name="approvals")
    op.drop_index("ix_approvals_subject", table_name="approvals")
    op.drop_table("approvals")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_due_at")
        batch.drop_column("payment_terms")
