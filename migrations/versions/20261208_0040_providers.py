"""Payment providers (issue 20, PAY-1): a payment's reference at its provider, and when the worker
last asked the provider about it

Revision ID: 0040_providers
Revises: 0039_counts_transfers
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_providers"
down_revision: str | None = "0039_counts_transfers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("provider_reference", sa.String(80), nullable=True))
    op.add_column("payments", sa.Column("queried_at", sa.DateTime(timezone=True), nullable=True))
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_payments_pending_created_at",
        "payments",
        ["created_at"],
        postgresql_where=pending,
        sqlite_where=pending,
    )


def downgrade() -> None:
    op.drop_index("ix_payments_pending_created_at", "payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("queried_at")
        batch.drop_column("provider_reference")
