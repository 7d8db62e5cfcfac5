"""What the worker does for stock: watch each SKU against its safety stock (INV-4), and each
markdown price rule's SKU against its threshold (CAT-3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.inventory import service


async def safety_stock(session: AsyncSession) -> int:
    """Raise a low-stock alert for each SKU newly below its safety stock, resolve those back above."""
    return await service.watch_safety_stock(session)


async def markdowns(session: AsyncSession) -> int:
    """Note on each markdown rule whether its SKU's stock is above the threshold, since when."""
    return await service.watch_markdowns(session)
