"""Orders moved through their lifecycle by the orders service, the way the system's own steps
move them; their clocks, and the worker's SLA sweep."""

from __future__ import annotations

from sqlalchemy import func, select

from shopflow import worker
from shopflow.core import sla
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.sla.models import SlaClock
from shopflow.orders.models import Order
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import fulfillment_steps, intake, lifecycle, queries
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body

ONE_UNIT = [("SKU-1", 1, "99.00")]


async def place(
    db: Database, lines: list[tuple[str, int, str]] | None = None, coupons: list[str] | None = None
) -> int:
    """A confirmed order (stock reserved, pay clock running); one SKU-1 unless told otherwise,
    naming `coupons` when given."""
    async with db.transaction() as session:
        body = OrderIn.model_validate(order_body(lines or ONE_UNIT, coupons=coupons or []))
        return (await intake.place_order(session, SYSTEM, body, None)).order.id


async def place_many(db: Database, count: int, per_transaction: int = 100) -> list[int]:
    """`count` confirmed orders of one SKU-1 each."""
    ids: list[int] = []
    body = OrderIn.model_validate(order_body(ONE_UNIT))
    while len(ids) < count:
        async with db.transaction() as session:
            for _ in range(min(per_transaction, count - len(ids))):
                ids.append((await intake.place_order(session, SYSTEM, body, None)).order.id)
    return ids


async def stocked_store(db: Database, units: int) -> None:
    """SKU-1 at 99.00 with `units` in one warehouse."""
    await add_product(db, {"SKU-1": 9900})
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"SKU-1": units})


async def pay(db: Database, order_id: int) -> None:
    async with db.transaction() as session:
        await lifecycle.mark_paid(session, SYSTEM, order_id)


async def ship(db: Database, order_id: int) -> None:
    """A paid order picked, packed and handed to the carrier."""
    async with db.transaction() as session:
        await fulfillment_steps.start_picking(session, SYSTEM, order_id)
        await fulfillment_steps.mark_packed(session, SYSTEM, order_id)
        await fulfillment_steps.mark_shipped(session, SYSTEM, order_id, [])


async def deliver(db: Database, order_id: int) -> None:
    """A confirmed order paid, shipped and delivered: its receipt clock starts."""
    await pay(db, order_id)
    await ship(db, order_id)
    async with db.transaction() as session:
        await lifecycle.mark_delivered(session, SYSTEM, order_id)


async def order(db: Database, order_id: int) -> Order:
    async with db.transaction() as session:
        return await queries.get_order(session, order_id)


async def clocks(db: Database, order_id: int) -> dict[str, SlaClock]:
    """The order's clocks by kind."""
    async with db.transaction() as session:
        return {c.kind: c for c in await sla.of_subject(session, f"order:{order_id}")}


async def sweep(db: Database) -> int:
    """The worker's SLA sweep, batch after batch until nothing is due; how many clocks breached."""
    return await worker.Worker(db, interval=1.0).drain(worker.sla_breaches)


async def cancelled_unpaid(db: Database) -> int:
    async with db.transaction() as session:
        stmt = select(func.count()).select_from(Order).where(Order.cancel_reason == lifecycle.UNPAID_TIMEOUT)
        return int(await session.scalar(stmt) or 0)
