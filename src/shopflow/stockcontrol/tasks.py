"""What the worker does for stock control: schedule the cycle counts (INV-6)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.audit import SYSTEM
from shopflow.stockcontrol.service import counts


async def schedule_counts(session: AsyncSession) -> int:
    """Start this week's partial count and this month's full count in each warehouse, once."""
    return await counts.schedule(session, SYSTEM)
