"""Every query of cycle counts and transfers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.stockcontrol.models import (
    CountLine,
    CountState,
    StockCount,
    Transfer,
    TransferLine,
    TransferState,
)


async def count_by_id(session: AsyncSession, count_id: int, *, lock: bool = False) -> StockCount | None:
    stmt = select(StockCount).where(StockCount.id == count_id).options(selectinload(StockCount.lines))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def counts_page(
    session: AsyncSession, state: CountState | None, offset: int, limit: int
) -> tuple[list[StockCount], int]:
    """Counts, the newest first, with their lines."""
    stmt = select(StockCount)
    if state is not None:
        stmt = stmt.where(StockCount.state == state)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = (
        stmt.options(selectinload(StockCount.lines))
        .order_by(StockCount.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(page)).all()), int(total or 0)


async def scheduled_periods(session: AsyncSession, periods: list[str]) -> set[tuple[int, str, str]]:
    """(warehouse id, kind, period) of the counts scheduled for any of `periods`."""
    stmt = select(StockCount.warehouse_id, StockCount.kind, StockCount.period).where(
        StockCount.period.in_(periods)
    )
    return {(warehouse, kind, period) for warehouse, kind, period in (await session.execute(stmt)).all()}


async def last_counted(session: AsyncSession, warehouse_id: int) -> dict[int, datetime]:
    """When each SKU was last counted in the warehouse, by a count since posted."""
    stmt = (
        select(CountLine.sku_id, func.max(CountLine.counted_at))
        .join(StockCount, StockCount.id == CountLine.count_id)
        .where(StockCount.warehouse_id == warehouse_id, StockCount.state == CountState.POSTED)
        .group_by(CountLine.sku_id)
    )
    return {sku: at for sku, at in (await session.execute(stmt)).all() if at is not None}


async def transfer_by_id(session: AsyncSession, transfer_id: int, *, lock: bool = False) -> Transfer | None:
    stmt = select(Transfer).where(Transfer.id == transfer_id).options(selectinload(Transfer.lines))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def transfers_page(
    session: AsyncSession, state: TransferState | None, offset: int, limit: int
) -> tuple[list[Transfer], int]:
    """Transfers, the newest first, with their lines."""
    stmt = select(Transfer)
    if state is not None:
        stmt = stmt.where(Transfer.state == state)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = stmt.options(selectinload(Transfer.lines)).order_by(Transfer.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(page)).all()), int(total or 0)


async def in_transit(session: AsyncSession) -> dict[tuple[int, int], int]:
    """Units shipped and not yet received, per (SKU id, destination warehouse id)."""
    stmt = (
        select(TransferLine.sku_id, Transfer.to_warehouse_id, func.sum(TransferLine.quantity))
        .join(Transfer, Transfer.id == TransferLine.transfer_id)
        .where(Transfer.state == TransferState.SHIPPED)
        .group_by(TransferLine.sku_id, Transfer.to_warehouse_id)
    )
    return {(sku, warehouse): int(units) for sku, warehouse, units in (await session.execute(stmt)).all()}
