"""Risk (issue 17, RSK-1, RSK-2): the rules' versioned rows, each order's scores, the reviews of
held orders, the velocity counters and the blocklists; orders indexed by customer and status

Revision ID: 0036_risk
Revises: 0035_member_benefits
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0036_risk"
down_revision: str | None = "0035_member_benefits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "risk_rules",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_risk_rules_version_positive")),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_risk_rules_weight_not_negative")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_risk_rules_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_risk_rules_code_version")),
    )
    op.create_table(
        "risk_scores",
        sa.Column("id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("shadow_score", sa.Integer(), nullable=False),
        sa.Column("shadow_decision", sa.String(length=10), nullable=False),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_risk_scores_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_scores")),
        sa.UniqueConstraint("order_id", "stage", name=op.f("uq_risk_scores_order_id_stage")),
    )
    op.create_index(
        "ix_risk_scores_shadow",
        "risk_scores",
        ["created_at"],
        postgresql_where=sa.text("shadow_score > 0"),
        sqlite_where=sa.text("shadow_score > 0"),
    )
    op.create_table(
        "risk_reviews",
        sa.Column("id", BigId, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("assignee_id", BigId, nullable=True),
        sa.Column("opened_at", When, nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("decided_at", When, nullable=True),
        sa.Column("decided_by", BigId, nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_risk_reviews_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_risk_reviews_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_risk_reviews_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reviews")),
        sa.UniqueConstraint("order_id", name=op.f("uq_risk_reviews_order_id")),
    )
    op.create_index("ix_risk_reviews_state_opened", "risk_reviews", ["state", "opened_at"])
    op.create_table(
        "risk_counters",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("minute", When, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "minute", name=op.f("pk_risk_counters")),
    )
    op.create_table(
        "risk_blocks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value_key", sa.String(length=128), nullable=False),
        sa.Column("shown", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("removed_at", When, nullable=True),
        sa.Column("removed_by", BigId, nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_risk_blocks_created_by_users")),
        sa.ForeignKeyConstraint(["removed_by"], ["users.id"], name=op.f("fk_risk_blocks_removed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_blocks")),
    )
    op.create_index("ix_risk_blocks_value", "risk_blocks", ["kind", "value_key"])
    # RSK-1: a customer's completed orders, counted at intake up to the blocklist's exemption. It
    # takes the place of the index on customer_id alone (no more index writes per order).
    op.create_index("ix_orders_customer_status", "orders", ["customer_id", "status"])
    op.drop_index("ix_orders_customer_id", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.drop_index("ix_orders_customer_status", table_name="orders")
    op.drop_index("ix_risk_blocks_value", table_name="risk_blocks")
    op.drop_table("risk_blocks")
    op.drop_table("risk_counters")
    op.drop_index("ix_risk_reviews_state_opened", table_name="risk_reviews")
    op.drop_table("risk_reviews")
    op.drop_index("ix_risk_scores_shadow", table_name="risk_scores")
    op.drop_table("risk_scores")
    op.drop_table("risk_rules")
