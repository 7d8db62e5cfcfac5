"""What the worker does when an order's clock runs out (ORD-5, ORD-7); the worker registers these
in its BREACH_ACTIONS. The ship and deliver clocks (ORD-6) have no action: their breach is alerted.
The after-sales close clock's action is `aftersales.tasks.close_order` (it waits for open cases).
And the sweep releasing stock-shortage holds once their stock is there (INV-5)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.sla.models import SlaClock
from shopflow.orders.models import order_of_subject
from shopflow.orders.service import lifecycle


async def cancel_unpaid(session: AsyncSession, found: SlaClock) -> None:
    """The pay clock, started at confirmation (ORD-5): an unpaid order is cancelled, its stock released."""
    await lifecycle.cancel_unpaid(session, order_of_subject(found.subject))


async def assume_receipt(session: AsyncSession, found: SlaClock) -> None:
    """The receipt clock, started at delivery (ORD-7): receipt is assumed, the order completed."""
    await lifecycle.assume_receipt(session, order_of_subject(found.subject))


SHORTAGE_BATCH = 200  # orders waiting for stock looked at per transaction


async def release_shortages(session: AsyncSession) -> int:
    """INV-5: stock-shortage holds whose stock is now there released, earliest payment first."""
    return await lifecycle.release_covered_shortages(session, SHORTAGE_BATCH)
