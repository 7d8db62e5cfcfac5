"""How a use case writes an order's step (ORD-3): its changed columns and its audit row (AUD-1);
and what the customer is told of an order (ORD-8)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit
from shopflow.core.audit import Actor
from shopflow.orders import repository
from shopflow.orders.models import Order, OrderStatus


def status_row(
    actor: Actor,
    order_id: int,
    before: str | None,
    after: str,
    at: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    """The audit row of an order's step from `before` (None: a new order) to `after`."""
    return audit.row(
        actor,
        f"order.{after}",
        "order",
        order_id,
        None if before is None else {"status": before},
        {"status": after} if reason is None else {"status": after, "reason": reason},
        at,
    )


def notice(order: Order, **extra: Any) -> dict[str, Any]:
    """The payload of an order's outbox event: which order, and `extra`."""
    return {"order_id": order.id, "order_no": order.order_no, "channel": order.channel, **extra}


async def move(
    session: AsyncSession,
    actor: Actor,
    order: Order,
    previous: OrderStatus,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Write the step the locked `order` just took by its model method (from `previous`, at
    `at`): its changed columns by one UPDATE now, its audit row queued for the use case's next
    write (`db.PendingRows`)."""
    await repository.move(session, order)
    audit.queue(session, status_row(actor, order.id, previous, order.status, at, reason))
