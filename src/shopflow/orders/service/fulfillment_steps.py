"""The order's steps that fulfillment drives: picking (FUL-1), packing and the failed quality
check (FUL-2), shipping (FUL-4, ORD-6).

Fulfillment locks the order first (`lock_order`) and then takes a `*_locked` step with it; the
audit rows it queued for its own changes (`audit.queue`) are written with the order's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, db, events, policy, sla
from shopflow.core.audit import Actor
from shopflow.core.errors import InvalidTransition
from shopflow.orders import repository
from shopflow.orders.errors import OrderNotFound
from shopflow.orders.models import Order, OrderClock, OrderStatus, order_subject
from shopflow.orders.service.queries import get_order
from shopflow.orders.service.transitions import move, notice, status_row

S = OrderStatus


async def ready_to_pick(session: AsyncSession, limit: int) -> list[int]:
    """FUL-1: up to `limit` paid orders, those picked first (LOY-2) and then the earliest ship-by
    deadline first, locked for a wave."""
    return await repository.lock_ready_to_pick(session, limit)


async def lock_order(session: AsyncSession, order_id: int) -> Order:
    """The order locked, without its lines and contact: for a caller that locks the order first
    and then takes one of the `*_locked` steps below with it."""
    order = await repository.lock(session, order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


async def start_picking(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """FUL-1: a paid order's pick task begins."""
    return (await start_picking_many(session, actor, [order_id]))[order_id]


async def start_picking_many(
    session: AsyncSession, actor: Actor, order_ids: Sequence[int]
) -> dict[int, Order]:
    """FUL-1 for a wave: each order's pick task begins, as `start_picking` called for each in
    turn would (the audit rows in the order given), in one locking read (primary-key order), one
    conditional UPDATE and one audit insert. An order that does not exist or may not start
    picking (ORD-3), or one given twice, raises before anything is written."""
    if not order_ids:
        return {}
    found = {order.id: order for order in await repository.lock_many(session, set(order_ids))}
    previous: dict[int, OrderStatus] = {}
    for order_id in order_ids:
        order = found.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        if order_id in previous:
            raise InvalidTransition("order", S.PICKING, S.PICKING)
        if not order.can_move_to(S.PICKING):
            raise InvalidTransition("order", order.status, S.PICKING)
        previous[order_id] = OrderStatus(order.status)
    at = clock.now()
    for order in found.values():
        order.start_picking(at)
    await repository.move_many(session, list(found.values()), set(previous.values()))
    await audit.record(
        session,
        *(status_row(actor, order_id, before, S.PICKING, at) for order_id, before in previous.items()),
    )
    return {order_id: found[order_id] for order_id in order_ids}


async def mark_packed(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    return await mark_packed_locked(session, actor, await get_order(session, order_id, lock=True))


async def mark_packed_locked(session: AsyncSession, actor: Actor, order: Order) -> Order:
    """`mark_packed` for an order the caller holds locked (`lock_order`)."""
    at = clock.now()
    await move(session, actor, order, order.pack(at), at)
    await db.write(session)
    return order


async def back_to_picking(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> Order:
    """FUL-2: a failed quality check sends the order back to picking."""
    order = await get_order(session, order_id, lock=True)
    return await back_to_picking_locked(session, actor, order, reason)


async def back_to_picking_locked(session: AsyncSession, actor: Actor, order: Order, reason: str) -> Order:
    """`back_to_picking` for an order the caller holds locked (`lock_order`)."""
    at = clock.now()
    await move(session, actor, order, order.start_picking(at), at, reason)
    await db.write(session)
    return order


async def mark_shipped(
    session: AsyncSession, actor: Actor, order_id: int, shipments: list[dict[str, Any]]
) -> Order:
    """FUL-4: handed to the carrier; the 72-hour delivery promise starts (ORD-6).

    `shipments` describe the parcels for the customer notice (ORD-8): carrier, tracking number,
    tracking link.
    """
    order = await get_order(session, order_id, lock=True)
    return await mark_shipped_locked(session, actor, order, shipments)


async def mark_shipped_locked(
    session: AsyncSession, actor: Actor, order: Order, shipments: list[dict[str, Any]]
) -> Order:
    """`mark_shipped` for an order the caller holds locked (`lock_order`): the ship clock stops
    and the delivery clock starts in one statement, the audit and outbox rows go in another."""
    at = clock.now()
    await move(session, actor, order, order.ship(at), at)
    deliver_by = at + timedelta(hours=policy.current().orders.deliver_within_hours)
    subject = order_subject(order.id)
    await sla.stop_and_start(session, subject, OrderClock.SHIP, OrderClock.DELIVER, deliver_by)
    await events.record(session, "order.shipped", subject, notice(order, shipments=shipments))
    return order
