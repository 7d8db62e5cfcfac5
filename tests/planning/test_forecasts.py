"""ANA-5 and INV-4 end to end: the nightly run rolls the orders up into daily demand and stores a
forecast per SKU (once a day), `GET /forecast/{sku}` shows history, forecast and backtest, and
`GET /replenishment/suggestions` sizes an order from it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from shopflow import worker
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.planning import repository
from shopflow.planning.models import DailyDemand, ForecastRun
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse
from tests.builders.lifecycle import place, stocked_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
WEEK = (6, 8, 10, 10, 12, 14, 10)  # a weekly pattern averaging 10 a day


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def nightly(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS["planning.forecast"](session)


async def history(db: Database, days: int) -> None:
    """SKU-1's demand of the `days` days before today, the weekly pattern exactly."""
    today = clock.today()
    async with db.transaction() as session:
        sku_id = (await repository.sku_codes_to_ids(session, ["SKU-1"]))["SKU-1"]
        rows = [
            {"sku_id": sku_id, "day": day, "quantity": WEEK[day.toordinal() % 7]}
            for day in (today - timedelta(days=n) for n in range(1, days + 1))
        ]
        await repository.add_demand(session, rows)


async def test_the_nightly_run_rolls_orders_up_and_forecasts_once_a_day(db: Database, now: FakeClock) -> None:
    await stocked_store(db, 100)
    for _ in range(3):
        await place(db)
    now.advance(days=1)

    assert await nightly(db) == 1
    assert await nightly(db) == 0  # once a day
    async with db.transaction() as session:
        rows = (await session.execute(select(DailyDemand.day, DailyDemand.quantity))).tuples().all()
        runs = (await session.scalars(select(ForecastRun).where(ForecastRun.day == date(2030, 3, 2)))).all()
    assert rows == [(date(2030, 3, 1), 3)]
    assert [r.skus for r in runs] == [1]


async def test_the_forecast_and_the_suggestion_follow_the_history(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await add_product(db, {"SKU-1": 9900})
    await add_warehouse(db, "WH-A", 1)
    await history(db, 140)
    assert await nightly(db) == 1
    headers = await bearer(db, "purchasing")

    reply = await client.get("/api/v1/forecast/SKU-1?weeks=2", headers=headers)
    assert reply.status_code == 200, reply.text
    found = reply.json()
    assert len(found["history"]) == 14 and len(found["forecast"]) == 28
    assert found["forecast"][0]["day"] == "2030-03-01"
    week = sum(day["units"] for day in found["forecast"][:7])
    assert week == pytest.approx(70, rel=0.05)
    backtest = found["backtest"]
    assert backtest["wape"] < backtest["naive_wape"] or backtest["naive_wape"] == 0
    assert (await client.get("/api/v1/forecast/NOPE", headers=headers)).status_code == 404

    supplier = {
        "code": "SUP-1",
        "name": "供应商",
        "items": [{"sku": "SKU-1", "lead_time_days": 5, "pack_size": 6, "moq": 12, "unit_cost": "40.00"}],
    }
    assert (await client.post("/api/v1/suppliers", json=supplier, headers=headers)).status_code == 201
    [suggested] = (await client.get("/api/v1/replenishment/suggestions", headers=headers)).json()["items"]
    # 12 days (5 of lead time, 7 of review) of about 10 a day, plus 50 of safety stock, none in stock.
    expected = math.ceil((suggested["demand"] + 50) / 6) * 6
    assert suggested["demand"] == pytest.approx(120, rel=0.05)
    assert (suggested["supplier"], suggested["quantity"]) == ("SUP-1", expected)

    # What is on order counts: a PO for all of it leaves nothing to suggest.
    order = {"supplier": "SUP-1", "warehouse": "WH-A", "lines": [{"sku": "SKU-1", "quantity": expected}]}
    assert (await client.post("/api/v1/purchase-orders", json=order, headers=headers)).status_code == 201
    assert (await client.get("/api/v1/replenishment/suggestions", headers=headers)).json()["items"] == []


async def test_a_sku_without_a_forecast_is_a_404_naming_why(client: httpx.AsyncClient, db: Database) -> None:
    await stocked_store(db, 1)
    reply = await client.get("/api/v1/forecast/SKU-1", headers=await bearer(db, "sales"))
    assert reply.status_code == 404 and reply.json()["code"] == "no_forecast"
