"""An order's life outside fulfillment: cancel, hold, release, payment, delivery, receipt and
closing (ORD-3, ORD-5..7), and the worker's actions when an order's clock runs out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, db, events, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.inventory import service as inventory
from shopflow.loyalty import points
from shopflow.loyalty import service as loyalty
from shopflow.orders import repository
from shopflow.orders.errors import OutOfStock
from shopflow.orders.models import (
    HoldReason,
    Order,
    OrderClock,
    OrderStatus,
    aftersales_closes,
    line_values,
    order_subject,
)
from shopflow.orders.service.queries import get_order
from shopflow.orders.service.transitions import move, notice

S = OrderStatus
Completed = Callable[[AsyncSession, Order], Awaitable[None]]
# Who is told of a completed order (LOY-2): the customers' domain, a later one which orders cannot
# import, registers its tier review by `when_completed` (`shopflow.wiring.connect`).
ON_COMPLETED: list[Completed] = []
UNPAID_TIMEOUT = "unpaid_timeout"  # ORD-5's cancel reason
PAID_ON_HOLD = "order.paid_on_hold"  # the audit action of a payment captured during a hold (ORD-3)


def when_completed(hook: Completed) -> None:
    """Tell `hook` of every order completed from now on, in the completing transaction."""
    if hook not in ON_COMPLETED:
        ON_COMPLETED.append(hook)


async def cancel(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> Order:
    """Cancel before picking (ORD-3) and release the order's stock (INV-2) and coupon uses (LOY-4)."""
    order = await get_order(session, order_id, lock=True)
    await _cancel(session, actor, order, reason)
    return order


async def _cancel(session: AsyncSession, actor: Actor, order: Order, reason: str) -> None:
    at = clock.now()
    await move(session, actor, order, order.cancel(reason, at), at, reason)
    await inventory.release_for_order(session, order.id)
    if order.discount:  # its coupon uses and redeemed points come back (LOY-4, LOY-1)
        await loyalty.release_for_order(session, order.id)
    subject = order_subject(order.id)
    # Its pay, ship and review clocks never reach their goal: cancelled, out of compliance (SLA-1).
    await sla.cancel(session, subject, OrderClock.PAY, OrderClock.SHIP, OrderClock.RISK_REVIEW)
    # Captured money goes back through the refund ledger (PAY-3): the payments worker's sweep.
    events.queue(session, "order.cancelled", subject, notice(order, reason=reason))
    await db.write(session)


async def hold(session: AsyncSession, actor: Actor, order_id: int, reason: HoldReason) -> Order:
    order = await get_order(session, order_id, lock=True)
    at = clock.now()
    await move(session, actor, order, order.hold(reason, at), at, reason)
    for kind in (OrderClock.PAY, OrderClock.SHIP):  # a held order's clocks wait with it (SLA-1)
        await sla.pause(session, order_subject(order.id), kind)
    await db.write(session)
    return order


async def release(session: AsyncSession, actor: Actor, order_id: int, *, reserve: bool = False) -> Order:
    """End a hold (ORD-3): back to the state it left, or `paid` if its payment was captured during
    the hold (the ship clock starts now). An order held at intake for a stock shortage (or, by
    `reserve`, one held at intake for another reason whose stock was short then) has its stock
    reserved first, or stays held (OutOfStock); unpaid, it is confirmed and its pay clock starts
    (on credit, ORD-5: its ship clock)."""
    order = await get_order(session, order_id, lock=True)
    at = clock.now()
    short = reserve or order.hold_reason == HoldReason.STOCK_SHORTAGE
    if short and order.held_from == S.PENDING:
        demand = Counter[int]()
        for line in order.lines:
            demand[line.sku_id] += line.quantity
        if await inventory.reserve_for_order(session, order.id, demand, order.ship_province) is None:
            raise OutOfStock("stock is still short for this order; it stays on hold")
    paid_during_hold = order.paid_on_hold and order.held_from != S.PAID
    await move(session, actor, order, order.release(at), at)
    subject = order_subject(order.id)
    for kind in (OrderClock.PAY, OrderClock.SHIP):
        await sla.resume(session, subject, kind)
    rules = policy.current().orders
    if order.status == S.PENDING:
        await move(session, actor, order, order.confirm(at), at)
        if order.on_credit:  # ORD-5: no pay clock; it may ship unpaid
            await sla.start(session, subject, OrderClock.SHIP, at + timedelta(hours=rules.ship_within_hours))
        else:
            pay_by = at + timedelta(minutes=rules.unpaid_cancel_minutes)
            await sla.start(session, subject, OrderClock.PAY, pay_by)
        events.queue(session, "order.confirmed", subject, notice(order))
    elif paid_during_hold:
        ship_by = at + timedelta(hours=rules.ship_within_hours)
        await sla.start(session, subject, OrderClock.SHIP, ship_by)
        events.queue(session, "order.paid", subject, notice(order, ship_by=ship_by.isoformat()))
    await db.write(session)
    return order


async def release_covered_shortages(session: AsyncSession, limit: int) -> int:
    """INV-5: orders held at intake for a stock shortage whose stock is now there are released
    (reserved, then confirmed or, paid during the hold, paid), paid ones first by payment time,
    then the unpaid by age, so the earliest money gets the stock. Every waiting order is looked
    at, `limit` at a time, so a later order whose stock is there is not stuck behind `limit`
    earlier ones still short; at most `limit` are released per call. An order another
    transaction holds is left for the next sweep. How many were released."""
    released = skipped = 0
    while released < limit:
        waiting = await repository.waiting_for_stock(session, limit, skipped)
        skus = sorted({line.sku_id for order in waiting for line in order.lines})
        available = Counter(await inventory.available_of(session, skus))
        for order in waiting:
            if released < limit and await _release_if_covered(session, order, available):
                released += 1
            else:
                skipped += 1  # still short, busy, or beyond this call's share: stays waiting
        if len(waiting) < limit:
            break
    return released


async def _release_if_covered(session: AsyncSession, order: Order, available: Counter[int]) -> bool:
    """Release `order` if `available` covers its lines, and take them from `available`."""
    demand = Counter[int]()
    for line in order.lines:
        demand[line.sku_id] += line.quantity
    if any(available[sku] < quantity for sku, quantity in demand.items()):
        return False
    locked = await repository.lock_if_free(session, order.id)
    if locked is None or locked.status != S.ON_HOLD:  # busy, or released or cancelled meanwhile
        return False
    try:
        async with session.begin_nested():
            await release(session, SYSTEM, order.id)
    except OutOfStock:  # the units are there, but not as the allocation can take them (INV-3)
        return False
    available.subtract(demand)
    return True


async def _advance(
    session: AsyncSession,
    actor: Actor,
    order_id: int,
    step: Callable[[Order, datetime], OrderStatus],
    reason: str | None = None,
) -> tuple[Order, datetime]:
    """The order locked and taken one `step` (`Order.pay`, …) now, written (`move`); and when."""
    order = await get_order(session, order_id, lock=True)
    at = clock.now()
    await move(session, actor, order, step(order, at), at, reason)
    return order, at


async def mark_paid(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The order's payment was captured (called by the payments domain): the pay clock stops and
    the ship clock starts; an order on hold stays held, paid, its ship clock starting at release."""
    order = await get_order(session, order_id, lock=True)
    await mark_paid_locked(session, actor, order)
    await db.write(session)
    return order


async def mark_paid_locked(session: AsyncSession, actor: Actor, order: Order) -> None:
    """`mark_paid` for an order the caller holds locked (`fulfillment_steps.lock_order`, or the
    payments domain's lock of a payment with its order): the order's row and clocks written now,
    its audit and outbox rows queued for the use case's next write (`db.PendingRows`)."""
    at = clock.now()
    if order.status == S.ON_HOLD:
        await _paid_on_hold(session, actor, order, at)
        return
    await move(session, actor, order, order.pay(at), at)
    ship_by = at + timedelta(hours=policy.current().orders.ship_within_hours)
    subject = order_subject(order.id)
    await sla.stop_and_start(session, subject, OrderClock.PAY, OrderClock.SHIP, ship_by)
    events.queue(session, "order.paid", subject, notice(order, ship_by=ship_by.isoformat()))


async def _paid_on_hold(session: AsyncSession, actor: Actor, order: Order, at: datetime) -> None:
    """ORD-3: money captured during a hold is kept; the order stays held and remembers it is paid."""
    held = order.pay(at)
    await repository.move(session, order)
    audit.queue(
        session,
        audit.row(actor, PAID_ON_HOLD, "order", order.id, {"status": held}, {"status": order.status}, at),
    )
    await sla.stop(session, order_subject(order.id), OrderClock.PAY)


async def mark_delivered(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The carrier reports delivery; the customer has the receipt window (ORD-7)."""
    order, at = await _advance(session, actor, order_id, Order.deliver)
    receipt_by = at + timedelta(days=policy.current().orders.auto_receipt_days)
    subject = order_subject(order.id)
    await sla.stop_and_start(session, subject, OrderClock.DELIVER, OrderClock.RECEIPT, receipt_by)
    await events.record(session, "order.delivered", subject, notice(order))
    return order


async def complete(session: AsyncSession, actor: Actor, order_id: int, *, assumed: bool = False) -> Order:
    """ORD-7: receipt confirmed by the customer, or assumed when the window ends.

    The order closes when the after-sales window (ASV-1), counted from delivery, is over.
    """
    reason = "receipt_assumed" if assumed else "receipt_confirmed"
    order, at = await _advance(session, actor, order_id, Order.complete, reason)
    await points.earn(session, order.id, order.customer_id, line_values(order))  # LOY-1
    for told in ON_COMPLETED:  # the customer's tier reviewed (LOY-2)
        await told(session, order)
    closes = aftersales_closes(order.delivered_at or at, policy.current().aftersales)
    subject = order_subject(order.id)
    await sla.stop_and_start(session, subject, OrderClock.RECEIPT, OrderClock.AFTERSALES, closes)
    await events.record(session, "order.completed", subject, notice(order, reason=reason))
    return order


async def close(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The after-sales window is over: the order is closed and archived for analysis (ORD-7)."""
    order, _ = await _advance(session, actor, order_id, Order.close)
    subject = order_subject(order.id)
    await sla.stop(session, subject, OrderClock.AFTERSALES)
    await events.record(session, "order.closed", subject, notice(order))
    return order


async def _lock_for_sweep(session: AsyncSession, order_id: int) -> Order:
    """The order, locked without waiting (see `sla.SubjectBusy`): a breach action's first step."""
    order = await repository.lock_if_free(session, order_id)
    if order is None:
        await get_order(session, order_id)  # OrderNotFound when there is no such order
        raise sla.SubjectBusy(f"order {order_id} is being changed by another transaction")
    return order


async def cancel_unpaid(session: AsyncSession, order_id: int) -> None:
    """ORD-5, when the pay clock started at confirmation runs out: cancel the order and release
    its stock if it is still unpaid; if it was paid or cancelled meanwhile, nothing changes."""
    order = await _lock_for_sweep(session, order_id)
    if order.status == S.CONFIRMED:
        await _cancel(session, SYSTEM, order, UNPAID_TIMEOUT)


async def assume_receipt(session: AsyncSession, order_id: int) -> None:
    """ORD-7, when the receipt clock runs out: receipt is assumed and the order completed, unless
    the customer confirmed it meanwhile."""
    order = await _lock_for_sweep(session, order_id)
    if order.can_move_to(S.COMPLETED):
        await complete(session, SYSTEM, order_id, assumed=True)


async def close_after_aftersales(session: AsyncSession, order_id: int) -> None:
    """ORD-7, when the after-sales window (ASV-1) runs out: the completed order is closed."""
    order = await _lock_for_sweep(session, order_id)
    if order.can_move_to(S.CLOSED):
        await close(session, SYSTEM, order_id)
