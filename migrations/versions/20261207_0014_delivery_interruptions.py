"""A delivery counts the attempts in a row whose worker died mid-send; too many and it is dead (NTF-1)

Revision ID: 0014_delivery_interruptions
Revises: 0013_idempotency_scope
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_delivery_interruptions"
down_revision: str | None = "0013_idempotency_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.add_column(sa.Column("interruptions", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.drop_column("interruptions")
