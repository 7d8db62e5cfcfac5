"""SLA clocks' budget source (SLA-1, issue 14): the duration a clock was started with in either
basis, and the fingerprint of the policy it was computed from, so a change of a kind's duration
or basis recomputes the clocks still open

Revision ID: 0025_sla_budget_source
Revises: 0024_care
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_sla_budget_source"
down_revision: str | None = "0024_care"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('running', 'paused') AND planned_seconds IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks") as batch_op:
        batch_op.add_column(sa.Column("planned_seconds", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(16), nullable=True))
    op.create_index(
        "ix_sla_clocks_source",
        "sla_clocks",
        ["kind", "source"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_source", table_name="sla_clocks")
    with op.batch_alter_table("sla_clocks") as batch_op:
        for column in ("source", "planned_seconds"):
            batch_op.drop_column(column)
