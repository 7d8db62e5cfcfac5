from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import case, distinct, func, select
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


async def receipt_totals(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[tuple[str, int, int]]:
    """Receipts received in [start, end) per method: (method, how many, amount), by method."""
    conditions = []
    if start is not None:
        conditions.append(PaymentReceipt.received_at >= start)
    if end is not None:
        conditions.append(PaymentReceipt.received_at < end)
    stmt = (
        select(PaymentReceipt.method, func.count(), func.coalesce(func.sum(PaymentReceipt.amount), 0))
        .where(*conditions)
        .group_by(PaymentReceipt.method)
        .order_by(PaymentReceipt.method)
    )
    return [
        (method, int(count), int(amount)) for method, count, amount in (await session.execute(stmt)).all()
    ]


async def takings(session: AsyncSession, bounds: Sequence[datetime]) -> tuple[list[int], int]:
    """Money received in each interval between consecutive `bounds` (PAY-5), and how many
    orders it paid; one pass over the receipts of the whole span."""
    at, amount = PaymentReceipt.received_at, PaymentReceipt.amount
    sums = [
        func.coalesce(func.sum(case(((at >= start) & (at < end), amount), else_=0)), 0)
        for start, end in pairwise(bounds)
    ]
    stmt = select(*sums, func.count(distinct(PaymentReceipt.order_id))).where(
        at >= bounds[0], at < bounds[-1]
    )
    row = (await session.execute(stmt)).one()
    return [int(value) for value in row[:-1]], int(row[-1])
