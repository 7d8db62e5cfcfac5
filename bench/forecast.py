"""Demand forecasts at size (issue 18, ANA-5 and INV-4): the nightly forecast of 10,000 SKUs from
two years of daily history, and the replenishment suggestions it feeds, on PostgreSQL.

    .venv/bin/python bench/forecast.py [--skus 10000 --days 730 --repeat 3 --seed 18 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_forecast]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.

Set-up (not timed): one product with N SKUs (prices ¥5 to ¥500), one warehouse holding a random
stock of each, one supplier selling every SKU (lead time 3 to 20 days, packs of 1 to 24, minimum
orders of 1 to 4 packs), and D days of synthetic daily demand per SKU up to yesterday, written by
COPY into `daily_demand` (days without demand have no row, as the nightly roll-up writes them):
Poisson draws around a level that drifts slowly, times a weekly shape of the SKU's own (a
weekend peak of 1.1× to 2×), a few SKUs selling only now and then. The clock is fixed at the data's
anchor, so a rerun measures the same thing.

Measured, R times (the day's run row deleted between runs), min and median printed:
  nightly      `planning.service.forecasts.nightly` as the worker runs it: the run claimed, the
               day's orders rolled up (none here), the history read, every SKU forecast with
               its backtest, and the forecasts stored (the previous ones replaced);
  suggestions  `planning.service.replenishment.suggestions` from the stored forecasts.
Then the backtest over the last 8 weeks per ABC class (by revenue): MAPE and WAPE of the forecast
and of the naive "same as last week" forecast, and the ratio forecast / naive (below 1: better).
Target (issue 18): nightly + suggestions under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
import numpy as np
from common import fresh_database, run
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.planning.models import ForecastRun
from shopflow.planning.service import forecasts, replenishment

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_forecast"
ANCHOR = datetime(2030, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: the day's run is due

PRODUCT = (
    "INSERT INTO products (id, name, description, created_at, status)"
    " VALUES (1, '基准商品', '', $1, 'published')"
)
WAREHOUSE = (
    "INSERT INTO warehouses (id, code, name, province, priority, active)"
    " VALUES (1, 'WH-A', '上海仓', '上海', 1, true)"
)
SUPPLIER = (
    "INSERT INTO suppliers (id, code, name, active, created_at) VALUES (1, 'SUP-1', '华东供应商', true, $1)"
)


def synthetic(skus: int, days: int, seed: int) -> np.ndarray:
    """Daily units per SKU (SKUs × days): a slowly drifting level times a weekly shape, Poisson."""
    rng = np.random.default_rng(seed)
    level = rng.gamma(0.8, 6.0, size=(skus, 1))
    drift = np.exp(np.cumsum(rng.normal(0, 0.01, size=(skus, days)), axis=1))
    weekend = rng.uniform(1.1, 2.0, size=(skus, 1))
    shape = np.ones((skus, 7))
    shape[:, 5:] = weekend
    shape /= shape.mean(axis=1, keepdims=True)
    weekday = (date(2030, 6, 1).toordinal() - days + np.arange(days)) % 7
    return rng.poisson(level * drift * shape[:, weekday]).astype(np.int64)


async def seed_database(url: str, skus: int, days: int, seed: int) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        at = ANCHOR - timedelta(days=days + 1)
        await conn.execute(PRODUCT, at)
        await conn.execute(WAREHOUSE)
        await conn.execute(SUPPLIER, at)
        await conn.execute(
            "INSERT INTO skus (id, product_id, code, name, price, cost, weight_g, price_band, sellable)"
            " SELECT g, 1, 'SKU-' || lpad(g::text, 5, '0'), '商品' || g, 500 + (g * 7919) % 49500,"
            " 250 + (g * 7919) % 24750, 300, 'profit', true FROM generate_series(1, $1) AS g",
            skus,
        )
        await conn.execute(
            "INSERT INTO stock (sku_id, warehouse_id, on_hand, reserved)"
            " SELECT g, 1, (g * 104729) % 400, 0 FROM generate_series(1, $1) AS g",
            skus,
        )
        await conn.execute(
            "INSERT INTO supplier_items (supplier_id, sku_id, lead_time_days, pack_size, moq, unit_cost)"
            " SELECT 1, g, 3 + g % 18, 1 + g % 24, (1 + g % 24) * (1 + g % 4), 250 + (g * 7919) % 24750"
            " FROM generate_series(1, $1) AS g",
            skus,
        )
        units = synthetic(skus, days, seed)
        first = date(2030, 6, 1) - timedelta(days=days)
        sku_index, day_index = np.nonzero(units)
        day_list = [first + timedelta(days=d) for d in range(days)]
        records = zip(
            (sku_index + 1).tolist(),
            (day_list[d] for d in day_index.tolist()),
            units[sku_index, day_index].tolist(),
            strict=True,
        )
        await conn.copy_records_to_table(
            "daily_demand", records=records, columns=["sku_id", "day", "quantity"]
        )
        await conn.execute("ANALYZE")
        print(f"seeded {skus} SKUs × {days} days: {len(sku_index):,} daily demand rows")
    finally:
        await conn.close()


async def measure(url: str, repeat: int) -> None:
    db = Database.from_url(url)
    nightly: list[float] = []
    suggested: list[float] = []
    outcome = None
    count = 0
    with clock.use(FakeClock(ANCHOR)):
        for _ in range(repeat):
            async with db.transaction() as session:
                await session.execute(delete(ForecastRun))
            started = time.perf_counter()
            async with db.transaction() as session:
                assert await forecasts.nightly(session) == 1
            nightly.append(time.perf_counter() - started)
            started = time.perf_counter()
            async with db.transaction() as session:
                count = len(await replenishment.suggestions(session))
            suggested.append(time.perf_counter() - started)
        async with db.transaction() as session:
            outcome = await forecasts.recompute(session, clock.today())
    await db.dispose()

    def line(name: str, values: list[float]) -> str:
        return f"  {name:<12} min {min(values):6.2f} s   median {statistics.median(values):6.2f} s"

    print(f"timings over {repeat} run(s):")
    print(line("nightly", nightly))
    print(line("suggestions", suggested) + f"   ({count:,} SKUs to order)")
    total = [a + b for a, b in zip(nightly, suggested, strict=True)]
    print(line("total", total) + "   target < 60 s")
    print("backtest, last 8 weeks, by ABC class (revenue):")
    print("  class   SKUs    MAPE  naive   ratio     WAPE  naive   ratio")
    for e in outcome.errors:
        print(
            f"  {e.abc:<5} {e.skus:>6}  {e.mape:6.3f} {e.naive_mape:6.3f}  {e.mape / e.naive_mape:6.3f}"
            f"   {e.wape:6.3f} {e.naive_wape:6.3f}  {e.wape / e.naive_wape:6.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("bench/forecast.py runs on PostgreSQL")
    fresh_database(args.database_url)
    run(seed_database(args.database_url, args.skus, args.days, args.seed))
    run(measure(args.database_url, args.repeat))


if __name__ == "__main__":
    main()
