"""The service desk's second half (SVC-5, SVC-6, SVC-8, SVC-9, AUD-1): surveys, call-back tasks,
greetings, the retention log; message purging; audit rows past retention may be deleted

Revision ID: 0024_care
Revises: 0023_quotes
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_care"
down_revision: str | None = "0023_quotes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _ref(table: str, column: str, target: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column, BigId, sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"), nullable=nullable
    )


def upgrade() -> None:
    op.add_column("ticket_messages", sa.Column("purged_at", When, nullable=True))
    op.create_index("ix_ticket_messages_at", "ticket_messages", ["at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "surveys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _ref("surveys", "order_id", "orders"),
        _ref("surveys", "ticket_id", "tickets"),
        _ref("surveys", "customer_id", "customers"),
        _ref("surveys", "agent_id", "users"),
        sa.Column("sent_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("answered_at", When, nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        _ref("surveys", "follow_up_id", "tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_surveys"),
        sa.UniqueConstraint("key", name="uq_surveys_key"),
    )
    op.create_index("ix_surveys_order_id", "surveys", ["order_id"])
    op.create_index("ix_surveys_ticket_id", "surveys", ["ticket_id"])
    op.create_table(
        "callback_tasks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        _ref("callback_tasks", "ticket_id", "tickets"),
        _ref("callback_tasks", "customer_id", "customers"),
        _ref("callback_tasks", "assignee_id", "users"),
        sa.Column("due_at", When, nullable=False),
        sa.Column("done_at", When, nullable=True),
        _ref("callback_tasks", "done_by", "users"),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callback_tasks"),
        sa.UniqueConstraint("key", name="uq_callback_tasks_key"),
    )
    op.create_index("ix_callback_tasks_open", "callback_tasks", ["done_at", "due_at"])
    op.create_index("ix_callback_tasks_ticket_id", "callback_tasks", ["ticket_id"])
    op.create_index("ix_callback_tasks_customer_id", "callback_tasks", ["customer_id"])
    op.create_table(
        "care_greetings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _ref("care_greetings", "customer_id", "customers", nullable=False),
        sa.Column("occasion", sa.String(40), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("sent_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_care_greetings"),
        sa.UniqueConstraint(
            "customer_id", "occasion", "year", name="uq_care_greetings_customer_id_occasion_year"
        ),
    )
    op.create_table(
        "care_sweeps",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_customer_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_care_sweeps"),
    )
    op.create_table(
        "retention_purges",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", When, nullable=False),
        sa.Column("messages_before", When, nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("audit_before", When, nullable=False),
        sa.Column("audit_rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_purges"),
    )
    _audit_guard(purgeable=True)


def _audit_guard(*, purgeable: bool) -> None:
    """AUD-1: the audit log refuses UPDATE, and DELETE of rows younger than 3 years (the spec's
    retention, the least the policy may set) when `purgeable`; every DELETE otherwise."""
    if op.get_bind().dialect.name == "postgresql":
        young = "OLD.at > now() - interval '3 years'" if purgeable else "true"
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP = 'UPDATE' OR {young} THEN "
            "RAISE EXCEPTION 'audit_log is append-only'; END IF; RETURN OLD; END $$"
        )
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
        when = " WHEN OLD.at > datetime('now', '-3 years')" if purgeable else ""
        op.execute(
            f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log{when} "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    _audit_guard(purgeable=False)
    op.drop_table("retention_purges")
    op.drop_table("care_sweeps")
    op.drop_table("care_greetings")
    for name in ("customer_id", "ticket_id", "open"):
        op.drop_index(f"ix_callback_tasks_{name}", table_name="callback_tasks")
    op.drop_table("callback_tasks")
    op.drop_index("ix_surveys_ticket_id", table_name="surveys")
    op.drop_index("ix_surveys_order_id", table_name="surveys")
    op.drop_table("surveys")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_ticket_messages_at", table_name="ticket_messages")
    with op.batch_alter_table("ticket_messages") as batch_op:
        batch_op.drop_column("purged_at")
