"""The daily closing inventory values behind `inventory_turnover`: the sums PostgreSQL computes in
one statement (`metric_queries.held_values`) equal the stock ledger replayed day by day
(`metrics.closing_values`), including two movements on one day and a day cut in the store's time
zone; on SQLite the replay is the path taken."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shopflow.analytics import metric_queries as q
from shopflow.analytics import metrics
from shopflow.analytics.models import Period
from shopflow.catalog import service as catalog
from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Movement
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive

# SKU-A costs 50.00, SKU-B 20.00 (half their prices); the store's zone is UTC+8.
A, B = "SKU-A", "SKU-B"


def local(day: str, hour: int, minute: int = 0) -> datetime:
    y, m, d = (int(p) for p in day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def ship(db: Database, warehouse: str, sku: str, quantity: int) -> None:
    async with db.transaction() as session:
        found = await inventory.get_warehouse(session, warehouse)
        skus = await catalog.skus_by_codes(session, [sku])
        await inventory.post_movements(
            session, SYSTEM, found.id, {skus[sku].id: -quantity}, Movement.SHIPMENT, "order:1"
        )


async def test_the_sums_of_daily_closing_values_equal_the_ledger_replayed(db: Database) -> None:
    await add_product(db, {A: 10000, B: 4000})
    await add_warehouse(db, "W1", 1)
    await add_warehouse(db, "W2", 2)
    with clock.use(lambda: local("2030-03-01", 10)):
        await receive(db, "W1", {A: 10})
    with clock.use(lambda: local("2030-03-01", 15)):
        await receive(db, "W1", {A: 5})  # the same day: 03-01 closes at 15
    with clock.use(lambda: local("2030-03-02", 23, 30)):
        await receive(db, "W2", {B: 20})
    with clock.use(lambda: local("2030-03-03", 0, 30)):  # the same UTC day as the receipt before
        await ship(db, "W1", A, 4)
    with clock.use(lambda: local("2030-04-01", 9)):
        await ship(db, "W2", B, 20)
    # Closing values: 03-01 15 × 50.00 = 750.00; 03-02 750.00 + 20 × 20.00 = 1150.00;
    # 03-03..03-31 (29 days) 11 × 50.00 + 400.00 = 950.00; from 04-01 550.00.
    spans = [
        (date(2030, 2, 1), date(2030, 2, 28)),  # before any movement
        (date(2030, 3, 1), date(2030, 3, 31)),  # 750 + 1150 + 29 × 950 = 29,450.00
        (date(2030, 3, 2), date(2030, 3, 2)),
        (date(2030, 4, 1), date(2030, 4, 10)),  # 10 × 550.00
    ]
    expected = [0, 2_945_000, 115_000, 550_000]
    now = local("2030-04-10", 12)
    with clock.use(lambda: now):
        async with db.transaction() as session:
            daily = metrics.closing_values(await q.stock_ledger(session, now), spans[0][0], spans[-1][1])
            zone = clock.store_zone().key
            held = await q.held_values(session, spans, clock.local_midnight(spans[0][0]), now, zone)
            # From 03-02 on: 03-01's movements before it give their pair's opening balance.
            later = await q.held_values(session, spans[2:], clock.local_midnight(spans[2][0]), now, zone)
            cut = [Period(f"span {i}", first, last) for i, (first, last) in enumerate(spans)]
            found = await metrics.stock_values(session, cut, now, all_time=False)

    assert [sum(v for d, v in daily.items() if first <= d <= last) for first, last in spans] == expected
    if held is not None:  # PostgreSQL
        assert [held.get(i, 0) for i in range(len(spans))] == expected
        assert later is not None
        assert [later.get(i, 0) for i in range(2)] == expected[2:]
    assert found == [(v, (last - first).days + 1) for v, (first, last) in zip(expected, spans, strict=True)]
