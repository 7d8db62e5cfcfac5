"""The planning pages of the console over HTTP (no browser): the replenishment board turns a
supplier's suggestions into a draft purchase order in one click, the purchase order's page takes
it through its steps and receives a delivery, and the SKU page draws the forecast (zh by default)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow import worker
from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.planning.schemas import SupplierIn, SupplierItemIn
from shopflow.planning.service import purchasing
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.lifecycle import place, stocked_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def store_with_sales(db: Database, now: FakeClock) -> None:
    """SKU-1 sold for three weeks, its forecast made, one supplier."""
    await stocked_store(db, 60)  # 18 left: below what 30 days of lead time need
    for _ in range(21):
        for _ in range(2):
            await place(db)
        now.advance(days=1)
    async with db.transaction() as session:
        assert await worker.SWEEPS["planning.forecast"](session) == 1
        item = SupplierItemIn(sku="SKU-1", lead_time_days=30, pack_size=10, moq=50, unit_cost="40.00")
        await purchasing.create_supplier(
            session, SYSTEM, SupplierIn(code="SUP-1", name="供应商", items=[item])
        )


async def test_the_board_orders_a_suppliers_suggestions_and_the_order_is_received(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await store_with_sales(db, now)
    async with await signed_in(visit, db, "purchasing") as visitor:
        board = await visitor.get("/replenishment")
        assert board.status_code == 200 and 'id="supplier-SUP-1"' in board.text
        made = await visitor.post("/replenishment/SUP-1/order")
        assert made.status_code == 303
        address = made.headers["location"]
        page = await visitor.get(address)
        assert "草稿" in page.text  # draft, in Chinese
        for step in ("submit", "confirm"):
            assert (await visitor.post(f"{address}/{step}")).status_code == 303
        listed = await visitor.get("/purchase-orders?status=confirmed")
        po_id = address.rsplit("/", 1)[1]
        assert "已确认" in table_row(listed.text, f"po-{po_id}")

        await visitor.get(address)
        refused = await visitor.post(f"{address}/receipts", {"reference": "", "qty:SKU-1": "x"})
        assert refused.status_code == 422 and 'id="error-reference"' in refused.text
        got = await visitor.post(f"{address}/receipts", {"reference": "DN-1", "qty:SKU-1": "10"})
        assert got.status_code == 303
        assert "部分到货" in (await visitor.get(address)).text

        sku = await visitor.get("/catalog/SKU-1")
        assert 'id="forecast-chart"' in sku.text
        chart = re.search(r'id="forecast-chart" data-chart="([^"]*)"', sku.text)
        assert (chart is not None and "&#34;line&#34;" in chart[1]) or "&quot;line&quot;" in chart[1]


async def test_a_warehouse_clerk_sees_the_orders_but_cannot_order(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await store_with_sales(db, now)
    async with await signed_in(visit, db, "warehouse") as visitor:
        board = await visitor.get("/replenishment")
        assert board.status_code == 200 and "/replenishment/SUP-1/order" not in board.text
        assert (await visitor.post("/replenishment/SUP-1/order")).status_code == 403


async def test_a_warehouse_threshold_is_set_on_the_sku_page(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await stocked_store(db, 5)
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/catalog/SKU-1")
        bad = await visitor.post("/catalog/SKU-1/safety-stock", {"warehouse": "WH-A", "threshold": "-3"})
        assert bad.status_code == 303
        page = await visitor.get("/catalog/SKU-1")
        assert "不单独监控" in table_row(page.text, "safety-WH-A")  # not watched apart
        done = await visitor.post("/catalog/SKU-1/safety-stock", {"warehouse": "WH-A", "threshold": "8"})
        assert done.status_code == 303
        assert ">8<" in table_row((await visitor.get("/catalog/SKU-1")).text, "safety-WH-A")
    async with db.transaction() as session:
        assert await worker.SWEEPS["inventory.safety_stock"](session) == 2  # the SKU, and WH-A apart
