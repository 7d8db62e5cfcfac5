"""INV-6: the worker schedules a weekly partial count (SKUs due by ABC class) and a monthly full
count in each warehouse, once per period, whoever runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shopflow import worker
from shopflow.core import clock
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.db import Database
from shopflow.stockcontrol.models import CountKind, CountState, StockCount
from shopflow.stockcontrol.schemas import CountLineIn, CountLinesIn
from shopflow.stockcontrol.service import counts
from tests.builders.store import small_store

# A Monday: day 20,790 after counts.EPOCH, so the start of a weekly period, in the 30-day period
# that runs to 2026-12-26.
MONDAY = datetime(2026, 12, 7, 9, tzinfo=UTC)


async def scheduled(db: Database) -> list[tuple[str, str, list[str]]]:
    """(warehouse id, kind, SKU codes) of every count, in the order they were started."""
    async with db.transaction() as session:
        stmt = select(StockCount).options(selectinload(StockCount.lines)).order_by(StockCount.id)
        found = (await session.scalars(stmt)).all()
        return [(str(c.warehouse_id), c.kind, [line.sku_code for line in c.lines]) for c in found]


async def sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS["stockcontrol.counts"](session)


async def test_each_warehouse_gets_one_partial_and_one_full_count_per_period(db: Database) -> None:
    await small_store(db)  # WH-A: SKU-1, SKU-2; WH-B: SKU-1, SKU-3
    with clock.use(lambda: MONDAY):
        assert await sweep(db) == 4
        assert await sweep(db) == 0  # the same periods: nothing new
    found = await scheduled(db)
    assert sorted((kind, skus) for _, kind, skus in found) == [
        (CountKind.FULL, ["SKU-1", "SKU-2"]),
        (CountKind.FULL, ["SKU-1", "SKU-3"]),
        (CountKind.PARTIAL, ["SKU-1", "SKU-2"]),  # never counted: due
        (CountKind.PARTIAL, ["SKU-1", "SKU-3"]),
    ]


async def test_a_sku_counted_recently_waits_for_its_class_interval(db: Database) -> None:
    await small_store(db)
    with clock.use(lambda: MONDAY):
        await sweep(db)
    async with db.transaction() as session:  # WH-A's partial count, counted and posted
        stmt = select(StockCount).where(StockCount.kind == CountKind.PARTIAL).order_by(StockCount.id)
        first = (await session.scalars(stmt)).first()
        assert first is not None
        view = await counts.get(session, first.id)
        typed = CountLinesIn(
            lines=[CountLineIn(sku=line.sku_code, counted=line.snapshot) for line in view.count.lines]
        )
        with clock.use(lambda: MONDAY):
            await counts.key(session, SYSTEM, first.id, typed)
        await counts.approve(session, Actor(user_id=None, name="boss", role="manager"), first.id)
        await counts.post(session, SYSTEM, first.id, "weekly count")
        assert view.count.state == CountState.POSTED
    with clock.use(lambda: MONDAY + timedelta(days=7)):  # next week: nothing sold, every SKU is C
        assert await sweep(db) == 1  # WH-B's partial count only: WH-A's C SKUs wait 90 days
    with clock.use(lambda: MONDAY + timedelta(days=91)):
        assert await sweep(db) == 4  # WH-A's SKUs due again, and a new week and 30-day period
