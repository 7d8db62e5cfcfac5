"""The log of personal data shown unmasked to staff (RSK-3)

Revision ID: 0008_personal_data_reads
Revises: 0007_alerts
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_personal_data_reads"
down_revision: str | None = "0007_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "personal_data_reads",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_personal_data_reads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_reads")),
    )
    op.create_index("ix_personal_data_reads_user", "personal_data_reads", ["user_id", "id"], unique=False)
    op.create_index(
        op.f("ix_personal_data_reads_subject_id"), "personal_data_reads", ["subject_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_personal_data_reads_subject_id"), table_name="personal_data_reads")
    op.drop_index("ix_personal_data_reads_user", table_name="personal_data_reads")
    op.drop_table("personal_data_reads")
