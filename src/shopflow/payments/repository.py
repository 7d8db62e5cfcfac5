from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.db import insert_for
from shopflow.payments.models import CallbackResult, Payment, PaymentCallback, PaymentReceipt


async def get(session: AsyncSession, payment_id: int, *, lock: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.id == payment_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def of_order(session: AsyncSession, order_id: int) -> list[Payment]:
    stmt = select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
    return list((await session.scalars(stmt)).all())


async def record_callback(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Store a callback once per (provider, event id); None when it was seen before."""
    stmt = (
        insert_for(session, PaymentCallback)
        .values(values)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(PaymentCallback.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def callback_result(session: AsyncSession, provider: str, event_id: str) -> CallbackResult:
    stmt = select(PaymentCallback.result).where(
        PaymentCallback.provider == provider, PaymentCallback.event_id == event_id
    )
    return CallbackResult((await session.execute(stmt)).scalar_one())


async def callbacks_of(session: AsyncSession, payment_id: int) -> list[PaymentCallback]:
    stmt = (
        select(PaymentCallback).where(PaymentCallback.payment_id == payment_id).order_by(PaymentCallback.id)
    )
    return list((await session.scalars(stmt)).all())


async def receipts(
    session: AsyncSession, start: datetime | None, end: datetime | None, offset: int, limit: int
) -> tuple[list[PaymentReceipt], int]:
    conditions = []
    if start is not None:
        conditions.append(PaymentReceipt.received_at >= start)
    if end is not None:
        conditions.append(PaymentReceipt.received_at < end)
    total = await session.scalar(select(func.count()).select_from(PaymentReceipt).where(*conditions))
    stmt = select(PaymentReceipt).where(*conditions).order_by(PaymentReceipt.id).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)
