"""A return shipment's tracking events (ASV-3), by the carriers' push or file like the store's parcels

Revision ID: 0017_return_events
Revises: 0016_refund_retries
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_return_events"
down_revision: str | None = "0016_refund_retries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "aftersales_return_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shipment_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=120), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["aftersales_return_shipments.id"],
            name=op.f("fk_aftersales_return_events_shipment_id_aftersales_return_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aftersales_return_events")),
        sa.UniqueConstraint(
            "shipment_id",
            "occurred_at",
            "status",
            name=op.f("uq_aftersales_return_events_shipment_id_occurred_at_status"),
        ),
    )


def downgrade() -> None:
    op.drop_table("aftersales_return_events")
