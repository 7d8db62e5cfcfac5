"""Member benefits (issue 16, LOY-2): an order picked first (its member's tier at intake) and a
customer's dedicated service agent

Revision ID: 0035_member_benefits
Revises: 0034_campaigns
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_member_benefits"
down_revision: str | None = "0034_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("orders", sa.Column("pick_first", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("agent_id", BigId, nullable=True))
        batch.create_foreign_key(op.f("fk_customers_agent_id_users"), "users", ["agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint(op.f("fk_customers_agent_id_users"), type_="foreignkey")
        batch.drop_column("agent_id")
    # Not by a batch: on SQLite it would copy the orders table and lose its expression indexes.
    op.drop_column("orders", "pick_first")
