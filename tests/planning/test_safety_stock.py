"""INV-4: a fall below safety stock raises one low-stock alert however many sales follow, and a
new one only after the stock has recovered; a warehouse's own threshold is watched apart. The
watch's `alerted` flag is set by one conditional UPDATE, so the sweep raises each alert once."""

from __future__ import annotations

from sqlalchemy import func, select

from shopflow import worker
from shopflow.catalog import service as catalog
from shopflow.core import policy
from shopflow.core.alerts import Alert
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.core.policy import Inventory, Policy
from shopflow.planning.service import safety
from tests.builders.inventory import receive
from tests.builders.lifecycle import place, stocked_store
from tests.builders.store import small_store


async def sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS["inventory.safety_stock"](session)


async def low_stock(db: Database) -> list[tuple[str, str]]:
    async with db.transaction() as session:
        stmt = select(Alert.subject, Alert.state).where(Alert.kind == "low_stock").order_by(Alert.id)
        return [(subject, state) for subject, state in (await session.execute(stmt)).tuples()]


async def told(db: Database) -> int:
    async with db.transaction() as session:
        stmt = select(func.count()).select_from(OutboxEvent).where(OutboxEvent.event == "alert.raised")
        return int(await session.scalar(stmt) or 0)


async def test_one_alert_across_a_hundred_sales_below_the_threshold_and_one_more_after_recovery(
    db: Database,
) -> None:
    policy.install(Policy(inventory=Inventory(safety_stock=150)))
    await stocked_store(db, 250)
    for _ in range(100):  # 150 left: at the threshold, not below
        await place(db)
    assert await sweep(db) == 0 and await low_stock(db) == []

    raised = 0
    for _ in range(100):  # 100 sales below it, the worker sweeping after each
        await place(db)
        raised += await sweep(db)
    assert raised == 1
    assert await low_stock(db) == [("sku:SKU-1", "open")]
    assert await told(db) == 1

    await receive(db, "WH-A", {"SKU-1": 100})  # 150 available again
    assert await sweep(db) == 1
    assert await low_stock(db) == [("sku:SKU-1", "resolved")]
    assert await sweep(db) == 0

    for _ in range(3):
        await place(db)
        await sweep(db)
    assert await low_stock(db) == [("sku:SKU-1", "resolved"), ("sku:SKU-1", "open")]
    assert await told(db) == 2


async def test_a_warehouse_threshold_is_watched_in_that_warehouse(db: Database) -> None:
    policy.install(Policy(inventory=Inventory(safety_stock=0)))
    await small_store(db)  # SKU-1: 10 in WH-A, 5 in WH-B
    async with db.transaction() as session:
        sku = await catalog.get_sku(session, "SKU-1")
        await safety.set_warehouse_threshold(session, SYSTEM, sku, "WH-B", 8)
        await safety.set_warehouse_threshold(session, SYSTEM, sku, "WH-A", 10)

    assert await sweep(db) == 1  # WH-B below 8; WH-A at 10 is not below
    assert await sweep(db) == 0
    assert await low_stock(db) == [("sku:SKU-1@WH-B", "open")]

    await receive(db, "WH-B", {"SKU-1": 3})
    assert await sweep(db) == 1
    assert await low_stock(db) == [("sku:SKU-1@WH-B", "resolved")]
