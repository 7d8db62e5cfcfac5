"""Every query of the funnel (CRM-5): traffic counts stored and summed, buyers and repeaters
counted per period by grouped SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shopflow.analytics.models import MetricRollup, TrafficCount
from shopflow.core.db import UTCDateTime, insert_for
from shopflow.orders.models import Order

COUNTS = ("visitors", "inquiries", "updated_by", "updated_at")


async def counts_of(
    session: AsyncSession, keys: Sequence[tuple[date, str]]
) -> dict[tuple[date, str], TrafficCount]:
    """The stored counts of the (day, channel) `keys`, by key."""
    if not keys:
        return {}
    stmt = select(TrafficCount).where(tuple_(TrafficCount.day, TrafficCount.channel).in_(list(set(keys))))
    return {(c.day, c.channel): c for c in (await session.scalars(stmt)).all()}


async def upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Store each row's counts for its (day, channel), replacing the counts stored before: one
    INSERT … ON CONFLICT DO UPDATE."""
    if not rows:
        return
    stmt = insert_for(session, TrafficCount).values(list(rows))
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "channel"], set_={name: stmt.excluded[name] for name in COUNTS}
    )
    await session.execute(stmt, execution_options={"synchronize_session": False})


async def rollups(
    session: AsyncSession, keys: Sequence[tuple[str, date]], since: datetime
) -> dict[tuple[str, date], list[list[Any]]]:
    """The stored metric sets of the (period kind, first day) `keys` computed at `since` or later."""
    stmt = select(MetricRollup.kind, MetricRollup.first, MetricRollup.metrics).where(
        tuple_(MetricRollup.kind, MetricRollup.first).in_(list(keys)), MetricRollup.computed_at >= since
    )
    return {(kind, first): stored for kind, first, stored in (await session.execute(stmt)).all()}


async def store_rollups(
    session: AsyncSession, computed: dict[tuple[str, date], list[list[Any]]], at: datetime
) -> None:
    """Store each (period kind, first day)'s metric set as computed at `at`, replacing what was
    stored."""
    rows = [
        {"kind": kind, "first": first, "metrics": stored, "computed_at": at}
        for (kind, first), stored in computed.items()
    ]
    stmt = insert_for(session, MetricRollup).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "first"],
        set_={"metrics": stmt.excluded.metrics, "computed_at": stmt.excluded.computed_at},
    )
    await session.execute(stmt, execution_options={"synchronize_session": False})


async def has_orders_of(session: AsyncSession, channel: str) -> bool:
    """Whether any stored order came through `channel` (one probe of its index)."""
    return await session.scalar(select(Order.id).where(Order.channel == channel).limit(1)) is not None


async def traffic_by_day(
    session: AsyncSession, first: date, last: date, channel: str | None
) -> dict[date, tuple[int, int]]:
    """Visitors and inquiries per store day of `first`..`last` (days without counts left out),
    summed over the channels or of `channel`."""
    conditions = [TrafficCount.day >= first, TrafficCount.day <= last]
    if channel is not None:
        conditions.append(TrafficCount.channel == channel)
    stmt = (
        select(TrafficCount.day, func.sum(TrafficCount.visitors), func.sum(TrafficCount.inquiries))
        .where(*conditions)
        .group_by(TrafficCount.day)
    )
    return {day: (int(v), int(i)) for day, v, i in (await session.execute(stmt)).all()}


async def buyers(
    session: AsyncSession, bounds: Sequence[tuple[datetime, datetime]], channel: str | None, repeat_at: int
) -> dict[int, tuple[int, int]]:
    """Per window of `bounds` (by its index): the customers with an order counted in it (paid, or
    confirmed on credit: `Order.counted_at`, ORD-5; of `channel` when given), and how many of them
    have at least `repeat_at` orders counted (any channel) before the window's end. One grouped
    statement for every window."""
    windows = union_all(
        *(
            select(
                literal(i, Integer).label("idx"),
                literal(start, UTCDateTime()).label("starts"),
                literal(end, UTCDateTime()).label("ends"),
            )
            for i, (start, end) in enumerate(bounds)
        )
    ).cte("windows")
    conditions = [Order.customer_id.is_not(None)]
    if channel is not None:
        conditions.append(Order.channel == channel)
    bought = (
        select(windows.c.idx, windows.c.ends, Order.customer_id)
        .join_from(
            Order, windows, and_(Order.counted_at >= windows.c.starts, Order.counted_at < windows.c.ends)
        )
        .where(*conditions)
        .group_by(windows.c.idx, windows.c.ends, Order.customer_id)
        .subquery("bought")
    )
    earlier = aliased(Order)
    paid = (
        select(func.count())
        .where(earlier.customer_id == bought.c.customer_id, earlier.counted_at < bought.c.ends)
        .scalar_subquery()
    )
    stmt = select(bought.c.idx, func.count(), func.sum(case((paid >= repeat_at, 1), else_=0))).group_by(
        bought.c.idx
    )
    return {int(i): (int(n), int(r or 0)) for i, n, r in (await session.execute(stmt)).all()}
