"""What the worker does for stock: watch each markdown price rule's SKU against its threshold
(CAT-3). The safety-stock watch (INV-4) is planning's (`planning.tasks.safety_stock`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.inventory import service


async def markdowns(session: AsyncSession) -> int:
    """Note on each markdown rule whether its SKU's stock is above the threshold, since when."""
    return await service.watch_markdowns(session)
