"""What the worker does for planning: watch safety stock (INV-4), forecast nightly (ANA-5), and
answer orders held for a stock shortage with a purchase order and a ship date (ORD-4)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.planning.service import forecasts, replenishment, safety


async def safety_stock(session: AsyncSession) -> int:
    """Raise a low-stock alert for each watch newly below its threshold, resolve those back above."""
    return await safety.watch(session)


async def forecast(session: AsyncSession) -> int:
    """The day's demand rolled up and every SKU's forecast made, once a day."""
    return await forecasts.nightly(session)


async def shortages(session: AsyncSession) -> int:
    """Orders held for a stock shortage put on a purchase order, their customers told when they ship."""
    return await replenishment.request_for_shortages(session)
