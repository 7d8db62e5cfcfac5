"""The worker's retries of a failed case refund (PAY-3): how often tried, when next

Revision ID: 0016_refund_retries
Revises: 0015_staff_email_sealed
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_refund_retries"
down_revision: str | None = "0015_staff_email_sealed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "refund_retries",
        sa.Column("refund_id", BigId, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_refund_retries_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_refund_retries")),
    )


def downgrade() -> None:
    op.drop_table("refund_retries")
