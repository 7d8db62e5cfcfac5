"""Alerts that scale (ANA-3): owner, resolution; a missed deadline's kind names its clock

Revision ID: 0007_alerts
Revises: 0006_order_no_prefix
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_alerts"
down_revision: str | None = "0006_order_no_prefix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
alerts = sa.table(
    "alerts",
    sa.column("id", BigId),
    sa.column("kind", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("owner", sa.String),
)
clocks = sa.table("sla_clocks", sa.column("id", BigId), sa.column("kind", sa.String))
# The owners the default policy gave the kinds raised before this revision (policy.alerts).
OWNERS = sa.case(
    (alerts.c.kind == "sla.breach.shipment.exception_contact", "cs_supervisor"),
    (alerts.c.kind.like("sla.breach.%"), "operations"),
    (alerts.c.kind == "logistics_exception", "operations"),
    (alerts.c.kind.in_(("payment_amount_mismatch", "payment_for_unpayable_order")), "finance"),
    else_="admin",
)


def _name_breaches_by_clock() -> None:
    """ "sla_breach" becomes "sla.breach.<clock kind>"; the key is "sla:<clock id>:<its start>"."""
    bind = op.get_bind()
    found = bind.execute(sa.select(alerts.c.id, alerts.c.dedupe_key).where(alerts.c.kind == "sla_breach"))
    by_clock = {int(key.split(":")[1]): alert_id for alert_id, key in found}
    if not by_clock:
        return
    kinds = bind.execute(sa.select(clocks.c.id, clocks.c.kind).where(clocks.c.id.in_(by_clock)))
    bind.execute(
        alerts.update().where(alerts.c.id == sa.bindparam("alert_id")).values(kind=sa.bindparam("new_kind")),
        [{"alert_id": by_clock[clock_id], "new_kind": f"sla.breach.{kind}"} for clock_id, kind in kinds],
    )


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", BigId, nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch.create_foreign_key(batch.f("fk_alerts_resolved_by_users"), "users", ["resolved_by"], ["id"])
    _name_breaches_by_clock()
    op.execute(alerts.update().values(owner=OWNERS))
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("owner", existing_type=sa.String(length=80), nullable=False)
        batch.create_index(batch.f("ix_alerts_owner"), ["owner"], unique=False)


def downgrade() -> None:
    op.execute(alerts.update().where(alerts.c.kind.like("sla.breach.%")).values(kind="sla_breach"))
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index(batch.f("ix_alerts_owner"))
        batch.drop_constraint(batch.f("fk_alerts_resolved_by_users"), type_="foreignkey")
        batch.drop_column("resolution_note")
        batch.drop_column("resolved_by")
        batch.drop_column("resolved_at")
        batch.drop_column("owner")
