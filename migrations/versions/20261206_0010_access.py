"""Revocable access and people (issue 10, items 4 and 9): console sessions kept by the server,
failed sign-ins counted per account and address, and a user's team, manager, duty and email

Revision ID: 0010_access
Revises: 0009_delivery_leases
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_access"
down_revision: str | None = "0009_delivery_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("team", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("manager_id", BigId, nullable=True))
        batch.add_column(sa.Column("on_duty", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.create_foreign_key(batch.f("fk_users_manager_id_users"), "users", ["manager_id"], ["id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_console_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_console_sessions_key_hash")),
    )
    op.create_index(op.f("ix_console_sessions_user_id"), "console_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_username_at", "login_failures", ["username", "at"])
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_address_at", table_name="login_failures")
    op.drop_index("ix_login_failures_username_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_console_sessions_user_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(batch.f("fk_users_manager_id_users"), type_="foreignkey")
        batch.drop_column("email")
        batch.drop_column("on_duty")
        batch.drop_column("manager_id")
        batch.drop_column("team")
