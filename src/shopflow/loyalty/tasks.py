"""What the worker does for members: credits past their date expire (LOY-1)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.loyalty import points


async def expire_points(session: AsyncSession) -> int:
    return await points.expire_due(session)
