"""Deliveries once, even across a crash (NTF-1): a delivery's claim and lease; attempts recorded
as `sending` before they are sent, then sent, failed or interrupted

Revision ID: 0009_delivery_leases
Revises: 0008_personal_data_reads
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_delivery_leases"
down_revision: str | None = "0008_personal_data_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

attempts = sa.table("notification_attempts", sa.column("ok", sa.Boolean), sa.column("status", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notification_attempts") as batch:
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=True))
    op.execute(attempts.update().values(status=sa.case((attempts.c.ok, "sent"), else_="failed")))
    with op.batch_alter_table("notification_attempts") as batch:
        batch.alter_column("status", existing_type=sa.String(length=20), nullable=False)
        batch.drop_column("ok")


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts") as batch:
        batch.add_column(sa.Column("ok", sa.Boolean(), nullable=True))
    op.execute(attempts.update().values(ok=attempts.c.status == "sent"))
    with op.batch_alter_table("notification_attempts") as batch:
        batch.alter_column("ok", existing_type=sa.Boolean(), nullable=False)
        batch.drop_column("status")
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
