"""The service desk (SVC-1..3, SVC-7): tickets, their messages, reviews and the assignment cursor

Revision ID: 0020_tickets
Revises: 0019_customers
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_tickets"
down_revision: str | None = "0019_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _ref(table: str, column: str, target: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column, BigId, sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        _ref("tickets", "customer_id", "customers"),
        sa.Column("contact", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        _ref("tickets", "order_id", "orders"),
        _ref("tickets", "case_id", "aftersales_cases"),
        _ref("tickets", "assignee_id", "users"),
        _ref("tickets", "escalated_to", "users"),
        sa.Column("escalation", sa.String(20), nullable=True),
        sa.Column("escalation_reason", sa.String(500), nullable=True),
        sa.Column("escalated_at", When, nullable=True),
        _ref("tickets", "created_by", "users"),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("first_response_at", When, nullable=True),
        sa.Column("resolved_at", When, nullable=True),
        sa.Column("closed_at", When, nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    op.create_index("ix_tickets_customer_id", "tickets", ["customer_id"])
    op.create_index("ix_tickets_phone_hash", "tickets", ["phone_hash"])
    op.create_index("ix_tickets_order_id", "tickets", ["order_id"])
    op.create_index("ix_tickets_state_assignee", "tickets", ["state", "assignee_id"])
    op.create_index("ix_tickets_escalated", "tickets", ["escalated_at"])
    op.create_table(
        "ticket_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _ref("ticket_messages", "ticket_id", "tickets", nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        _ref("ticket_messages", "author_id", "users"),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_messages"),
    )
    op.create_index("ix_ticket_messages_ticket_id", "ticket_messages", ["ticket_id"])
    op.create_table(
        "reviews",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(20), nullable=False),
        _ref("reviews", "order_id", "orders"),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        _ref("reviews", "ticket_id", "tickets"),
        _ref("reviews", "created_by", "users"),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_order_id", "reviews", ["order_id"])
    op.create_table(
        "ticket_assignment_cursor",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("last_user_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_ticket_assignment_cursor"),
    )


def downgrade() -> None:
    op.drop_table("ticket_assignment_cursor")
    op.drop_index("ix_reviews_order_id", table_name="reviews")
    op.drop_table("reviews")
    op.drop_index("ix_ticket_messages_ticket_id", table_name="ticket_messages")
    op.drop_table("ticket_messages")
    for name in ("escalated", "state_assignee", "order_id", "phone_hash", "customer_id"):
        op.drop_index(f"ix_tickets_{name}", table_name="tickets")
    op.drop_table("tickets")
