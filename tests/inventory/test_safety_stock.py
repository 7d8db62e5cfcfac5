"""INV-4 / ANA-3: a SKU below its safety stock raises one low-stock alert, not one per sale; the
alert resolves when stock is back at or above it, and a new fall alerts again."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from shopflow.core import policy
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.core.policy import Inventory, Policy
from shopflow.worker import Worker
from tests.builders.auth import bearer
from tests.builders.inventory import receive
from tests.builders.orders import order_body
from tests.builders.store import small_store


async def low_stock_alerts(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.transaction() as session:
        stmt = select(Alert).where(Alert.kind == "low_stock").order_by(Alert.id)
        return [(a.subject, a.state, a.resolution_note) for a in await session.scalars(stmt)]


async def test_a_sku_below_its_safety_stock_is_alerted_once_until_it_recovers(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # available: SKU-1 10+5, SKU-2 20, SKU-3 30
    policy.install(Policy(inventory=Inventory(safety_stock=18)))
    worker = Worker(db, interval=1)
    sales = await bearer(db, "sales")

    assert (await worker.run_once())["inventory.safety_stock"] == 1
    assert await low_stock_alerts(db) == [("sku:SKU-1", "open", None)]
    [alert] = (await client.get("/api/v1/alerts?kind=low_stock", headers=sales)).json()["items"]
    assert (alert["owner"], alert["subject"]) == ("purchasing", "sku:SKU-1")
    assert "15 available, below its safety stock of 18" in alert["message"]

    # More sales of the same SKU: still one alert.
    for _ in range(3):
        placed = await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=sales)
        assert placed.status_code == 201, placed.text
    assert (await worker.run_once())["inventory.safety_stock"] == 0
    assert await low_stock_alerts(db) == [("sku:SKU-1", "open", None)]

    # Restocked to 12 + 10 = 22 available: the cause has ended.
    await receive(db, "WH-A", {"SKU-1": 10})
    assert (await worker.run_once())["inventory.safety_stock"] == 1
    assert await low_stock_alerts(db) == [
        ("sku:SKU-1", "resolved", "stock is back at or above its safety stock")
    ]

    # Sold below it again: a new alert, once.
    placed = await client.post("/api/v1/orders", json=order_body([("SKU-1", 5, "99.00")]), headers=sales)
    assert placed.status_code == 201, placed.text
    await worker.run_once()
    await worker.run_once()
    assert await low_stock_alerts(db) == [
        ("sku:SKU-1", "resolved", "stock is back at or above its safety stock"),
        ("sku:SKU-1", "open", None),
    ]
