"""Fulfillment (FUL-1..8): waves and pick tasks, carriers and their rules, shipments with tracking
events and exception cases, freight bills

Revision ID: 0004_fulfillment
Revises: 0003_notify
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_fulfillment"
down_revision: str | None = "0003_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "carriers",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("tracking_url", sa.String(length=300), nullable=False),
        sa.Column("push_secret", sa.LargeBinary(), nullable=False),
        sa.Column("base_fee", sa.BigInteger(), nullable=False),
        sa.Column("per_kg_fee", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carriers")),
        sa.UniqueConstraint("code", name=op.f("uq_carriers_code")),
    )
    op.create_table(
        "carrier_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("carrier_id", ID, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=True),
        sa.Column("min_weight_g", sa.Integer(), nullable=True),
        sa.Column("max_weight_g", sa.Integer(), nullable=True),
        sa.Column("min_order_value", sa.BigInteger(), nullable=True),
        sa.Column("max_order_value", sa.BigInteger(), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_carrier_rules_carrier_id_carriers")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_carrier_rules_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_rules")),
    )
    op.create_index(op.f("ix_carrier_rules_carrier_id"), "carrier_rules", ["carrier_id"], unique=False)
    op.create_table(
        "freight_bills",
        sa.Column("id", ID, nullable=False),
        sa.Column("carrier_id", ID, nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("period_from", TIME, nullable=True),
        sa.Column("period_to", TIME, nullable=True),
        sa.Column("imported_by", ID, nullable=True),
        sa.Column("imported_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_freight_bills_carrier_id_carriers")
        ),
        sa.ForeignKeyConstraint(
            ["imported_by"], ["users.id"], name=op.f("fk_freight_bills_imported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freight_bills")),
        sa.UniqueConstraint("carrier_id", "reference", name=op.f("uq_freight_bills_carrier_id_reference")),
    )
    op.create_table(
        "waves",
        sa.Column("id", ID, nullable=False),
        sa.Column("wave_no", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("done_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_waves_created_by_users")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_waves_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waves")),
        sa.UniqueConstraint("wave_no", name=op.f("uq_waves_wave_no")),
    )
    op.create_index(op.f("ix_waves_status"), "waves", ["status"], unique=False)
    op.create_index(op.f("ix_waves_warehouse_id"), "waves", ["warehouse_id"], unique=False)
    op.create_table(
        "pick_tasks",
        sa.Column("id", ID, nullable=False),
        sa.Column("wave_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("order_no", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=True),
        sa.Column("materials", JSON, nullable=True),
        sa.Column("qc_failures", sa.Integer(), nullable=False),
        sa.Column("qc_note", sa.String(length=300), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_pick_tasks_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_pick_tasks_warehouse_id_warehouses")
        ),
        sa.ForeignKeyConstraint(["wave_id"], ["waves.id"], name=op.f("fk_pick_tasks_wave_id_waves")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_tasks")),
        sa.UniqueConstraint("order_id", "warehouse_id", name=op.f("uq_pick_tasks_order_id_warehouse_id")),
    )
    op.create_index(op.f("ix_pick_tasks_wave_id"), "pick_tasks", ["wave_id"], unique=False)
    op.create_table(
        "pick_task_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("sku_id", ID, nullable=False),
        sa.Column("sku_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_pick_task_lines_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["task_id"], ["pick_tasks.id"], name=op.f("fk_pick_task_lines_task_id_pick_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_task_lines")),
    )
    op.create_index(op.f("ix_pick_task_lines_task_id"), "pick_task_lines", ["task_id"], unique=False)
    op.create_table(
        "shipments",
        sa.Column("id", ID, nullable=False),
        sa.Column("task_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("warehouse_id", ID, nullable=False),
        sa.Column("carrier_id", ID, nullable=False),
        sa.Column("tracking_no", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("weight_g", sa.Integer(), nullable=False),
        sa.Column("expected_cost", sa.BigInteger(), nullable=False),
        sa.Column("billed_cost", sa.BigInteger(), nullable=True),
        sa.Column("shipped_at", TIME, nullable=False),
        sa.Column("deliver_by", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("last_event", sa.String(length=20), nullable=True),
        sa.Column("last_event_at", TIME, nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["carrier_id"], ["carriers.id"], name=op.f("fk_shipments_carrier_id_carriers")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_shipments_created_by_users")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders")),
        sa.ForeignKeyConstraint(["task_id"], ["pick_tasks.id"], name=op.f("fk_shipments_task_id_pick_tasks")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_shipments_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("task_id", name=op.f("uq_shipments_task_id")),
        sa.UniqueConstraint("tracking_no", name=op.f("uq_shipments_tracking_no")),
    )
    op.create_index("ix_shipments_carrier_shipped", "shipments", ["carrier_id", "shipped_at"], unique=False)
    op.create_index(op.f("ix_shipments_order_id"), "shipments", ["order_id"], unique=False)
    op.create_table(
        "freight_bill_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("bill_id", ID, nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("waybill", sa.String(length=40), nullable=False),
        sa.Column("shipment_id", ID, nullable=True),
        sa.Column("billed", sa.BigInteger(), nullable=True),
        sa.Column("expected", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["freight_bills.id"], name=op.f("fk_freight_bill_lines_bill_id_freight_bills")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_freight_bill_lines_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freight_bill_lines")),
    )
    op.create_index(op.f("ix_freight_bill_lines_bill_id"), "freight_bill_lines", ["bill_id"], unique=False)
    op.create_table(
        "shipment_exceptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("contact_by", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.Column("closed_by", ID, nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_shipment_exceptions_closed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_shipment_exceptions_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_exceptions")),
    )
    op.create_index(
        op.f("ix_shipment_exceptions_shipment_id"), "shipment_exceptions", ["shipment_id"], unique=False
    )
    op.create_index(op.f("ix_shipment_exceptions_state"), "shipment_exceptions", ["state"], unique=False)
    op.create_index(
        "uq_shipment_exceptions_open",
        "shipment_exceptions",
        ["shipment_id", "kind"],
        unique=True,
        postgresql_where=sa.text("state = 'open'"),
        sqlite_where=sa.text("state = 'open'"),
    )
    op.create_table(
        "tracking_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("shipment_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("location", sa.String(length=120), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_tracking_events_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint(
            "shipment_id",
            "occurred_at",
            "status",
            name=op.f("uq_tracking_events_shipment_id_occurred_at_status"),
        ),
    )


def downgrade() -> None:
    op.drop_table("tracking_events")
    op.drop_index(
        "uq_shipment_exceptions_open",
        table_name="shipment_exceptions",
        postgresql_where=sa.text("state = 'open'"),
        sqlite_where=sa.text("state = 'open'"),
    )
    op.drop_index(op.f("ix_shipment_exceptions_state"), table_name="shipment_exceptions")
    op.drop_index(op.f("ix_shipment_exceptions_shipment_id"), table_name="shipment_exceptions")
    op.drop_table("shipment_exceptions")
    op.drop_index(op.f("ix_freight_bill_lines_bill_id"), table_name="freight_bill_lines")
    op.drop_table("freight_bill_lines")
    op.drop_index(op.f("ix_shipments_order_id"), table_name="shipments")
    op.drop_index("ix_shipments_carrier_shipped", table_name="shipments")
    op.drop_table("shipments")
    op.drop_index(op.f("ix_pick_task_lines_task_id"), table_name="pick_task_lines")
    op.drop_table("pick_task_lines")
    op.drop_index(op.f("ix_pick_tasks_wave_id"), table_name="pick_tasks")
    op.drop_table("pick_tasks")
    op.drop_index(op.f("ix_waves_warehouse_id"), table_name="waves")
    op.drop_index(op.f("ix_waves_status"), table_name="waves")
    op.drop_table("waves")
    op.drop_table("freight_bills")
    op.drop_index(op.f("ix_carrier_rules_carrier_id"), table_name="carrier_rules")
    op.drop_table("carrier_rules")
    op.drop_table("carriers")
