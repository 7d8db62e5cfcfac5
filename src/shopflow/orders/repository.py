"""Every query of the orders domain."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from shopflow.core.db import changed, driver_connection, fresh, insert_rows, loaded, update_changed, write
from shopflow.core.sla.models import SlaClock
from shopflow.orders.models import CREDIT_TERMS, HoldReason, Order, OrderClock, OrderLine, OrderStatus


async def insert_if_new(session: AsyncSession, row: dict[str, Any]) -> Order | None:
    """Insert the order `row` unless a unique key (idempotency key, channel order number, order
    number) is taken; None then. On PostgreSQL a concurrent twin waits here for the first.
    The order as stored, outside the session (`db.loaded`), its lines not loaded."""
    stored = await insert_rows(session, Order, [row], returning="id", skip_conflicts=True)
    return loaded(Order, {**row, "id": stored[0]}) if stored else None


async def find_twin(
    session: AsyncSession, idempotency_key: str | None, channel: str, channel_order_no: str | None
) -> Order | None:
    """The order stored under the (scoped) idempotency key or the channel's order number."""
    keys = []
    if idempotency_key is not None:
        keys.append(Order.idempotency_key == idempotency_key)
    if channel_order_no is not None:
        keys.append((Order.channel == channel) & (Order.channel_order_no == channel_order_no))
    if not keys:
        return None
    stmt = select(Order).options(selectinload(Order.lines)).where(or_(*keys)).order_by(Order.id)
    return (await session.scalars(stmt)).first()


async def insert_lines(session: AsyncSession, order: Order, rows: list[dict[str, Any]]) -> Order:
    """Insert the new `order`'s lines, with the rows the transaction has queued (its audit trail,
    outbox rows and clocks) in the same round trip; the order with its lines."""
    await write(session, (OrderLine, rows))
    set_committed_value(order, "lines", [loaded(OrderLine, row) for row in rows])
    return order


async def mark_held(session: AsyncSession, order: Order, held: Mapping[str, Any]) -> Order:
    """The new `order` (from `insert_if_new`) stored as the `held` row instead (a shortage at
    intake) by one UPDATE of the columns that differ; the order as now stored."""
    changes = {name: value for name, value in held.items() if getattr(order, name) != value}
    await session.execute(update(Order).where(Order.id == order.id).values(changes))
    for name, value in changes.items():
        set_committed_value(order, name, value)
    return order


async def get(session: AsyncSession, order_id: int, *, lock: bool = False) -> Order | None:
    stmt = select(Order).options(selectinload(Order.lines)).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=Order)
    return (await session.scalars(stmt)).first()


# The order locked on PostgreSQL through the driver (core.db.driver_connection), without its contact.
LOCK_PG = (
    f"SELECT {', '.join(c.name for c in Order.__table__.columns if c.name != 'contact')}"
    " FROM orders WHERE id = $1 FOR UPDATE"
)


async def lock(session: AsyncSession, order_id: int) -> Order | None:
    """The order, locked, without its lines and contact (not decrypted: a later query of the
    order in the session fills it in). On PostgreSQL it is the session's instance when the
    session holds one, else an instance outside the session (`db.fresh`): the caller writes its
    changes with `move`."""
    driver = await driver_connection(session)
    if driver is not None:
        row = await driver.fetchrow(LOCK_PG, order_id)
        return None if row is None else fresh(session, Order, dict(row))
    stmt = (
        select(Order)
        .options(defer(Order.contact, raiseload=True))
        .where(Order.id == order_id)
        .with_for_update(of=Order)
    )
    return (await session.scalars(stmt)).first()


async def move(session: AsyncSession, order: Order) -> None:
    """Write the step the locked order just took (the columns its method changed) by one UPDATE
    conditional on the status it left (`db.update_changed`)."""
    if await update_changed(session, order, "status") != 1:
        raise RuntimeError(f"order {order.id} changed status under its lock")


async def lock_many(session: AsyncSession, order_ids: Collection[int]) -> list[Order]:
    """The orders with their lines, locked and read afresh in primary-key order (two callers
    locking overlapping sets cannot deadlock)."""
    stmt = (
        select(Order)
        .options(selectinload(Order.lines))
        .where(Order.id.in_(sorted(order_ids)))
        .order_by(Order.id)
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def move_many(session: AsyncSession, orders: Sequence[Order], sources: Collection[str]) -> None:
    """Write one step the locked `orders` took together (the same changes: say picking since the
    same time) by one UPDATE conditional on the statuses they left (`sources`)."""
    values, *others = [changed(order) for order in orders]
    if any(other != values for other in others):
        raise ValueError("orders moved together must take the same changes")
    stmt = (
        update(Order)
        .where(Order.id.in_(sorted(order.id for order in orders)), Order.status.in_(sorted(sources)))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).rowcount != len(orders):
        raise RuntimeError("a locked order changed status under its lock")


async def waiting_for_stock(session: AsyncSession, limit: int, skip: int = 0) -> list[Order]:
    """Orders held at intake for a stock shortage (ORD-4), with their lines, in the order INV-5
    releases them: paid ones first by payment time, then the unpaid by age; the first `skip` left out."""
    stmt = (
        select(Order)
        .options(selectinload(Order.lines))
        .where(
            Order.status == OrderStatus.ON_HOLD,
            Order.hold_reason == HoldReason.STOCK_SHORTAGE,
            Order.held_from == OrderStatus.PENDING,
        )
        .order_by(Order.paid_at.is_(None), Order.paid_at, Order.created_at, Order.id)
        .offset(skip)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def lock_if_free(session: AsyncSession, order_id: int) -> Order | None:
    """The order (lines not loaded), locked and read afresh; None if there is none or another
    transaction holds it."""
    stmt = (
        select(Order)
        .where(Order.id == order_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
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
    number: str | None = None,
    phone_hash: str | None = None,
    either: bool = False,
) -> tuple[list[Order], int]:
    """A page of orders, newest first, and how many match. `number` finds a prefix of our order
    number or the channel's whole number, `phone_hash` the customer's phone (`Order.phone_hash`);
    both must match, or one of them when `either`."""
    found = []
    if number:
        found.append(_numbered(session, number))
    if phone_hash is not None:
        found.append(Order.phone_hash == phone_hash)
    conditions = [or_(*found) if either else and_(*found)] if found else []
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


def _numbered(session: AsyncSession, number: str) -> ColumnElement[bool]:
    """Orders whose number starts with `number` (ours are upper-case letters and digits, so
    anything else is only a channel's number) or whose channel order number is `number`."""
    channels = Order.channel_order_no == number
    if not (number.isascii() and number.isalnum()):
        return channels
    prefix = number.upper()
    # Through ix_orders_order_no_pattern on PostgreSQL; SQLite's LIKE ignores case, so only its
    # GLOB reads an index (the unique one).
    if session.get_bind().dialect.name == "sqlite":
        return or_(Order.order_no.op("GLOB", is_comparison=True)(f"{prefix}*"), channels)
    return or_(Order.order_no.like(f"{prefix}%"), channels)


async def by_number(session: AsyncSession, order_no: str) -> Order | None:
    stmt = select(Order).options(selectinload(Order.lines)).where(Order.order_no == order_no)
    return (await session.scalars(stmt)).first()


async def numbers(session: AsyncSession, order_ids: Collection[int]) -> dict[int, str]:
    found = await session.execute(select(Order.id, Order.order_no).where(Order.id.in_(set(order_ids))))
    return {order_id: order_no for order_id, order_no in found.all()}


async def delivered_since(session: AsyncSession, since: datetime, limit: int) -> list[Order]:
    """Orders delivered (or completed after delivery) from `since`, the newest delivery first."""
    stmt = (
        select(Order)
        .where(
            Order.status.in_((OrderStatus.DELIVERED, OrderStatus.COMPLETED)),
            Order.delivered_at >= since,
        )
        .order_by(Order.delivered_at.desc(), Order.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def status_counts(session: AsyncSession) -> dict[str, int]:
    """Orders per state, imported history left out: it is no one's work."""
    stmt = select(Order.status, func.count()).where(Order.imported_at.is_(None)).group_by(Order.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def lock_ready_to_pick(session: AsyncSession, limit: int) -> list[int]:
    """Paid orders (on-hold ones are not `paid`) and confirmed ones on credit (ORD-5): those of
    members picked first (LOY-2: diamond) before the others, then the earliest ship-by deadline
    first (FUL-1); rows another wave builder holds are skipped."""
    ship_by = (
        select(SlaClock.deadline)
        .where(
            SlaClock.subject == literal("order:") + cast(Order.id, String),
            SlaClock.kind == OrderClock.SHIP,
        )
        .scalar_subquery()
    )
    stmt = (
        select(Order.id)
        .where(
            (Order.status == OrderStatus.PAID)
            | ((Order.status == OrderStatus.CONFIRMED) & Order.payment_terms.in_(CREDIT_TERMS))
        )
        .order_by(
            Order.pick_first.desc(), func.coalesce(ship_by, Order.paid_at, Order.confirmed_at), Order.id
        )
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )
    return list((await session.scalars(stmt)).all())


async def units_ordered(
    session: AsyncSession, since: datetime, until: datetime
) -> list[tuple[int, datetime, int]]:
    """Each line of the orders placed in [since, until), not cancelled: SKU, time, units (ANA-5)."""
    stmt = (
        select(OrderLine.sku_id, Order.created_at, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.created_at >= since, Order.created_at < until, Order.status != OrderStatus.CANCELLED)
    )
    return [(sku, at, quantity) for sku, at, quantity in (await session.execute(stmt)).tuples()]


async def units_paid_by_province(session: AsyncSession, since: datetime) -> dict[tuple[int, str], int]:
    """Units of each SKU in orders paid since `since` (cancelled ones left out), per destination
    province: (SKU id, province) -> units."""
    stmt = (
        select(OrderLine.sku_id, Order.ship_province, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.paid_at >= since, Order.status != OrderStatus.CANCELLED)
        .group_by(OrderLine.sku_id, Order.ship_province)
    )
    return {(sku, province): int(units) for sku, province, units in (await session.execute(stmt)).all()}
