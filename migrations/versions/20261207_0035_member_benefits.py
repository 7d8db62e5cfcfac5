"""Member benefits (issue 16, LOY-2): an order picked first (its member's tier at intake) and a
customer's dedicated service agent; a campaign's price rules (LOY-3 attribution)

Revision ID: 0035_member_benefits
Revises: 0034_campaigns
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0035_member_benefits"
down_revision: str | None = "0034_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("orders", sa.Column("pick_first", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A user's id without a foreign key: SQLite could only drop a referencing column by rebuilding
    # `customers`, which the enforced keys of its children refuse; users are deactivated, never
    # deleted.
    op.add_column("customers", sa.Column("agent_id", BigId, nullable=True))
    op.add_column("campaigns", sa.Column("price_rule_ids", JSONType, nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("campaigns", "price_rule_ids")
    op.drop_column("customers", "agent_id")
    # Not by a batch: on SQLite it would rebuild the orders table (losing its expression index).
    op.drop_column("orders", "pick_first")
