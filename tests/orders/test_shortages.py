"""INV-5: the worker releases stock-shortage holds once their stock is there, paid orders first by
payment time, then the unpaid by age; a paid one leaves its hold `paid`, an unpaid one
`confirmed` (ORD-3, ORD-4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow import worker
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.orders import tasks
from shopflow.payments import sandbox
from shopflow.payments import service as payments
from tests.builders.catalog import add_product
from tests.builders.inventory import receive
from tests.builders.lifecycle import order, place, stocked_store
from tests.builders.payments import open_payment, success_callback

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
THREE = [("SKU-1", 3, "99.00")]


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def pay(db: Database, order_id: int) -> None:
    """The customer pays the held order: the capture is kept, the hold too (ORD-3)."""
    payment = await open_payment(db, order_id)
    async with db.transaction() as session:
        await payments.apply_callback(session, sandbox.PROVIDER, success_callback(payment))


async def sweep(db: Database) -> int:
    """The worker's INV-5 sweep until nothing more is released; how many it released."""
    return await worker.Worker(db, interval=1.0).drain(worker.SWEEPS["orders.shortages"])


async def statuses(db: Database, *order_ids: int) -> list[str]:
    return [(await order(db, order_id)).status for order_id in order_ids]


async def test_stock_goes_to_the_earliest_payment_first_then_to_the_oldest_unpaid_order(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 2)
    unpaid, paid_last, paid_first = [await place(db, THREE) for _ in range(3)]
    assert await statuses(db, unpaid, paid_last, paid_first) == ["on_hold"] * 3
    now.advance(minutes=5)
    await pay(db, paid_first)  # placed last, paid first
    now.advance(minutes=5)
    await pay(db, paid_last)
    assert await sweep(db) == 0  # 2 units: not enough for anyone
    assert await statuses(db, unpaid, paid_last, paid_first) == ["on_hold"] * 3

    await receive(db, "WH-A", {"SKU-1": 1})
    assert await sweep(db) == 1
    assert await statuses(db, unpaid, paid_last, paid_first) == ["on_hold", "on_hold", "paid"]

    await receive(db, "WH-A", {"SKU-1": 3})
    assert await sweep(db) == 1
    assert await statuses(db, unpaid, paid_last, paid_first) == ["on_hold", "paid", "paid"]

    await receive(db, "WH-A", {"SKU-1": 3})
    assert await sweep(db) == 1
    assert await statuses(db, unpaid, paid_last, paid_first) == ["confirmed", "paid", "paid"]


async def test_one_receipt_releases_every_hold_it_covers_and_leaves_the_rest(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 2)
    first, second, third = [await place(db, THREE) for _ in range(3)]

    await receive(db, "WH-A", {"SKU-1": 5})  # 7 units: two orders of 3

    assert await sweep(db) == 2
    assert await statuses(db, first, second, third) == ["confirmed", "confirmed", "on_hold"]
    released = await order(db, first)
    assert (released.confirmed_at, released.hold_reason) == (START, None)


async def test_an_order_whose_stock_is_there_is_released_behind_a_full_batch_of_orders_still_short(
    db: Database, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "SHORTAGE_BATCH", 2)
    await stocked_store(db, 2)
    await add_product(db, {"SKU-2": 5000})
    short = [await place(db, THREE) for _ in range(3)]  # SKU-1: 2 units, 3 wanted by each
    now.advance(minutes=1)
    later = await place(db, [("SKU-2", 1, "50.00")])  # SKU-2: none yet
    assert await statuses(db, later) == ["on_hold"]

    await receive(db, "WH-A", {"SKU-2": 1})
    assert await sweep(db) == 1
    assert await statuses(db, *short, later) == ["on_hold", "on_hold", "on_hold", "confirmed"]
