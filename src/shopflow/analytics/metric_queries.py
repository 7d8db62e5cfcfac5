"""The metric dictionary's SQL (ANA-1): grouped statements over a set of UTC windows (a CTE of
(idx, starts, ends)), each returning its aggregates per window index, so every period of a
request is computed in one statement per metric family, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CTE, Integer, and_, exists, func, literal, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shopflow.catalog.models import Category, Product, Sku
from shopflow.core.db import UTCDateTime
from shopflow.inventory.models import LedgerEntry
from shopflow.orders.models import EXCHANGE_CHANNEL, UNDATED, Order, OrderLine
from shopflow.payments.models import Payment, PaymentStatus, Refund, RefundStatus
from shopflow.service.models import Ticket, TicketType

Bounds = Sequence[tuple[datetime, datetime]]


def windows_cte(bounds: Bounds) -> CTE:
    return union_all(
        *(
            select(
                literal(i, Integer).label("idx"),
                literal(start, UTCDateTime()).label("starts"),
                literal(end, UTCDateTime()).label("ends"),
            )
            for i, (start, end) in enumerate(bounds)
        )
    ).cte("windows")


def _counted(windows: CTE, channel: str | None) -> tuple[object, list[object]]:
    """The join of counted orders to the window holding their count date, and the conditions:
    never a replacement (ASV-6's exchange channel), of `channel` when given."""
    join = and_(Order.counted_at >= windows.c.starts, Order.counted_at < windows.c.ends)
    conditions: list[object] = [Order.channel != EXCHANGE_CHANNEL]
    if channel is not None:
        conditions.append(Order.channel == channel)
    return join, conditions


async def order_figures(
    session: AsyncSession, bounds: Bounds, channel: str | None
) -> dict[int, tuple[int, ...]]:
    """Per window: counted orders, their captured amount, how many have a settled refund, how
    many a complaint ticket."""
    windows = windows_cte(bounds)
    join, conditions = _counted(windows, channel)
    captured = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.order_id == Order.id, Payment.status == PaymentStatus.SUCCEEDED)
        .scalar_subquery()
    )
    refunded = exists().where(Refund.order_id == Order.id, Refund.status == RefundStatus.SUCCEEDED)
    complained = exists().where(Ticket.order_id == Order.id, Ticket.type == TicketType.COMPLAINT)
    stmt = (
        select(
            windows.c.idx,
            func.count(),
            func.sum(captured),
            func.count().filter(refunded),
            func.count().filter(complained),
        )
        .join_from(Order, windows, join)
        .where(*conditions)
        .group_by(windows.c.idx)
    )
    rows = await session.execute(stmt)
    return {int(i): (int(n), int(s or 0), int(r), int(c)) for i, n, s, r, c in rows}


async def cost_of_goods(session: AsyncSession, bounds: Bounds, channel: str | None) -> dict[int, int]:
    """Per window: Σ unit cost × quantity over the lines of its counted orders."""
    windows = windows_cte(bounds)
    join, conditions = _counted(windows, channel)
    stmt = (
        select(windows.c.idx, func.sum(OrderLine.unit_cost * OrderLine.quantity))
        .join_from(Order, windows, join)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(*conditions)
        .group_by(windows.c.idx)
    )
    return {int(i): int(c or 0) for i, c in await session.execute(stmt)}


async def refunds_settled(session: AsyncSession, bounds: Bounds, channel: str | None) -> dict[int, int]:
    """Per window: the refunds settled (succeeded) in it, whichever period their order counted in."""
    windows = windows_cte(bounds)
    stmt = (
        select(windows.c.idx, func.sum(Refund.amount))
        .join_from(
            Refund, windows, and_(Refund.settled_at >= windows.c.starts, Refund.settled_at < windows.c.ends)
        )
        .join(Order, Order.id == Refund.order_id)
        .where(Refund.status == RefundStatus.SUCCEEDED, Order.channel != EXCHANGE_CHANNEL)
        .group_by(windows.c.idx)
    )
    if channel is not None:
        stmt = stmt.where(Order.channel == channel)
    return {int(i): int(a or 0) for i, a in await session.execute(stmt)}


async def complaints(
    session: AsyncSession, bounds: Bounds, channel: str | None
) -> list[tuple[int, datetime, datetime | None]]:
    """(window, opened, resolved) of each complaint ticket about a window's counted orders."""
    windows = windows_cte(bounds)
    join, conditions = _counted(windows, channel)
    stmt = (
        select(windows.c.idx, Ticket.created_at, Ticket.resolved_at)
        .join_from(Order, windows, join)
        .join(Ticket, and_(Ticket.order_id == Order.id, Ticket.type == TicketType.COMPLAINT))
        .where(*conditions)
    )
    return [(int(i), o, r) for i, o, r in await session.execute(stmt)]


async def customers(session: AsyncSession, bounds: Bounds, channel: str | None) -> dict[int, tuple[int, int]]:
    """Per window: customers with a counted order in it (known customers only), and how many of
    them have at least two counted orders (any channel, never a replacement) up to its end;
    orders without dates (imported history) only in the window of all time."""
    windows = windows_cte(bounds)
    join, conditions = _counted(windows, channel)
    bought = (
        select(windows.c.idx, windows.c.starts, windows.c.ends, Order.customer_id)
        .join_from(Order, windows, join)
        .where(Order.customer_id.is_not(None), *conditions)
        .group_by(windows.c.idx, windows.c.starts, windows.c.ends, Order.customer_id)
        .subquery("bought")
    )
    earlier = aliased(Order)
    counted = (
        select(func.count())
        .where(
            earlier.customer_id == bought.c.customer_id,
            earlier.counted_at < bought.c.ends,
            or_(earlier.undated.is_(False), bought.c.starts <= UNDATED),
            earlier.channel != EXCHANGE_CHANNEL,
        )
        .scalar_subquery()
    )
    stmt = select(bought.c.idx, func.count(), func.count().filter(counted >= 2)).group_by(bought.c.idx)
    return {int(i): (int(n), int(r)) for i, n, r in await session.execute(stmt)}


async def count_dates(
    session: AsyncSession, last: datetime, channel: str | None
) -> list[tuple[int, datetime]]:
    """(customer, count time) of every counted order with a date before `last`, by customer then
    time: the repurchase cycle's input."""
    stmt = (
        select(Order.customer_id, Order.counted_at)
        .where(
            Order.customer_id.is_not(None),
            Order.counted_at.is_not(None),
            Order.undated.is_(False),
            Order.counted_at < last,
            Order.channel != EXCHANGE_CHANNEL,
        )
        .order_by(Order.customer_id, Order.counted_at)
    )
    if channel is not None:
        stmt = stmt.where(Order.channel == channel)
    return [(int(c), t) for c, t in await session.execute(stmt)]


async def category_sales(
    session: AsyncSession, starts: datetime, ends: datetime, channel: str | None, limit: int
) -> list[tuple[str | None, str | None, int, int]]:
    """(category, its parent, line sales, orders) of the lines of orders counted in [starts, ends),
    by line sales (unit price × quantity − the line's discount share) largest first; products
    without a category are one group (None)."""
    parent = aliased(Category)
    sales = func.sum(OrderLine.unit_price * OrderLine.quantity - OrderLine.discount)
    stmt = (
        select(Category.name, parent.name, sales, func.count(func.distinct(Order.id)))
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(parent, parent.id == Category.parent_id)
        .where(
            Order.counted_at >= starts,
            Order.counted_at < ends,
            Order.channel != EXCHANGE_CHANNEL,
            Order.channel == channel if channel is not None else true(),
        )
        .group_by(Category.id, Category.name, parent.name)
        .order_by(sales.desc(), Category.name)
        .limit(limit)
    )
    return [(c, p, int(s or 0), int(n)) for c, p, s, n in await session.execute(stmt)]


async def sku_sales(
    session: AsyncSession, starts: datetime, ends: datetime, channel: str | None, limit: int
) -> list[tuple[str, str, int, int, int]]:
    """(SKU code, SKU name, line sales, units, orders) of the lines of orders counted in
    [starts, ends) (of `channel` when given), by line sales largest first (ties by code)."""
    sales = func.sum(OrderLine.unit_price * OrderLine.quantity - OrderLine.discount)
    stmt = (
        select(Sku.code, Sku.name, sales, func.sum(OrderLine.quantity), func.count(func.distinct(Order.id)))
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(
            Order.counted_at >= starts,
            Order.counted_at < ends,
            Order.channel != EXCHANGE_CHANNEL,
            Order.channel == channel if channel is not None else true(),
        )
        .group_by(Sku.id, Sku.code, Sku.name)
        .order_by(sales.desc(), Sku.code)
        .limit(limit)
    )
    return [(c, name, int(s or 0), int(u or 0), int(n)) for c, name, s, u, n in await session.execute(stmt)]


async def stock_ledger(session: AsyncSession, before: datetime) -> list[tuple[datetime, int, int, int, int]]:
    """(time, SKU, warehouse, balance after, the SKU's current cost) of every stock movement
    before `before`, in the order they happened: the daily closing stock's source."""
    stmt = (
        select(
            LedgerEntry.at, LedgerEntry.sku_id, LedgerEntry.warehouse_id, LedgerEntry.balance_after, Sku.cost
        )
        .join(Sku, Sku.id == LedgerEntry.sku_id)
        .where(LedgerEntry.at < before)
        .order_by(LedgerEntry.at, LedgerEntry.id)
    )
    return [(at, int(s), int(w), int(b), int(c)) for at, s, w, b, c in await session.execute(stmt)]
