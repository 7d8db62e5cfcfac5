"""Erasure on request (issue 17, RSK-3): when a customer's personal data was erased

Revision ID: 0037_erasure
Revises: 0036_risk
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_erasure"
down_revision: str | None = "0036_risk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "erased_at")
