"""Reading what a test needs straight from the database: row counts, an order's status, outbox,
audit and alert rows; and writing a crowd of late clocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from shopflow.core.alerts import Alert
from shopflow.core.audit import AuditEntry
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.core.sla.models import ClockState, SlaClock
from shopflow.inventory.models import Reservation
from shopflow.orders.models import Order, OrderLine
from shopflow.payments.models import Payment, PaymentCallback, PaymentReceipt

COUNTED: dict[str, Any] = {
    "orders": Order,
    "order_lines": OrderLine,
    "reservations": Reservation,
    "audit_log": AuditEntry,
    "outbox": OutboxEvent,
    "payments": Payment,
    "payment_callbacks": PaymentCallback,
    "payment_receipts": PaymentReceipt,
    "alerts": Alert,
}


async def counts(db: Database) -> dict[str, int]:
    """Rows per table of everything an order or a payment writes."""
    async with db.transaction() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in COUNTED.items()
        }


async def order_status(db: Database, order_id: int) -> str:
    async with db.transaction() as session:
        return str(await session.scalar(select(Order.status).where(Order.id == order_id)))


async def outbox(db: Database, subject: str) -> list[OutboxEvent]:
    async with db.transaction() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.id)
        return list((await session.scalars(stmt)).all())


async def audit_rows(db: Database, entity: str, entity_id: object) -> list[AuditEntry]:
    async with db.transaction() as session:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.id)
        )
        return list((await session.scalars(stmt)).all())


async def alerts_for(db: Database, subject: str) -> list[Alert]:
    async with db.transaction() as session:
        stmt = select(Alert).where(Alert.subject == subject).order_by(Alert.id)
        return list((await session.scalars(stmt)).all())


async def late_crowd(db: Database, count: int, before: datetime) -> None:
    """`count` running clocks of orders that do not exist, each past its deadline well `before`
    (the longest overdue of any late set): what a late filter must see past."""
    started = before - timedelta(days=30)
    rows = [
        {
            "subject": f"order:{900_000_000 + i}",
            "kind": "order.ship",
            "state": ClockState.RUNNING,
            "started_at": started,
            "deadline": started + timedelta(seconds=i),
        }
        for i in range(count)
    ]
    async with db.transaction() as session:
        await session.execute(insert(SlaClock), rows)
