"""What the worker does for after-sales: the order's close clock waits for open cases (ORD-7).
The case clocks (aftersales.review, aftersales.refund) have no action: their breach is alerted."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service
from shopflow.core.sla.models import SlaClock
from shopflow.orders.models import order_of_subject


async def close_order(session: AsyncSession, found: SlaClock) -> None:
    """The after-sales clock of an order (the ASV-1 window): closed unless a case is still open."""
    await service.close_order_when_free(session, order_of_subject(found.subject))
