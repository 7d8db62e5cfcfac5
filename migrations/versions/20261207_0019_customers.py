"""Customers (CRM-1): profiles, their phones (blind index), value entries; orders link to one.
Existing orders get customers: one per phone hash, named from its latest order, with the
value of its paid orders and settled refunds (issue 13)

Revision ID: 0019_customers
Revises: 0018_leads
Create Date: 2026-12-07
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from shopflow.core.crypto import Vault
from shopflow.core.settings import get_settings

revision: str = "0019_customers"
down_revision: str | None = "0018_leads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("personal", sa.LargeBinary(), nullable=False),
        sa.Column("tags", JSONType, nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("lifetime_value", sa.BigInteger(), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("first_order_at", When, nullable=True),
        sa.Column("last_order_at", When, nullable=True),
        sa.Column(
            "merged_into",
            BigId,
            sa.ForeignKey("customers.id", name="fk_customers_merged_into_customers"),
            nullable=True,
        ),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    op.create_table(
        "customer_phones",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            BigId,
            sa.ForeignKey("customers.id", name="fk_customer_phones_customer_id_customers"),
            nullable=False,
        ),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("phone", sa.LargeBinary(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_phones"),
        sa.UniqueConstraint("phone_hash", name="uq_customer_phones_phone_hash"),
    )
    op.create_index("ix_customer_phones_customer_id", "customer_phones", ["customer_id"])
    op.create_table(
        "customer_value_entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            BigId,
            sa.ForeignKey("customers.id", name="fk_customer_value_entries_customer_id_customers"),
            nullable=False,
        ),
        sa.Column(
            "order_id",
            BigId,
            sa.ForeignKey("orders.id", name="fk_customer_value_entries_order_id_orders"),
            nullable=False,
        ),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_value_entries"),
        sa.UniqueConstraint("source", name="uq_customer_value_entries_source"),
    )
    op.create_index("ix_customer_value_entries_customer_id", "customer_value_entries", ["customer_id"])
    op.create_index("ix_customer_value_entries_order_id", "customer_value_entries", ["order_id"])
    if op.get_bind().dialect.name == "sqlite":
        # In place: rebuilding `orders` (batch mode) would drop the table its children's foreign
        # keys (enforced here) point at.
        op.execute(
            "ALTER TABLE orders ADD COLUMN customer_id INTEGER"
            " CONSTRAINT fk_orders_customer_id_customers REFERENCES customers (id)"
        )
    else:
        op.add_column("orders", sa.Column("customer_id", BigId, nullable=True))
        op.create_foreign_key(
            "fk_orders_customer_id_customers", "orders", "customers", ["customer_id"], ["id"]
        )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    _backfill()


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


customers = sa.table(
    "customers",
    sa.column("id", BigId),
    sa.column("personal", sa.LargeBinary),
    sa.column("tags", JSONType),
    sa.column("tier", sa.String),
    sa.column("source", sa.String),
    sa.column("lifetime_value", sa.BigInteger),
    sa.column("order_count", sa.Integer),
    sa.column("first_order_at", When),
    sa.column("last_order_at", When),
    sa.column("created_at", When),
    sa.column("updated_at", When),
)
phones = sa.table(
    "customer_phones",
    sa.column("customer_id", BigId),
    sa.column("phone_hash", sa.String),
    sa.column("phone", sa.LargeBinary),
    sa.column("is_primary", sa.Boolean),
    sa.column("created_at", When),
)
entries = sa.table(
    "customer_value_entries",
    sa.column("customer_id", BigId),
    sa.column("order_id", BigId),
    sa.column("source", sa.String),
    sa.column("amount", sa.BigInteger),
    sa.column("at", When),
)
orders = sa.table("orders", sa.column("customer_id", BigId), sa.column("phone_hash", sa.String))


def _backfill() -> None:
    """One customer per phone hash of the orders, named from its latest order (the phone its
    number); its value: each paid order's first successful payment, less the refunds of those
    payments that succeeded; its order times those of its paid orders."""
    bind = op.get_bind()
    found = bind.execute(
        sa.text("SELECT id, phone_hash, contact, created_at, paid_at FROM orders ORDER BY id")
    ).all()
    if not found:
        return
    vault = Vault(get_settings().fernet_key())
    by_phone: dict[str, list[Any]] = defaultdict(list)
    for row in found:
        by_phone[row.phone_hash].append(row)
    counted = {
        order_id: (payment_id, amount, _utc(at))
        for payment_id, order_id, amount, at in bind.execute(
            sa.text(
                "SELECT p.id, p.order_id, p.amount, p.updated_at FROM payments p"
                " JOIN orders o ON o.id = p.order_id"
                " WHERE p.status = 'succeeded' AND o.paid_at IS NOT NULL ORDER BY p.id DESC"
            )
        ).all()
    }  # the earliest success of each paid order wins (read last)
    refunded: dict[int, list[tuple[int, int, datetime | None]]] = defaultdict(list)
    for refund_id, payment_id, amount, at in bind.execute(
        sa.text(
            "SELECT id, payment_id, amount, settled_at FROM refunds WHERE status = 'succeeded' ORDER BY id"
        )
    ).all():
        refunded[payment_id].append((refund_id, amount, _utc(at)))
    now = datetime.now(UTC)
    for phone_hash, rows in by_phone.items():
        latest = vault.open(bytes(rows[-1].contact))
        person, address = latest["customer"], latest["shipping_address"]
        value_rows = []
        paid_times = []
        for row in rows:
            if row.id not in counted:
                continue
            payment_id, amount, at = counted[row.id]
            paid_times.append(_utc(row.created_at))
            value_rows.append((row.id, f"payment:{payment_id}", amount, at or now))
            for refund_id, refund_amount, settled in refunded[payment_id]:
                value_rows.append((row.id, f"refund:{refund_id}", -refund_amount, settled or now))
        personal = {"name": person.get("name", ""), "email": person.get("email"), "addresses": [address]}
        customer_id = bind.execute(
            customers.insert()
            .values(
                personal=vault.seal(personal),
                tags=[],
                tier="none",
                source="order",
                lifetime_value=sum(amount for _, _, amount, _ in value_rows),
                order_count=len(paid_times),
                first_order_at=min(paid_times, default=None),
                last_order_at=max(paid_times, default=None),
                created_at=_utc(rows[0].created_at),
                updated_at=now,
            )
            .returning(customers.c.id)
        ).scalar_one()
        bind.execute(
            phones.insert().values(
                customer_id=customer_id,
                phone_hash=phone_hash,
                phone=vault.seal(person.get("phone", "")),
                is_primary=True,
                created_at=_utc(rows[0].created_at),
            )
        )
        bind.execute(orders.update().where(orders.c.phone_hash == phone_hash).values(customer_id=customer_id))
        if value_rows:
            bind.execute(
                entries.insert(),
                [
                    {"customer_id": customer_id, "order_id": o, "source": s, "amount": a, "at": at}
                    for o, s, a, at in value_rows
                ],
            )


def downgrade() -> None:
    """(SQLite rebuilds `orders` for it, which its children's enforced foreign keys refuse while
    they hold rows, as for the earlier revisions that dropped a column of `orders`.)"""
    op.drop_index("ix_orders_customer_id", "orders")
    with op.batch_alter_table("orders") as batch:
        if op.get_bind().dialect.name != "sqlite":  # SQLite's goes with its column
            batch.drop_constraint("fk_orders_customer_id_customers", type_="foreignkey")
        batch.drop_column("customer_id")
    op.drop_table("customer_value_entries")
    op.drop_table("customer_phones")
    op.drop_table("customers")
