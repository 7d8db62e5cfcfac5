"""What the worker does for quotes: approved or sent quotes past their validity expire (CRM-6)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.crm.quotes import service


async def expire(session: AsyncSession) -> int:
    return await service.expire(session)
