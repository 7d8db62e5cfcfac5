"""Order use cases: intake with validation and reservation, lookups, cancel, hold, pay (ORD-1..5)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from shopflow.catalog import service as catalog
from shopflow.core import audit, clock, crypto, events, policy, sla
from shopflow.core.audit import SYSTEM, Actor, AuditEntry
from shopflow.core.db import insert_together, loaded
from shopflow.core.errors import Invalid, InvalidTransition
from shopflow.core.events import OutboxEvent
from shopflow.core.policy import Shortage
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Reservation
from shopflow.orders import repository
from shopflow.orders.errors import OrderNotFound, OutOfStock
from shopflow.orders.models import (
    HoldReason,
    LineRequest,
    Order,
    OrderClock,
    OrderLine,
    OrderStatus,
    SkuFacts,
    checked,
    intake_errors,
    totals,
)
from shopflow.orders.schemas import OrderIn

S = OrderStatus
ORDER_NO_ATTEMPTS = 5
UNPAID_TIMEOUT = "unpaid_timeout"  # ORD-5's cancel reason


@dataclass(slots=True)
class Placed:
    order: Order
    created: bool  # False: a repeated submission returned the first order (ORD-1)


def _order_no(at: datetime) -> str:
    return f"SF{at:%y%m%d}{secrets.randbelow(10**10):010d}"


def _status_row(
    actor: Actor,
    order_id: int,
    before: str | None,
    after: str,
    at: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    return audit.row(
        actor,
        f"order.{after}",
        "order",
        order_id,
        None if before is None else {"status": before},
        {"status": after} if reason is None else {"status": after, "reason": reason},
        at,
    )


def _notice(order: Order | dict[str, Any], **extra: Any) -> dict[str, Any]:
    get = order.get if isinstance(order, dict) else lambda key: getattr(order, key)
    return {"order_id": get("id"), "order_no": get("order_no"), "channel": get("channel"), **extra}


async def place_order(
    session: AsyncSession, actor: Actor, data: OrderIn, idempotency_key: str | None
) -> Placed:
    """Validate (ORD-2), store, and confirm with stock reserved (ORD-4) in one transaction.

    The order row is written first so that a concurrent twin (same idempotency key or channel
    order number) waits on its unique key before touching any stock.
    """
    rules = policy.current()
    requests = [LineRequest(line.sku, line.quantity, line.unit_price) for line in data.lines]
    skus = await catalog.sale_facts(session, [r.sku for r in requests])
    facts = {code: SkuFacts(s.id, s.name, s.price, s.sellable) for code, s in skus.items()}
    customer = data.customer.model_dump()
    address = data.shipping_address.model_dump()
    errors = intake_errors(customer, address, requests, facts)
    if errors:
        raise Invalid("the order has errors; nothing was stored", errors=errors)

    at = clock.now()
    money = totals(requests, rules.fulfillment.shipping_fee, rules.fulfillment.free_shipping_threshold)
    # Optimistic: stored as confirmed; the rare shortage path below corrects it before commit.
    status = checked(S.PENDING, S.CONFIRMED)
    values: dict[str, Any] = {
        "channel": data.channel,
        "channel_order_no": data.channel_order_no,
        "idempotency_key": idempotency_key,
        "status": status,
        "contact": {"customer": customer, "shipping_address": address},
        "phone_hash": crypto.vault().lookup_hash(data.customer.phone),
        "ship_province": data.shipping_address.province,
        "buyer_ip": data.buyer_ip,
        "note": data.note,
        "subtotal": money.subtotal,
        "shipping_fee": money.shipping,
        "discount": money.discount,
        "total": money.total,
        "created_by": actor.user_id,
        "created_at": at,
        "updated_at": at,
        "confirmed_at": at,
    }
    order_id = None
    for _ in range(ORDER_NO_ATTEMPTS):
        values["order_no"] = _order_no(at)
        order_id = await repository.insert_if_new(session, values)
        if order_id is not None:
            break
        twin = await repository.find_twin(session, idempotency_key, data.channel, data.channel_order_no)
        if twin is not None:
            return Placed(twin, created=False)
    if order_id is None:
        raise RuntimeError("could not draw a free order number")
    values["id"] = order_id

    demand = Counter[int]()
    for r in requests:
        demand[facts[r.sku].id] += r.quantity
    reserved = await inventory.reserve_for_order(session, order_id, demand)
    trail = [_status_row(actor, order_id, None, S.PENDING, at)]
    clocks: list[dict[str, Any]] = []
    if reserved is None:
        if rules.orders.on_shortage is Shortage.REJECT:
            raise OutOfStock("not enough stock for this order; nothing was stored")
        held = {
            "status": checked(S.PENDING, S.ON_HOLD),
            "held_from": S.PENDING,
            "hold_reason": HoldReason.STOCK_SHORTAGE,
            "confirmed_at": None,
        }
        await repository.mark_held(session, order_id, held)
        values.update(held)
        trail.append(_status_row(actor, order_id, S.PENDING, S.ON_HOLD, at, HoldReason.STOCK_SHORTAGE))
        notices = [
            events.row(
                "order.on_hold",
                f"order:{order_id}",
                _notice(values, reason=HoldReason.STOCK_SHORTAGE),
            ),
            events.row(
                "inventory.replenishment_requested",
                f"order:{order_id}",
                {"order_id": order_id, "skus": {str(k): v for k, v in demand.items()}},
            ),
        ]
    else:
        trail.append(_status_row(actor, order_id, S.PENDING, S.CONFIRMED, at))
        pay_by = at + timedelta(minutes=rules.orders.unpaid_cancel_minutes)
        clocks.append(sla.running(f"order:{order_id}", OrderClock.PAY, pay_by))
        ship_by = at + timedelta(hours=rules.orders.ship_within_hours)
        notices = [
            events.row("order.confirmed", f"order:{order_id}", _notice(values, ship_by=ship_by.isoformat()))
        ]

    line_rows = [
        {
            "order_id": order_id,
            "sku_id": facts[r.sku].id,
            "sku_code": r.sku,
            "name": facts[r.sku].name,
            "quantity": r.quantity,
            "unit_price": r.unit_price,
            "discount": 0,
            "line_total": r.unit_price * r.quantity,
        }
        for r in requests
    ]
    # One round trip for the lines, the audit trail (AUD-1), the outbox rows (ORD-8) and the pay clock.
    await repository.insert_lines(
        session, line_rows, (AuditEntry, trail), (OutboxEvent, notices), (sla.SlaClock, clocks)
    )
    order = loaded(Order, values)
    set_committed_value(order, "lines", [loaded(OrderLine, row) for row in line_rows])
    return Placed(order, created=True)


async def get_order(session: AsyncSession, order_id: int, *, lock: bool = False) -> Order:
    order = await repository.get(session, order_id, lock=lock)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


async def lock_order(session: AsyncSession, order_id: int) -> Order:
    """The order locked, without its lines and contact: for a caller that locks the order first
    and then takes one of the `*_locked` steps below with it."""
    order = await repository.lock(session, order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


async def order_numbers(session: AsyncSession, order_ids: Collection[int]) -> dict[int, str]:
    """Our order number of each order id (for lists of other things that name their order)."""
    return await repository.numbers(session, order_ids) if order_ids else {}


async def history(session: AsyncSession, order_id: int) -> list[audit.AuditEntry]:
    return await audit.trail(session, "order", order_id)


async def reservations(session: AsyncSession, order_id: int) -> list[Reservation]:
    return await inventory.reservations_of(session, order_id)


async def list_orders(
    session: AsyncSession,
    *,
    status: OrderStatus | None = None,
    channel: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    page: int = 1,
    page_size: int | None = None,
    number: str | None = None,
) -> tuple[list[Order], int, int]:
    """A page of orders, newest first; `number` is our order number or the channel's."""
    size = page_size or policy.current().orders.page_size
    items, total = await repository.page(
        session,
        status=status,
        channel=channel,
        created_from=created_from,
        created_to=created_to,
        offset=(page - 1) * size,
        limit=size,
        number=number,
    )
    return items, total, size


async def status_counts(session: AsyncSession) -> dict[str, int]:
    """How many orders sit in each state (ANA-2)."""
    return await repository.status_counts(session)


async def clocks(session: AsyncSession, order_ids: list[int]) -> dict[int, list[sla.SlaClock]]:
    """The SLA clocks of each order (SLA-1), for showing time left."""
    found: dict[int, list[sla.SlaClock]] = {order_id: [] for order_id in order_ids}
    for item in await sla.of_subjects(session, [f"order:{order_id}" for order_id in order_ids]):
        found[int(item.subject.removeprefix("order:"))].append(item)
    return found


async def _change(
    session: AsyncSession,
    actor: Actor,
    order: Order,
    target: OrderStatus,
    reason: str | None = None,
) -> OrderStatus:
    at = clock.now()
    previous = order.move_to(target, at)
    await audit.record(session, _status_row(actor, order.id, previous, target, at, reason))
    return previous


async def cancel(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> Order:
    """Cancel before picking (ORD-3) and release the order's stock (INV-2)."""
    order = await get_order(session, order_id, lock=True)
    await _cancel(session, actor, order, reason)
    return order


async def _cancel(session: AsyncSession, actor: Actor, order: Order, reason: str) -> None:
    at = clock.now()
    previous = order.cancel(reason, at)
    # The order's changes go out in one UPDATE when the audit insert flushes them.
    await audit.record(session, _status_row(actor, order.id, previous, S.CANCELLED, at, reason))
    await inventory.release_for_order(session, order.id)
    # Its pay and ship clocks never reach their goal: cancelled, out of compliance (SLA-1).
    await sla.cancel(session, _subject(order), OrderClock.PAY, OrderClock.SHIP)
    await events.record(session, "order.cancelled", f"order:{order.id}", _notice(order, reason=reason))
    if order.paid_at is not None:  # captured money goes back, also when the order was held after payment
        await events.record(
            session, "payment.refund_requested", f"order:{order.id}", _notice(order, reason=reason)
        )
    await session.flush()


async def hold(session: AsyncSession, actor: Actor, order_id: int, reason: HoldReason) -> Order:
    order = await get_order(session, order_id, lock=True)
    at = clock.now()
    previous = order.hold(reason, at)
    await audit.record(session, _status_row(actor, order.id, previous, S.ON_HOLD, at, reason))
    for kind in (OrderClock.PAY, OrderClock.SHIP):  # a held order's clocks wait with it (SLA-1)
        await sla.pause(session, _subject(order), kind)
    await session.flush()
    return order


async def release(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """End a hold. A stock-shortage hold from intake confirms the order if stock now suffices."""
    order = await get_order(session, order_id, lock=True)
    at = clock.now()
    was_short = order.hold_reason == HoldReason.STOCK_SHORTAGE
    order.release(at)
    await audit.record(session, _status_row(actor, order.id, S.ON_HOLD, order.status, at))
    for kind in (OrderClock.PAY, OrderClock.SHIP):
        await sla.resume(session, _subject(order), kind)
    if was_short and order.status == S.PENDING:
        demand = Counter[int]()
        for line in order.lines:
            demand[line.sku_id] += line.quantity
        if await inventory.reserve_for_order(session, order.id, demand) is None:
            raise OutOfStock("stock is still short for this order; it stays on hold")
        await _change(session, actor, order, S.CONFIRMED)
        order.confirmed_at = at
        pay_by = at + timedelta(minutes=policy.current().orders.unpaid_cancel_minutes)
        await sla.start(session, _subject(order), OrderClock.PAY, pay_by)
        await events.record(session, "order.confirmed", f"order:{order.id}", _notice(order))
    await session.flush()
    return order


async def mark_paid(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The order's payment was captured (called by the payments domain)."""
    order = await get_order(session, order_id, lock=True)
    await _change(session, actor, order, S.PAID)
    order.paid_at = order.updated_at
    await sla.stop(session, _subject(order), OrderClock.PAY)
    ship_by = order.paid_at + timedelta(hours=policy.current().orders.ship_within_hours)
    await sla.start(session, _subject(order), OrderClock.SHIP, ship_by)
    await events.record(
        session, "order.paid", f"order:{order.id}", _notice(order, ship_by=ship_by.isoformat())
    )
    await session.flush()
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


# --- fulfillment steps and after delivery (ORD-3, ORD-6, ORD-7) ---------------------------


def _subject(order: Order) -> str:
    return f"order:{order.id}"


async def _step(
    session: AsyncSession, actor: Actor, order_id: int, target: OrderStatus, reason: str | None = None
) -> Order:
    order = await get_order(session, order_id, lock=True)
    await _change(session, actor, order, target, reason)
    return order


async def ready_to_pick(session: AsyncSession, limit: int) -> list[int]:
    """FUL-1: up to `limit` paid orders, earliest ship-by deadline first, locked for a wave."""
    return await repository.lock_ready_to_pick(session, limit)


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
    changes = {"status": S.PICKING, "updated_at": at}
    if await repository.move_many(session, previous, set(previous.values()), changes) != len(previous):
        raise RuntimeError("a locked order changed status under its lock")
    for order in found.values():
        for name, value in changes.items():
            set_committed_value(order, name, value)
    await audit.record(
        session,
        *(_status_row(actor, order_id, before, S.PICKING, at) for order_id, before in previous.items()),
    )
    return {order_id: found[order_id] for order_id in order_ids}


async def mark_packed(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    return await mark_packed_locked(session, actor, await get_order(session, order_id, lock=True))


async def _move_locked(
    session: AsyncSession, order: Order, target: OrderStatus, *stamps: str
) -> tuple[OrderStatus, datetime]:
    """Move a locked order to `target` (ORD-3), `stamps` set to the time of the step, by one
    UPDATE conditional on the status it left; returns that status and the time."""
    at = clock.now()
    previous = order.move_to(target, at)
    for name in stamps:
        setattr(order, name, at)
    await repository.move(session, order, previous, "status", "updated_at", *stamps)
    return previous, at


async def mark_packed_locked(
    session: AsyncSession, actor: Actor, order: Order, trail: Sequence[dict[str, Any]] = ()
) -> Order:
    """`mark_packed` for an order the caller holds locked (`lock_order`); the caller's `trail`
    (audit rows) is written before the order's own, in the same statement."""
    previous, at = await _move_locked(session, order, S.PACKED)
    await audit.record(session, *trail, _status_row(actor, order.id, previous, S.PACKED, at))
    return order


async def back_to_picking(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> Order:
    """FUL-2: a failed quality check sends the order back to picking."""
    order = await get_order(session, order_id, lock=True)
    return await back_to_picking_locked(session, actor, order, reason)


async def back_to_picking_locked(
    session: AsyncSession, actor: Actor, order: Order, reason: str, trail: Sequence[dict[str, Any]] = ()
) -> Order:
    """`back_to_picking` for an order the caller holds locked (`lock_order`); the caller's `trail`
    (audit rows) is written before the order's own, in the same statement."""
    previous, at = await _move_locked(session, order, S.PICKING)
    await audit.record(session, *trail, _status_row(actor, order.id, previous, S.PICKING, at, reason))
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
    previous, at = await _move_locked(session, order, S.SHIPPED, "shipped_at")
    deliver_by = at + timedelta(hours=policy.current().orders.deliver_within_hours)
    await sla.stop_and_start(session, _subject(order), OrderClock.SHIP, OrderClock.DELIVER, deliver_by)
    await insert_together(
        session,
        (AuditEntry, [_status_row(actor, order.id, previous, S.SHIPPED, at)]),
        (OutboxEvent, [events.row("order.shipped", _subject(order), _notice(order, shipments=shipments))]),
    )
    return order


async def mark_delivered(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The carrier reports delivery; the customer has the receipt window (ORD-7)."""
    order = await _step(session, actor, order_id, S.DELIVERED)
    at = order.delivered_at = order.updated_at
    await sla.stop(session, _subject(order), OrderClock.DELIVER)
    receipt_by = at + timedelta(days=policy.current().orders.auto_receipt_days)
    await sla.start(session, _subject(order), OrderClock.RECEIPT, receipt_by)
    await events.record(session, "order.delivered", _subject(order), _notice(order))
    await session.flush()
    return order


async def complete(session: AsyncSession, actor: Actor, order_id: int, *, assumed: bool = False) -> Order:
    """ORD-7: receipt confirmed by the customer, or assumed when the window ends.

    The order closes when the after-sales window (ASV-1), counted from delivery, is over.
    """
    reason = "receipt_assumed" if assumed else "receipt_confirmed"
    order = await _step(session, actor, order_id, S.COMPLETED, reason)
    order.completed_at = order.updated_at
    await sla.stop(session, _subject(order), OrderClock.RECEIPT)
    rules = policy.current().aftersales
    window = max(rules.no_reason_return_days, rules.quality_return_days)
    delivered = order.delivered_at or order.updated_at
    await sla.start(session, _subject(order), OrderClock.AFTERSALES, delivered + timedelta(days=window))
    await events.record(session, "order.completed", _subject(order), _notice(order, reason=reason))
    await session.flush()
    return order


async def close(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    """The after-sales window is over: the order is closed and archived for analysis (ORD-7)."""
    order = await _step(session, actor, order_id, S.CLOSED)
    order.closed_at = order.updated_at
    await sla.stop(session, _subject(order), OrderClock.AFTERSALES)
    await events.record(session, "order.closed", _subject(order), _notice(order))
    await session.flush()
    return order


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
