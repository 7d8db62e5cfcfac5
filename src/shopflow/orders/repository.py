"""Every query of the orders domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.core.db import insert_for
from shopflow.orders.models import Order, OrderLine, OrderStatus


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the order unless a unique key (idempotency key, channel order number, order
    number) is taken; None then. On PostgreSQL a concurrent twin waits here for the first."""
    stmt = insert_for(session, Order).values(values).on_conflict_do_nothing().returning(Order.id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_twin(
    session: AsyncSession, idempotency_key: str | None, channel: str, channel_order_no: str | None
) -> Order | None:
    keys = []
    if idempotency_key is not None:
        keys.append(Order.idempotency_key == idempotency_key)
    if channel_order_no is not None:
        keys.append((Order.channel == channel) & (Order.channel_order_no == channel_order_no))
    if not keys:
        return None
    stmt = select(Order).options(selectinload(Order.lines)).where(or_(*keys)).order_by(Order.id)
    return (await session.scalars(stmt)).first()


async def insert_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(OrderLine), rows)


async def mark_held(session: AsyncSession, order_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Order).where(Order.id == order_id).values(values))


async def get(session: AsyncSession, order_id: int, *, lock: bool = False) -> Order | None:
    stmt = select(Order).options(selectinload(Order.lines)).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=Order)
    return (await session.scalars(stmt)).first()


async def page(
    session: AsyncSession,
    *,
    status: OrderStatus | None,
    channel: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[Order], int]:
    conditions = []
    if status is not None:
        conditions.append(Order.status == status)
    if channel is not None:
        conditions.append(Order.channel == channel)
    if created_from is not None:
        conditions.append(Order.created_at >= created_from)
    if created_to is not None:
        conditions.append(Order.created_at < created_to)
    total = await session.scalar(select(func.count()).select_from(Order).where(*conditions))
    stmt = select(Order).where(*conditions).order_by(Order.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def lock_unpaid_before(session: AsyncSession, cutoff: datetime, limit: int) -> list[Order]:
    """Confirmed orders unpaid since before `cutoff`; rows another worker holds are skipped."""
    stmt = (
        select(Order)
        .options(selectinload(Order.lines))
        .where(Order.status == OrderStatus.CONFIRMED, Order.confirmed_at < cutoff)
        .order_by(Order.confirmed_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )
    return list((await session.scalars(stmt)).all())
