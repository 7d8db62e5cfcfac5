"""ORD-5: a confirmed order left unpaid past the policy's limit is cancelled by the system and
its reservation released: the worker's SLA sweep, when the pay clock started at confirmation
runs out. The clock is a FakeClock, so the minutes are exact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow.catalog import service as catalog
from shopflow.core import clock, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.policy import Orders, Policy
from shopflow.inventory import service as inventory
from shopflow.orders.models import Order
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake, lifecycle, queries
from tests.builders import lifecycle as lifecycle_builders
from tests.builders.inventory import receive
from tests.builders.lifecycle import cancelled_unpaid
from tests.builders.orders import order_body
from tests.builders.rows import audit_rows, outbox
from tests.builders.store import small_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def place(db: Database, lines: list[tuple[str, int, str]]) -> int:
    async with db.transaction() as session:
        placed = await intake.place_order(session, SYSTEM, OrderIn.model_validate(order_body(lines)), None)
        return placed.order.id


async def order(db: Database, order_id: int) -> Order:
    async with db.transaction() as session:
        return await queries.get_order(session, order_id)


async def available(db: Database, code: str) -> int:
    async with db.transaction() as session:
        return (await inventory.availability(session, await catalog.get_sku(session, code))).available


async def sweep(db: Database) -> int:
    """The worker's SLA sweep, whose pay-clock breach action is ORD-5; how many orders it cancelled."""
    before = await cancelled_unpaid(db)
    await lifecycle_builders.sweep(db)
    return await cancelled_unpaid(db) - before


async def test_an_order_unpaid_for_29_minutes_is_kept(db: Database, now: FakeClock) -> None:
    await small_store(db)
    order_id = await place(db, [("SKU-1", 3, "99.00")])
    now.advance(minutes=29)

    assert await sweep(db) == 0

    kept = await order(db, order_id)
    assert (kept.status, kept.cancelled_at) == ("confirmed", None)
    assert await available(db, "SKU-1") == 15 - 3


async def test_an_order_unpaid_for_31_minutes_is_cancelled_by_the_system(
    db: Database, now: FakeClock
) -> None:
    await small_store(db)
    on_shelf = await available(db, "SKU-1")
    order_id = await place(db, [("SKU-1", 3, "99.00"), ("SKU-2", 2, "45.50")])
    assert await available(db, "SKU-1") == on_shelf - 3
    now.advance(minutes=31)

    assert await sweep(db) == 1

    cancelled = await order(db, order_id)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "unpaid_timeout")
    assert cancelled.cancelled_at == now()
    [last] = (await audit_rows(db, "order", order_id))[-1:]
    assert (last.actor_name, last.actor_id) == ("system", None)
    assert last.before == {"status": "confirmed"}
    assert last.after == {"status": "cancelled", "reason": "unpaid_timeout"}
    assert await available(db, "SKU-1") == on_shelf
    assert await available(db, "SKU-2") == 20
    async with db.transaction() as session:
        assert {r.state for r in await queries.reservations(session, order_id)} == {"released"}
    notices = [e for e in await outbox(db, f"order:{order_id}") if e.event == "order.cancelled"]
    assert [(e.payload["order_id"], e.payload["reason"]) for e in notices] == [(order_id, "unpaid_timeout")]


async def test_a_second_sweep_changes_nothing_more(db: Database, now: FakeClock) -> None:
    await small_store(db)
    order_id = await place(db, [("SKU-3", 1, "12.00")])
    now.advance(minutes=45)
    assert await sweep(db) == 1
    trail = await audit_rows(db, "order", order_id)

    now.advance(minutes=45)
    assert await sweep(db) == 0

    assert len(await audit_rows(db, "order", order_id)) == len(trail)
    assert [e.event for e in await outbox(db, f"order:{order_id}")].count("order.cancelled") == 1
    assert await available(db, "SKU-3") == 30


async def test_paid_orders_are_never_touched(db: Database, now: FakeClock) -> None:
    await small_store(db)
    paid_id = await place(db, [("SKU-1", 2, "99.00")])
    unpaid_id = await place(db, [("SKU-1", 1, "99.00")])
    now.advance(minutes=10)
    async with db.transaction() as session:
        await lifecycle.mark_paid(session, SYSTEM, paid_id)
    now.advance(days=3)

    assert await sweep(db) == 1

    assert (await order(db, paid_id)).status == "paid"
    assert (await order(db, unpaid_id)).status == "cancelled"
    assert await available(db, "SKU-1") == 15 - 2  # the paid order keeps its stock


async def test_orders_on_hold_or_already_cancelled_are_not_swept(db: Database, now: FakeClock) -> None:
    await small_store(db)
    short_id = await place(db, [("SKU-1", 99, "99.00")])
    cancelled_id = await place(db, [("SKU-2", 1, "45.50")])
    async with db.transaction() as session:
        await lifecycle.cancel(session, SYSTEM, cancelled_id, "customer asked")
    now.advance(hours=5)

    assert await sweep(db) == 0

    assert (await order(db, short_id)).status == "on_hold"
    assert (await order(db, cancelled_id)).cancel_reason == "customer asked"


async def test_the_time_is_counted_from_confirmation(db: Database, now: FakeClock) -> None:
    """A shortage hold released later starts its 30 minutes when it is confirmed, not placed."""
    await small_store(db)
    order_id = await place(db, [("SKU-2", 25, "45.50")])
    now.advance(hours=2)
    await receive(db, "WH-A", {"SKU-2": 10})
    async with db.transaction() as session:
        await lifecycle.release(session, SYSTEM, order_id)
    now.advance(minutes=20)

    assert await sweep(db) == 0
    assert (await order(db, order_id)).status == "confirmed"

    now.advance(minutes=11)
    assert await sweep(db) == 1
    assert (await order(db, order_id)).status == "cancelled"


@pytest.mark.parametrize(("limit", "kept_at", "cancelled_at"), [(10, 9, 11), (120, 119, 121)])
async def test_the_limit_is_the_policy_s(
    db: Database, now: FakeClock, limit: int, kept_at: int, cancelled_at: int
) -> None:
    policy.install(Policy(orders=Orders(unpaid_cancel_minutes=limit)))
    await small_store(db)
    order_id = await place(db, [("SKU-3", 2, "12.00")])

    now.advance(minutes=kept_at)
    assert await sweep(db) == 0
    assert (await order(db, order_id)).status == "confirmed"

    now.advance(minutes=cancelled_at - kept_at)
    assert await sweep(db) == 1
    assert (await order(db, order_id)).status == "cancelled"
