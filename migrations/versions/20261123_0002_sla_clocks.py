"""SLA clocks (SLA-1) with a partial index for the due sweep (SLA-2); order milestone times

Revision ID: 0002_sla_clocks
Revises: 592ebba16503
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sla_clocks"
down_revision: str | None = "592ebba16503"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MILESTONES = ("shipped_at", "delivered_at", "completed_at", "closed_at")


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_sla_clocks_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint("subject", "kind", name=op.f("uq_sla_clocks_subject_kind")),
    )
    op.create_index(op.f("ix_sla_clocks_kind"), "sla_clocks", ["kind"])
    op.create_index(
        "ix_sla_clocks_due",
        "sla_clocks",
        ["deadline"],
        postgresql_where=sa.text("state = 'running'"),
        sqlite_where=sa.text("state = 'running'"),
    )
    with op.batch_alter_table("orders") as batch_op:
        for column in MILESTONES:
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        for column in MILESTONES:
            batch_op.drop_column(column)
    op.drop_index("ix_sla_clocks_due", table_name="sla_clocks")
    op.drop_index(op.f("ix_sla_clocks_kind"), table_name="sla_clocks")
    op.drop_table("sla_clocks")
