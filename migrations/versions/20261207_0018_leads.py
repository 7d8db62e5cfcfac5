"""Leads (CRM-2..4): leads, their intakes and follow-ups, the conversion sweep's mark, and the
knowledge base with its reply scripts

Revision ID: 0018_leads
Revises: 0017_return_events
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shopflow.crm.leads.scripts import rows as script_rows

revision: str = "0018_leads"
down_revision: str | None = "0017_return_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _user(table: str, column: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column, BigId, sa.ForeignKey("users.id", name=f"fk_{table}_{column}_users"), nullable=True
    )


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("contact", sa.LargeBinary(), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("open_phone", sa.String(64), nullable=True),
        sa.Column("need_tags", Json, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("signals", Json, nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column("grade_overridden", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        _user("leads", "owner_id"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("intakes", sa.Integer(), nullable=False),
        sa.Column(
            "order_id", BigId, sa.ForeignKey("orders.id", name="fk_leads_order_id_orders"), nullable=True
        ),
        _user("leads", "created_by"),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("first_contacted_at", When, nullable=True),
        sa.Column("last_follow_up_at", When, nullable=True),
        sa.Column("converted_at", When, nullable=True),
        sa.Column("lost_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
        sa.UniqueConstraint("open_phone", name="uq_leads_open_phone"),
    )
    op.create_index("ix_leads_phone_hash", "leads", ["phone_hash"])
    op.create_index("ix_leads_state_grade", "leads", ["state", "grade"])
    op.create_index("ix_leads_owner_state", "leads", ["owner_id", "state"])
    op.create_table(
        "lead_follow_ups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "lead_id",
            BigId,
            sa.ForeignKey("leads.id", name="fk_lead_follow_ups_lead_id_leads"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("next_step", sa.String(500), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", When, nullable=False),
        _user("lead_follow_ups", "created_by"),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lead_follow_ups"),
    )
    op.create_index("ix_lead_follow_ups_lead_id", "lead_follow_ups", ["lead_id"])
    op.create_table(
        "lead_intakes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "lead_id", BigId, sa.ForeignKey("leads.id", name="fk_lead_intakes_lead_id_leads"), nullable=False
        ),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lead_intakes"),
    )
    op.create_index("ix_lead_intakes_lead_id", "lead_intakes", ["lead_id"])
    op.create_table(
        "lead_conversion_marks",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("last_order_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lead_conversion_marks"),
    )
    articles = op.create_table(
        "kb_articles",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
        sa.UniqueConstraint(
            "kind", "category", "language", "title", name="uq_kb_articles_kind_category_language_title"
        ),
    )
    op.bulk_insert(articles, script_rows(datetime.now(UTC)))


def downgrade() -> None:
    op.drop_table("kb_articles")
    op.drop_table("lead_conversion_marks")
    op.drop_index("ix_lead_intakes_lead_id", table_name="lead_intakes")
    op.drop_table("lead_intakes")
    op.drop_index("ix_lead_follow_ups_lead_id", table_name="lead_follow_ups")
    op.drop_table("lead_follow_ups")
    op.drop_index("ix_leads_owner_state", table_name="leads")
    op.drop_index("ix_leads_state_grade", table_name="leads")
    op.drop_index("ix_leads_phone_hash", table_name="leads")
    op.drop_table("leads")
