"""The metric dictionary's SQL (ANA-1): grouped statements over a set of UTC windows (a CTE of
(idx, starts, ends)), each returning its aggregates per window index, so every period of a
request is computed in one statement per metric family, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    Date,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shopflow.catalog.models import Category, Product, Sku
from shopflow.core.db import UTCDateTime
from shopflow.inventory.models import LedgerEntry, Stock
from shopflow.orders.models import EXCHANGE_CHANNEL, UNDATED, Order, OrderLine
from shopflow.payments.models import Payment, PaymentStatus, Refund, RefundStatus
from shopflow.service.models import Ticket, TicketType

Bounds = Sequence[tuple[datetime, datetime]]
# Windows this long in all read their buyers' histories buyer by buyer (PostgreSQL, 1,000,000
# orders, bench/analytics.py's data: one week's 35,040 orders of its buyers 0.20 s by buyer, 0.44 s
# as a set; 12 months' 919,717 orders 4.6 s by buyer, 0.73 s as a set).
PER_BUYER_SPAN = timedelta(days=31)


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


async def without_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT compilation for the rest of the transaction. The metric statements'
    estimated costs start it, and compiling took longer than running them (EXPLAIN ANALYZE over
    1,000,000 orders, bench/analytics.py: JIT 1.7–2.4 s of a 5.9 s statement)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


async def order_figures(
    session: AsyncSession, bounds: Bounds, channel: str | None
) -> dict[int, tuple[int, ...]]:
    """Per window: counted orders, their captured amount, how many have a settled refund, how
    many a complaint ticket. The orders with a refund or a complaint (few) are joined as sets;
    each order's captured amount is read by its index (the payments' sums grouped beforehand
    would read every payment ever made)."""
    windows = windows_cte(bounds)
    join, conditions = _counted(windows, channel)
    captured = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.order_id == Order.id, Payment.status == PaymentStatus.SUCCEEDED)
        .scalar_subquery()
    )
    refunded = (
        select(Refund.order_id).where(Refund.status == RefundStatus.SUCCEEDED).distinct().subquery("refunded")
    )
    complained = (
        select(Ticket.order_id).where(Ticket.type == TicketType.COMPLAINT).distinct().subquery("complained")
    )
    stmt = (
        select(
            windows.c.idx,
            func.count(),
            func.sum(captured),
            func.count(refunded.c.order_id),
            func.count(complained.c.order_id),
        )
        .join_from(Order, windows, join)
        .outerjoin(refunded, refunded.c.order_id == Order.id)
        .outerjoin(complained, complained.c.order_id == Order.id)
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


async def customer_figures(
    session: AsyncSession, bounds: Bounds, channel: str | None
) -> dict[int, tuple[int, int, Decimal, int]]:
    """Per window, over known customers only, in one statement:
    - the customers with a counted order in it (of `channel` when given), and how many of them
      have at least two counted orders (any channel, never a replacement) up to its end, orders
      without dates (imported history) only in the window of all time: those whose latest order
      in the window is at least their second (a running count per customer);
    - the repurchase cycle: the days between each of its counted orders with a date (of
      `channel`) and the customer's previous one (with a date, of `channel`), summed, and how
      many such orders.
    The running counts and each order's previous count time come from window functions over the
    counted orders before the last window's end of the customers with an order of `channel` in a
    window (no other customer is counted: a recent month reads its own customers' histories, not
    every order ever counted). On PostgreSQL, over windows of at most `PER_BUYER_SPAN` in all,
    each buyer's history is read by the customer index (a LATERAL join); longer ones join the
    buyers as a set."""
    windows = windows_cte(bounds)
    mine = true() if channel is None else Order.channel == channel
    buyer = aliased(Order)
    present = (
        select(buyer.customer_id)
        .join_from(
            buyer, windows, and_(buyer.counted_at >= windows.c.starts, buyer.counted_at < windows.c.ends)
        )
        .where(
            buyer.customer_id.is_not(None),
            buyer.channel != EXCHANGE_CHANNEL,
            true() if channel is None else buyer.channel == channel,
        )
    )
    conditions = [
        Order.counted_at.is_not(None),
        Order.counted_at < max(end for _, end in bounds),
        Order.channel != EXCHANGE_CHANNEL,
    ]
    in_channel = [Order.customer_id, Order.undated]
    if channel is not None:
        in_channel.append(Order.channel)
    so_far = {"partition_by": Order.customer_id, "order_by": Order.counted_at, "rows": (None, 0)}
    history = select(
        Order.customer_id,
        Order.counted_at.label("at"),
        Order.undated,
        case((mine, 1), else_=0).label("mine"),
        func.count().over(**so_far).label("orders"),
        func.sum(case((Order.undated.is_(False), 1), else_=0)).over(**so_far).label("dated"),
        func.lag(Order.counted_at).over(partition_by=in_channel, order_by=Order.counted_at).label("previous"),
    ).where(*conditions)
    short = sum((end - start for start, end in bounds), timedelta()) <= PER_BUYER_SPAN
    if short and session.get_bind().dialect.name == "postgresql":
        buyers = present.distinct().subquery("buyers")
        each = history.where(Order.customer_id == buyers.c.customer_id).lateral("history")
        counted = select(*each.c).select_from(buyers).join(each, true()).subquery("counted")
    else:
        counted = history.where(Order.customer_id.in_(present)).subquery("counted")
    gap = and_(counted.c.mine == 1, counted.c.undated.is_(False), counted.c.previous.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        seconds = extract("epoch", counted.c.at - counted.c.previous)
    else:  # SQLite keeps UTC times as text; julianday reads them
        seconds = (func.julianday(counted.c.at) - func.julianday(counted.c.previous)) * 86400.0
    all_time = windows.c.starts <= literal(UNDATED, UTCDateTime())
    per_customer = (
        select(
            windows.c.idx,
            func.max(counted.c.mine).label("bought"),
            func.max(case((all_time, counted.c.orders), else_=counted.c.dated)).label("so_far"),
            func.sum(case((gap, seconds), else_=None)).label("seconds"),
            func.count().filter(gap).label("gaps"),
        )
        .join_from(counted, windows, and_(counted.c.at >= windows.c.starts, counted.c.at < windows.c.ends))
        .group_by(windows.c.idx, counted.c.customer_id)
        .subquery("per_customer")
    )
    bought = per_customer.c.bought == 1
    stmt = select(
        per_customer.c.idx,
        func.count().filter(bought),
        func.count().filter(bought & (per_customer.c.so_far >= 2)),
        func.sum(per_customer.c.seconds),
        func.sum(per_customer.c.gaps),
    ).group_by(per_customer.c.idx)
    return {int(i): (int(n), int(r), _days(s), int(g or 0)) for i, n, r, s, g in await session.execute(stmt)}


def _days(seconds: float | Decimal | None) -> Decimal:
    """Seconds as days to 6 places."""
    return (Decimal(str(seconds or 0)) / 86400).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


# A line's sales: unit price × quantity − its share of the order's discount.
LINE_SALES = func.sum(OrderLine.unit_price * OrderLine.quantity - OrderLine.discount)


def _sold_lines(columns: Select[Any], starts: datetime, ends: datetime, channel: str | None) -> Select[Any]:
    """`columns` over the lines (with their SKUs) of the orders counted in [starts, ends), never a
    replacement, of `channel` when given."""
    return (
        columns.select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(
            Order.counted_at >= starts,
            Order.counted_at < ends,
            Order.channel != EXCHANGE_CHANNEL,
            Order.channel == channel if channel is not None else true(),
        )
    )


async def category_sales(
    session: AsyncSession, starts: datetime, ends: datetime, channel: str | None, limit: int
) -> list[tuple[str | None, str | None, int, int]]:
    """(category, its parent, line sales, orders) of the lines of orders counted in [starts, ends),
    by line sales (unit price × quantity − the line's discount share) largest first; products
    without a category are one group (None)."""
    parent = aliased(Category)
    stmt = (
        _sold_lines(
            select(Category.name, parent.name, LINE_SALES, func.count(func.distinct(Order.id))),
            starts,
            ends,
            channel,
        )
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(parent, parent.id == Category.parent_id)
        .group_by(Category.id, Category.name, parent.name)
        .order_by(LINE_SALES.desc(), Category.name)
        .limit(limit)
    )
    return [(c, p, int(s or 0), int(n)) for c, p, s, n in await session.execute(stmt)]


async def sku_sales(
    session: AsyncSession, starts: datetime, ends: datetime, channel: str | None, limit: int
) -> list[tuple[str, str, int, int, int]]:
    """(SKU code, SKU name, line sales, units, orders) of the lines of orders counted in
    [starts, ends) (of `channel` when given), by line sales largest first (ties by code)."""
    columns = select(
        Sku.code, Sku.name, LINE_SALES, func.sum(OrderLine.quantity), func.count(func.distinct(Order.id))
    )
    stmt = (
        _sold_lines(columns, starts, ends, channel)
        .group_by(Sku.id, Sku.code, Sku.name)
        .order_by(LINE_SALES.desc(), Sku.code)
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


async def first_movement(session: AsyncSession, before: datetime) -> datetime | None:
    """The time of the first stock movement before `before`, if any."""
    return await session.scalar(select(func.min(LedgerEntry.at)).where(LedgerEntry.at < before))


async def held_values(
    session: AsyncSession, spans: Sequence[tuple[date, date]], since: datetime, before: datetime, zone: str
) -> dict[int, int] | None:
    """PostgreSQL: per span of store days `first`..`last` (by its index; none begins before the
    store day starting at `since`), the sum over its days of the closing inventory value
    (`metrics.closing_values`, from the movements before `before`), in one statement: each
    movement's balance × its SKU's cost is the closing value of its (SKU, warehouse) from its
    store day up to the day of the pair's next movement, if it is its day's last; these are summed
    by (day, next day) before being spread over the spans. Read: the movements from `since` on,
    and each pair's last one before it (one probe of `ix_stock_ledger_pair_at` per stock row),
    in the index's order, which holds the balance. None elsewhere: the caller replays the ledger
    (`stock_ledger`)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    columns = (
        LedgerEntry.sku_id,
        LedgerEntry.warehouse_id,
        LedgerEntry.at,
        LedgerEntry.id,
        LedgerEntry.balance_after,
    )
    opening = (
        select(*columns)
        .where(
            LedgerEntry.sku_id == Stock.sku_id,
            LedgerEntry.warehouse_id == Stock.warehouse_id,
            LedgerEntry.at < since,
        )
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())
        .limit(1)
        .lateral("opening")
    )
    ledger = union_all(
        select(*columns).where(LedgerEntry.at >= since, LedgerEntry.at < before),
        select(*opening.c).select_from(Stock).join(opening, true()),
    ).subquery("ledger")
    moved = (
        select(
            ledger.c.sku_id,
            ledger.c.warehouse_id,
            ledger.c.at,
            ledger.c.id,
            (ledger.c.balance_after * Sku.cost).label("value"),
            cast(func.timezone(zone, ledger.c.at), Date).label("day"),
        )
        .join(Sku, Sku.id == ledger.c.sku_id)
        .subquery("moved")
    )
    pair = (moved.c.sku_id, moved.c.warehouse_id)
    entries = select(
        moved.c.value,
        moved.c.day,
        func.lead(moved.c.day).over(partition_by=pair, order_by=(moved.c.at, moved.c.id)).label("next_day"),
    ).subquery("entries")
    held = (
        select(entries.c.day, entries.c.next_day, func.sum(entries.c.value).label("value"))
        .where(or_(entries.c.next_day.is_(None), entries.c.next_day > entries.c.day))
        .group_by(entries.c.day, entries.c.next_day)
        .subquery("held")
    )
    days = union_all(
        *(
            select(
                literal(i, Integer).label("idx"),
                literal(first, Date).label("first"),
                literal(last + timedelta(days=1), Date).label("after"),
            )
            for i, (first, last) in enumerate(spans)
        )
    ).cte("spans")
    until = func.coalesce(held.c.next_day, days.c.after)
    overlap = func.least(until, days.c.after) - func.greatest(held.c.day, days.c.first)
    stmt = (
        select(days.c.idx, func.sum(held.c.value * overlap))
        .join_from(held, days, and_(held.c.day < days.c.after, until > days.c.first))
        .group_by(days.c.idx)
    )
    return {int(i): int(v or 0) for i, v in await session.execute(stmt)}
