"""The worker's SLA sweep on order clocks (SLA-2, ORD-5..7): each breached clock is alerted once
and its rule acts: unpaid orders are cancelled, receipt is assumed, the order is closed. The clock
is a FakeClock, so the deadlines are exact."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow.catalog import service as catalog
from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.orders import tasks as order_tasks
from shopflow.orders.models import HoldReason
from shopflow.orders.service import lifecycle, queries
from tests.builders.lifecycle import clocks, deliver, order, pay, place, ship, sweep
from tests.builders.rows import alerts_for, audit_rows, outbox
from tests.builders.store import small_store
from tests.conftest import IS_POSTGRES

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def available(db: Database, code: str) -> int:
    async with db.transaction() as session:
        return (await inventory.availability(session, await catalog.get_sku(session, code))).available


async def test_the_worker_cancels_an_order_unpaid_for_30_minutes_releases_its_stock_and_alerts_once(
    db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db, [("SKU-1", 4, "99.00")])
    assert await available(db, "SKU-1") == 15 - 4
    now.advance(minutes=29, seconds=59)
    assert await sweep(db) == 0
    assert (await order(db, order_id)).status == "confirmed"

    now.advance(seconds=1)
    assert await sweep(db) == 1

    cancelled = await order(db, order_id)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_at) == (
        "cancelled",
        "unpaid_timeout",
        now(),
    )
    assert await available(db, "SKU-1") == 15
    pay_clock = (await clocks(db, order_id))["order.pay"]
    assert (pay_clock.state, pay_clock.breached_at, pay_clock.stopped_at) == ("breached", now(), now())
    [alert] = await alerts_for(db, f"order:{order_id}")
    assert (alert.kind, alert.state, alert.owner) == ("sla.breach.order.pay", "open", "operations")
    assert "order.pay" in alert.message
    now.advance(hours=1)
    assert await sweep(db) == 0
    assert len(await alerts_for(db, f"order:{order_id}")) == 1


async def test_a_delivered_order_is_completed_after_7_days_then_closed_after_the_after_sales_window(
    db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await deliver(db, order_id)
    now.advance(days=7, seconds=-1)
    await sweep(db)
    assert (await order(db, order_id)).status == "delivered"

    now.advance(seconds=1)
    await sweep(db)

    completed = await order(db, order_id)
    assert (completed.status, completed.completed_at) == ("completed", now())
    [assumed] = (await audit_rows(db, "order", order_id))[-1:]
    assert (assumed.actor_name, assumed.after) == (
        "system",
        {"status": "completed", "reason": "receipt_assumed"},
    )
    # ASV-1: the longer (quality) window, 15 store days from delivery (2030-03-01 17:00 in
    # Shanghai), so up to 2030-03-16 23:59 there: the order closes at 03-17 00:00, 03-16 16:00 UTC.
    closes = datetime(2030, 3, 16, 16, 0, tzinfo=UTC)
    now.advance(seconds=(closes - now()).total_seconds() - 1)
    await sweep(db)
    assert (await order(db, order_id)).status == "completed"

    now.advance(seconds=1)
    await sweep(db)

    closed = await order(db, order_id)
    assert (closed.status, closed.closed_at) == ("closed", now())
    events = [e.event for e in await outbox(db, f"order:{order_id}")]
    assert events[-2:] == ["order.completed", "order.closed"]
    found = await clocks(db, order_id)
    assert {kind: c.state for kind, c in found.items()} == {
        "order.pay": "met",
        "order.ship": "met",
        "order.deliver": "met",
        "order.receipt": "breached",
        "order.aftersales": "breached",
    }
    # The customer need not confirm receipt, and every order closes: neither is anyone late.
    assert await alerts_for(db, f"order:{order_id}") == []


async def test_a_breached_ship_clock_raises_exactly_one_alert_over_many_sweeps(
    db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await pay(db, order_id)
    now.advance(hours=48, minutes=1)

    assert await sweep(db) == 1
    for _ in range(3):
        now.advance(minutes=5)
        assert await sweep(db) == 0

    [alert] = await alerts_for(db, f"order:{order_id}")
    assert "order.ship" in alert.message
    assert (await order(db, order_id)).status == "paid"  # ORD-6: seen and alerted, nothing undone
    late = (await clocks(db, order_id))["order.ship"]
    assert (late.state, late.stopped_at) == ("breached", None)
    await ship(db, order_id)  # shipped late: the breach stays on record, the clock stops
    shipped = await clocks(db, order_id)
    assert (shipped["order.ship"].state, shipped["order.ship"].stopped_at) == ("breached", now())
    assert shipped["order.deliver"].state == "running"
    assert len(await alerts_for(db, f"order:{order_id}")) == 1


async def test_a_held_order_s_pay_clock_waits_with_it(db: Database, now: FakeClock) -> None:
    await small_store(db)
    order_id = await place(db)
    now.advance(minutes=10)
    async with db.transaction() as session:
        await lifecycle.hold(session, SYSTEM, order_id, HoldReason.RISK_REVIEW)
    now.advance(hours=5)

    assert await sweep(db) == 0
    assert (await clocks(db, order_id))["order.pay"].state == "paused"
    assert await alerts_for(db, f"order:{order_id}") == []

    async with db.transaction() as session:
        await lifecycle.release(session, SYSTEM, order_id)
    now.advance(minutes=19, seconds=59)  # 29:59 unpaid while not held
    assert await sweep(db) == 0
    assert (await order(db, order_id)).status == "confirmed"
    now.advance(seconds=1)
    assert await sweep(db) == 1
    assert (await order(db, order_id)).status == "cancelled"


async def test_a_pay_breach_for_an_order_paid_meanwhile_changes_nothing(db: Database, now: FakeClock) -> None:
    await small_store(db)
    order_id = await place(db)
    pay_clock = (await clocks(db, order_id))["order.pay"]
    await pay(db, order_id)
    trail = await audit_rows(db, "order", order_id)

    async with db.transaction() as session:
        await order_tasks.cancel_unpaid(session, pay_clock)

    assert (await order(db, order_id)).status == "paid"
    assert len(await audit_rows(db, "order", order_id)) == len(trail)
    assert await available(db, "SKU-1") == 15 - 1


async def test_a_receipt_breach_after_the_customer_confirmed_changes_nothing(
    db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await deliver(db, order_id)
    receipt_clock = (await clocks(db, order_id))["order.receipt"]
    async with db.transaction() as session:
        await lifecycle.complete(session, SYSTEM, order_id)
    trail = await audit_rows(db, "order", order_id)

    async with db.transaction() as session:
        await order_tasks.assume_receipt(session, receipt_clock)

    assert (await order(db, order_id)).status == "completed"
    assert [e.id for e in await audit_rows(db, "order", order_id)] == [e.id for e in trail]
    assert trail[-1].after == {"status": "completed", "reason": "receipt_confirmed"}


@pytest.mark.skipif(not IS_POSTGRES, reason="row locks: SQLite runs one writer at a time")
async def test_a_payment_racing_the_pay_deadline_wins_without_deadlock(committed: Database) -> None:
    """The worker locks the clock then the order; a payment locks the order then the clock.
    The worker does not wait for an order another transaction holds: the clock stays running,
    the payment commits, and the order is never cancelled."""
    fake = FakeClock(datetime.now(UTC))
    with clock.use(fake):
        await small_store(committed)
        order_id = await place(committed)
        fake.advance(minutes=31)
        async with committed.transaction() as payment:
            await queries.get_order(payment, order_id, lock=True)  # the payment callback, in flight
            assert await asyncio.wait_for(sweep(committed), timeout=10) == 0
            await lifecycle.mark_paid(payment, SYSTEM, order_id)
        assert await sweep(committed) == 0

        assert (await order(committed, order_id)).status == "paid"
        assert (await clocks(committed, order_id))["order.pay"].state == "met"
        assert await alerts_for(committed, f"order:{order_id}") == []
