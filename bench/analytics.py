"""The metric dictionary at size (issue 15): the monthly metric set over the last 12 months, the
top categories and the pipeline (ANA-2) on PostgreSQL over 1,000,000 orders (3,000,000 lines), and
in the same run DuckDB computing the same aggregates over the same data exported to Parquet; the
two sets of figures must be equal.

    .venv/bin/python bench/analytics.py [--orders 1000000 --months 12 --repeat 5 --fresh \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_analytics]

Needs the `bench` extra (DuckDB and pyarrow): `.venv/bin/pip install -e '.[bench]'`.

The database named by --database-url is created when missing. Its data (bench/_analytics_seed.py
describes it: two years of orders with their lines, payments, refunds, cancellations, after-sales
cases, complaint tickets, SLA clocks, stock ledger and traffic counts, built by the server with
generate_series) is kept between runs: a rerun with the same --orders reuses it after applying
any new migration; --fresh, or another size, WIPES the database (schema public dropped and
migrated anew) and builds it again. The time the data was made (its anchor) is the clock's `now`
for every measurement, so a rerun measures the same thing.

Measured, R times each after one warm-up run, min and median printed, in-process (no HTTP):
  rollups     the worker's sweep (`analytics.rollups.refresh`) computing and storing the whole
              days, weeks and months the policy keeps (62, 27, 24), from none stored (timed once);
  metrics     `analytics.service.metric_rows` by month over the last M months (the last one cut
              at the anchor's day), and the rows rendered as the API renders them (`as_json`):
              what `GET /api/v1/analytics/metrics?from=&to=&period=month` runs, the whole past
              months read from the rollups, the current month computed; and the same computed
              directly (`metrics.compute`), which must give equal rows;
  dashboard   `analytics.service.summary` of the last whole month (the console's dashboard: the
              month, the month before it, its trend by day, top categories and SKUs), and its
              parts apart: the metric set (the month, the month before, the trend: rollups)
              and the top categories and SKUs (computed);
  categories  `analytics.service.category_sales` (top 10) over the same range
              (`GET /api/v1/analytics/categories`);
  pipeline    `analytics.service.pipeline` (`GET /api/v1/analytics/pipeline`).
Baseline: the tables the metrics read (only the columns they read) exported once by COPY … TO
STDOUT (CSV) and pyarrow to Parquet files (the export's time printed apart), then DuckDB (in
process, its default threads) computing, from the Parquet files, every metric of the set per month
— orders, sales, net sales, average order value, repurchase rate and cycle, refund, complaint,
resolution and on-time rates, SLA compliance per clock kind, gross margin, inventory turnover
(daily closing values replayed from the stock ledger), the two conversions — and the top
categories (the history holds no undated imported orders, so DuckDB's definitions leave out their
rule). Each metric's numerator and denominator from DuckDB must equal Shopflow's; a mismatch
is printed and the script exits with status 1. Printed: both timings and the ratio Shopflow /
DuckDB. Target (issue 15): the monthly metric set under 1 s on PostgreSQL. Nothing is pinned; a
busy machine makes the figures worth little.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
from _analytics_seed import CHANNELS, marker, seed
from common import CONTACT, ensure_database, fresh_database, run
from cryptography.fernet import Fernet
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from shopflow.analytics import metrics, rollups, service, summary
from shopflow.analytics.models import MetricRollup, PeriodKind, periods
from shopflow.core import clock, crypto, policy
from shopflow.core.db import Database, upgrade_schema

try:
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq
except ImportError as missing:
    sys.exit(
        f"bench/analytics.py needs DuckDB and pyarrow ({missing.name} is missing): "
        "install the bench extra with `.venv/bin/pip install -e '.[bench]'`"
    )

T = TypeVar("T")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_analytics"
TARGET_SECONDS = 1.0
TOP_CATEGORIES = 10
Figures = dict[int, dict[str, tuple[Any, Any]]]  # window -> metric -> (numerator, denominator)

TS = pa.timestamp("us")
# What the metrics read, per table: (column, its Arrow type); times as naive UTC.
EXPORT: dict[str, list[tuple[str, pa.DataType]]] = {
    "orders": [
        ("id", pa.int64()),
        ("channel", pa.string()),
        ("customer_id", pa.int64()),
        ("payment_terms", pa.string()),
        ("confirmed_at", TS),
        ("paid_at", TS),
    ],
    "order_lines": [
        ("order_id", pa.int64()),
        ("sku_id", pa.int64()),
        ("quantity", pa.int64()),
        ("unit_price", pa.int64()),
        ("discount", pa.int64()),
        ("unit_cost", pa.int64()),
    ],
    "payments": [("order_id", pa.int64()), ("amount", pa.int64()), ("status", pa.string())],
    "refunds": [
        ("order_id", pa.int64()),
        ("amount", pa.int64()),
        ("status", pa.string()),
        ("settled_at", TS),
    ],
    "tickets": [("order_id", pa.int64()), ("type", pa.string()), ("created_at", TS), ("resolved_at", TS)],
    "sla_clocks": [("kind", pa.string()), ("state", pa.string()), ("deadline", TS), ("stopped_at", TS)],
    "stock_ledger": [
        ("id", pa.int64()),
        ("sku_id", pa.int64()),
        ("warehouse_id", pa.int64()),
        ("balance_after", pa.int64()),
        ("at", TS),
    ],
    "skus": [("id", pa.int64()), ("product_id", pa.int64()), ("cost", pa.int64())],
    "products": [("id", pa.int64()), ("category_id", pa.int64())],
    "categories": [("id", pa.int64()), ("parent_id", pa.int64()), ("name", pa.string())],
    "traffic_counts": [
        ("day", pa.date32()),
        ("channel", pa.string()),
        ("visitors", pa.int64()),
        ("inquiries", pa.int64()),
    ],
}

# --- DuckDB: the metric set, each from the definitions of docs/metrics.md ------------------------

# Every time is placed in its window by an ASOF join on the windows' starts (then cut at their ends).
COUNTED = """
CREATE OR REPLACE TEMP VIEW counted AS
SELECT id, customer_id,
    CASE WHEN payment_terms IN ('net30', 'net60') THEN confirmed_at ELSE paid_at END AS counted_at
FROM orders WHERE channel <> 'exchange'
"""
PLACED = """
CREATE OR REPLACE TEMP VIEW placed AS
SELECT w.idx, w.ends, c.* FROM counted AS c ASOF JOIN windows AS w ON c.counted_at >= w.starts
WHERE c.counted_at < w.ends
"""
ORDER_FIGURES = """
WITH captured AS (SELECT order_id, sum(amount) AS amount FROM payments WHERE status = 'succeeded'
                  GROUP BY order_id),
     refunded AS (SELECT DISTINCT order_id FROM refunds WHERE status = 'succeeded'),
     complained AS (SELECT DISTINCT order_id FROM tickets WHERE type = 'complaint'),
     costs AS (SELECT order_id, sum(unit_cost * quantity) AS cost FROM order_lines GROUP BY order_id)
SELECT c.idx, count(*), coalesce(sum(captured.amount), 0), count(refunded.order_id),
    count(complained.order_id), coalesce(sum(costs.cost), 0)
FROM placed AS c
LEFT JOIN captured ON captured.order_id = c.id
LEFT JOIN refunded ON refunded.order_id = c.id
LEFT JOIN complained ON complained.order_id = c.id
LEFT JOIN costs ON costs.order_id = c.id
GROUP BY c.idx
"""
REFUNDS_SETTLED = """
SELECT w.idx, sum(r.amount)
FROM refunds AS r JOIN orders AS o ON o.id = r.order_id
ASOF JOIN windows AS w ON r.settled_at >= w.starts
WHERE r.status = 'succeeded' AND o.channel <> 'exchange' AND r.settled_at < w.ends
GROUP BY w.idx
"""
CUSTOMERS = """
WITH known AS (SELECT customer_id, counted_at FROM counted
               WHERE customer_id IS NOT NULL AND counted_at IS NOT NULL),
     second AS (SELECT customer_id, counted_at FROM (
         SELECT customer_id, counted_at,
             row_number() OVER (PARTITION BY customer_id ORDER BY counted_at) AS n
         FROM known
     ) WHERE n = 2),
     bought AS (SELECT DISTINCT idx, ends, customer_id FROM placed WHERE customer_id IS NOT NULL)
SELECT b.idx, count(*), count(*) FILTER (WHERE s.counted_at < b.ends)
FROM bought AS b LEFT JOIN second AS s ON s.customer_id = b.customer_id
GROUP BY b.idx
"""
CYCLES = """
WITH gaps AS (
    SELECT counted_at,
        epoch_us(counted_at)
            - epoch_us(lag(counted_at) OVER (PARTITION BY customer_id ORDER BY counted_at)) AS us
    FROM counted WHERE customer_id IS NOT NULL AND counted_at < (SELECT max(ends) FROM windows)
)
SELECT w.idx, sum(g.us / 86400e6), count(*)
FROM gaps AS g ASOF JOIN windows AS w ON g.counted_at >= w.starts
WHERE g.us IS NOT NULL AND g.counted_at < w.ends
GROUP BY w.idx
"""
COMPLAINTS = """
SELECT c.idx, count(*), count(t.resolved_at),
    count(*) FILTER (WHERE t.resolved_at - t.created_at <= to_hours(CAST($hours AS BIGINT)))
FROM placed AS c JOIN tickets AS t ON t.order_id = c.id AND t.type = 'complaint'
GROUP BY c.idx
"""
CLOCKS = """
SELECT w.idx, k.kind,
    count(*) FILTER (WHERE k.state = 'met' AND k.stopped_at <= k.deadline),
    count(*) FILTER (WHERE k.state = 'breached' OR (k.state = 'met' AND NOT (k.stopped_at <= k.deadline))
                     OR (k.state = 'running' AND k.deadline <= $now))
FROM sla_clocks AS k ASOF JOIN windows AS w ON k.deadline >= w.starts
WHERE k.deadline < w.ends
GROUP BY w.idx, k.kind
"""
TRAFFIC = """
SELECT w.idx, sum(t.visitors), sum(t.inquiries)
FROM traffic_counts AS t JOIN windows AS w ON t.day BETWEEN w.first_day AND w.last_day
GROUP BY w.idx
"""
# The closing inventory value of each store day: every movement's change of its (SKU, warehouse)
# balance valued at the SKU's cost, placed on its store day (an ASOF join on the days' starts; the
# first day also takes every movement before it) and summed up to each day's end.
INVENTORY = """
WITH moves AS (
    SELECT l."at", (l.balance_after - coalesce(lag(l.balance_after) OVER (
        PARTITION BY l.sku_id, l.warehouse_id ORDER BY l."at", l.id), 0)) * s.cost AS delta
    FROM stock_ledger AS l JOIN skus AS s ON s.id = l.sku_id
    WHERE l."at" < $before
), placed AS (
    SELECT d.day, m.delta FROM moves AS m ASOF JOIN days AS d ON m."at" >= d.starts
), daily AS (
    SELECT d.day, coalesce(sum(p.delta), 0) AS delta
    FROM days AS d LEFT JOIN placed AS p ON p.day = d.day
    GROUP BY d.day
)
SELECT day, CAST(sum(delta) OVER (ORDER BY day) AS BIGINT) FROM daily ORDER BY day
"""
CATEGORIES = """
SELECT c.name, parent.name, sum(l.unit_price * l.quantity - l.discount) AS sales, count(DISTINCT o.id)
FROM counted AS o JOIN order_lines AS l ON l.order_id = o.id
JOIN skus AS s ON s.id = l.sku_id JOIN products AS p ON p.id = s.product_id
LEFT JOIN categories AS c ON c.id = p.category_id LEFT JOIN categories AS parent ON parent.id = c.parent_id
WHERE o.counted_at >= $starts AND o.counted_at < $ends
GROUP BY c.id, c.name, parent.name
ORDER BY sales DESC, c.name
LIMIT $limit
"""


@dataclass(frozen=True, slots=True)
class Window:
    idx: int
    first: date
    last: date
    starts: datetime  # UTC
    ends: datetime


def windows(first: date, last: date, zone: ZoneInfo) -> list[Window]:
    """The months of `first`..`last` with their UTC bounds, cut at the store's midnights."""

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    return [
        Window(i, p.first, p.last, midnight(p.first), midnight(p.last + timedelta(days=1)))
        for i, p in enumerate(periods(first, last, PeriodKind.MONTH))
    ]


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def duck_figures(
    con: duckdb.DuckDBPyConnection, cut: list[Window], now: datetime, today: date, zone: ZoneInfo
) -> tuple[Figures, list[tuple[str | None, str | None, int, int]]]:
    """Every metric's (numerator, denominator) per window, and the top categories over the whole
    range, computed by DuckDB from the Parquet views."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE windows (idx INT, first_day DATE, last_day DATE, "
        "starts TIMESTAMP, ends TIMESTAMP)"
    )
    con.executemany(
        "INSERT INTO windows VALUES (?, ?, ?, ?, ?)",
        [(w.idx, w.first, w.last, _naive(w.starts), _naive(w.ends)) for w in cut],
    )
    stock_days = [
        cut[0].first + timedelta(days=n) for n in range((min(cut[-1].last, today) - cut[0].first).days + 1)
    ]
    con.execute("CREATE OR REPLACE TEMP TABLE days (day DATE, starts TIMESTAMP, ends TIMESTAMP)")
    con.executemany(
        "INSERT INTO days VALUES (?, ?, ?)",
        [
            (
                d,
                datetime(1900, 1, 1) if i == 0 else _naive(datetime(d.year, d.month, d.day, tzinfo=zone)),
                _naive(datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=zone)),
            )
            for i, d in enumerate(stock_days)
        ],
    )
    con.execute(COUNTED)
    con.execute(PLACED)
    orders = {i: rest for i, *rest in con.execute(ORDER_FIGURES).fetchall()}
    refunds = dict(con.execute(REFUNDS_SETTLED).fetchall())
    buyers = {i: (n, r) for i, n, r in con.execute(CUSTOMERS).fetchall()}
    cycles = {i: (s, n) for i, s, n in con.execute(CYCLES).fetchall()}
    hours = policy.current().analytics.resolution_within_hours
    complaints = {i: rest for i, *rest in con.execute(COMPLAINTS, {"hours": hours}).fetchall()}
    clocks: dict[int, dict[str, tuple[int, int]]] = {}
    for i, kind, met, missed in con.execute(CLOCKS, {"now": _naive(now)}).fetchall():
        clocks.setdefault(i, {})[kind] = (met, met + missed)
    traffic = {i: (v, q) for i, v, q in con.execute(TRAFFIC).fetchall()}
    before = _naive(min(cut[-1].ends, now))
    daily = dict(con.execute(INVENTORY, {"before": before}).fetchall())
    found: Figures = {}
    for w in cut:
        n, sales, refunded, complained, cogs = orders.get(w.idx, (0, 0, 0, 0, 0))
        net = sales - int(refunds.get(w.idx) or 0)
        customers, repeat = buyers.get(w.idx, (0, 0))
        gap_days, gaps = cycles.get(w.idx, (0.0, 0))
        tickets, resolved, quick = complaints.get(w.idx, (0, 0, 0))
        values = [v for d, v in daily.items() if w.first <= d <= w.last]
        mean = (Decimal(sum(values)) / len(values) if values else Decimal(0)).quantize(Decimal("1"))
        visitors, inquiries = traffic.get(w.idx, (0, 0))
        kinds = clocks.get(w.idx, {})
        found[w.idx] = {
            "orders": (n, None),
            "sales": (sales, None),
            "net_sales": (net, None),
            "average_order_value": (sales, n),
            "repurchase_rate": (repeat, customers),
            "repurchase_cycle_days": (round(gap_days, 6), gaps),
            "refund_rate": (refunded, n),
            "complaint_rate": (complained, n),
            "complaint_resolution_rate": (resolved, tickets),
            "resolution_24h_rate": (quick, tickets),
            "on_time_shipment_rate": kinds.get("order.ship", (0, 0)),
            "on_time_delivery_rate": kinds.get("order.deliver", (0, 0)),
            "gross_margin": (net - cogs, net),
            "inventory_turnover": (cogs, mean),
            "traffic_conversion": (int(inquiries), int(visitors)),
            "order_conversion": (customers, int(inquiries)),
            **{f"sla_compliance.{k}": v for k, v in kinds.items()},
        }
    top = con.execute(
        CATEGORIES, {"starts": _naive(cut[0].starts), "ends": _naive(cut[-1].ends), "limit": TOP_CATEGORIES}
    ).fetchall()
    return found, [(c, p, int(s), int(n)) for c, p, s, n in top]


def shopflow_figures(rows: list[metrics.Row]) -> Figures:
    return {
        i: {name: (m.numerator, m.denominator) for name, m in row.metrics.items()}
        for i, row in enumerate(rows)
    }


def mismatches(ours: Figures, theirs: Figures, cut: list[Window]) -> list[str]:
    """Every metric whose numerator or denominator differs (the cycle's day sums to 1e-4)."""
    found = []
    for w in cut:
        mine, duck = ours.get(w.idx, {}), theirs.get(w.idx, {})
        for name in sorted(set(mine) | set(duck)):
            a, b = mine.get(name), duck.get(name)
            if a is None or b is None:
                found.append(f"{w.first:%Y-%m} {name}: Shopflow {a}, DuckDB {b}")
                continue
            if name == "repurchase_cycle_days":
                same = abs(Decimal(a[0]) - Decimal(str(b[0]))) < Decimal("0.0001") and a[1] == b[1]
            else:
                same = all(
                    (x is None and y is None)
                    or (x is not None and y is not None and Decimal(x) == Decimal(y))
                    for x, y in zip(a, b, strict=True)
                )
            if not same:
                found.append(f"{w.first:%Y-%m} {name}: Shopflow {a}, DuckDB {b}")
    return found


# --- measuring -------------------------------------------------------------------------------------


async def timed(work: Callable[[], Awaitable[T]], repeat: int) -> tuple[list[float], T]:
    """`work` once to warm up, then `repeat` times; the times and the last result."""
    result = await work()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - began)
    return times, result


def timed_sync(work: Callable[[], T], repeat: int) -> tuple[list[float], T]:
    result = work()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return times, result


async def export(url: str, target: Path) -> dict[str, int]:
    """Each table's exported columns to `target/<table>.parquet` (COPY … TO STDOUT as CSV, read
    and written by pyarrow); rows per table."""
    conn = await asyncpg.connect(_dsn(url))
    rows = {}
    try:
        await conn.execute("SET TimeZone = 'UTC'")
        for table, columns in EXPORT.items():
            selected = ", ".join(
                f"{name} AT TIME ZONE 'UTC' AS {name}" if kind == TS else name for name, kind in columns
            )
            csv = target / f"{table}.csv"
            await conn.copy_from_query(
                f"SELECT {selected} FROM {table}", output=str(csv), format="csv", header=True
            )
            options = pa_csv.ConvertOptions(column_types=dict(columns), strings_can_be_null=True)
            data = pa_csv.read_csv(csv, convert_options=options)
            pq.write_table(data, target / f"{table}.parquet")
            csv.unlink()
            rows[table] = data.num_rows
    finally:
        await conn.close()
    return rows


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _found(url: str) -> tuple[int, datetime] | None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return await marker(conn)
    finally:
        await conn.close()


async def _seed(url: str, orders: int, anchor: datetime) -> float:
    began = time.perf_counter()
    conn = await asyncpg.connect(_dsn(url))
    try:
        await seed(conn, orders, anchor, crypto.vault().seal(CONTACT), 0.0)
        await conn.execute("VACUUM ANALYZE")
        seconds = time.perf_counter() - began
        await conn.execute("UPDATE bench_analytics_data SET seeded_seconds = $1", seconds)
    finally:
        await conn.close()
    return seconds


def prepare(url: str, orders: int, fresh: bool) -> datetime:
    """The data of `orders` orders, reused when there (migrated to the head first) unless `fresh`;
    its anchor."""
    ensure_database(url)
    found = run(_found(url))
    if found is not None and found[0] == orders and not fresh:
        upgrade_schema(url)
        print(f"reusing the data of {orders:,} orders made at {found[1]:%Y-%m-%d %H:%M} UTC (--fresh: anew)")
        return found[1]
    fresh_database(url)
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    seconds = run(_seed(url, orders, anchor))
    print(f"made the data of {orders:,} orders in {seconds:.0f} s")
    return anchor


async def sizes(url: str) -> str:
    conn = await asyncpg.connect(_dsn(url))
    try:
        counts = [
            (t, await conn.fetchval(f"SELECT count(*) FROM {t}"))
            for t in ("orders", "order_lines", "payments", "refunds", "tickets", "sla_clocks", "stock_ledger")
        ]
    finally:
        await conn.close()
    return ", ".join(f"{t} {n:,}" for t, n in counts)


def _ms(values: list[float]) -> str:
    return f"min {min(values) * 1000:9.1f} ms  median {statistics.median(values) * 1000:9.1f} ms"


async def measure(args: argparse.Namespace, anchor: datetime) -> int:
    url = args.database_url
    print(f"sizes: {await sizes(url)}")
    zone = clock.store_zone()
    last = anchor.astimezone(zone).date()
    first = date(last.year, last.month, 1)
    for _ in range(args.months - 1):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    cut = windows(first, last, zone)
    before = date(last.year, last.month, 1) - timedelta(days=1)
    last_month = (before.replace(day=1), before)  # the dashboard of the last whole month
    db = Database.from_url(url)
    try:
        with clock.use(lambda: anchor):

            async def refresh() -> int:
                async with db.transaction() as session:
                    await session.execute(delete(MetricRollup))
                    return await rollups.refresh(session)

            async def monthly() -> tuple[list[metrics.Row], list[dict[str, object]]]:
                async with db.transaction() as session:
                    rows = await service.metric_rows(session, first, last, None, PeriodKind.MONTH)
                return rows, [metrics.as_json(r) for r in rows]

            async def direct() -> list[metrics.Row]:
                async with db.transaction() as session:
                    return await metrics.compute(session, first, last, None, PeriodKind.MONTH)

            async def dashboard() -> summary.Summary:
                async with db.transaction() as session:
                    return await service.summary(session, *last_month, None)

            async def sellers() -> None:
                async with db.transaction() as session:
                    await service.category_sales(session, *last_month, TOP_CATEGORIES)
                    await service.sku_sales(session, *last_month, TOP_CATEGORIES)

            async def categories() -> list[metrics.CategorySales]:
                async with db.transaction() as session:
                    return await service.category_sales(session, first, last, TOP_CATEGORIES)

            async def pipeline() -> dict[str, Any]:
                async with db.transaction() as session:
                    return await service.pipeline(session)

            refresh_times, kept = await timed(refresh, 1)
            metric_times, (rows, _) = await timed(monthly, args.repeat)
            direct_times, computed = await timed(direct, args.repeat)
            dashboard_times, _ = await timed(dashboard, args.repeat)
            seller_times, _ = await timed(sellers, args.repeat)
            category_times, top = await timed(categories, args.repeat)
            pipeline_times, stages = await timed(pipeline, args.repeat)
    finally:
        await db.dispose()

    with tempfile.TemporaryDirectory(prefix="shopflow-bench-analytics-") as folder:
        target = Path(folder)
        began = time.perf_counter()
        exported = await export(url, target)
        export_seconds = time.perf_counter() - began
        con = duckdb.connect()
        for table in EXPORT:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{target / table}.parquet')")
        today = anchor.astimezone(zone).date()
        duck_times, (duck, duck_top) = timed_sync(
            lambda: duck_figures(con, cut, anchor, today, zone), args.repeat
        )
        con.close()

    print(
        f"range: {first} .. {last} by month ({len(cut)} months), store zone {zone.key}, "
        f"now = {anchor:%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"exported {sum(exported.values()):,} rows of {len(exported)} tables to Parquet "
        f"in {export_seconds:.1f} s"
    )
    late = {name: sum(s.late for s in found) for name, found in stages.items()}
    print(
        f"PostgreSQL  worker's rollup sweep:  {_ms(refresh_times)}  ({kept} whole days, weeks and "
        "months, computed and stored once)"
    )
    print(
        f"PostgreSQL  metric set by month:   {_ms(metric_times)}  "
        f"({len(rows)} rows x {len(rows[0].metrics)} metrics; "
        f"{len(rows) - 1} from rollups, {last:%Y-%m} computed)"
    )
    print(f"PostgreSQL  the same, all computed: {_ms(direct_times)}")
    print(f"PostgreSQL  dashboard of {last_month[0]:%Y-%m}:  {_ms(dashboard_times)}  (service.summary)")
    print(f"PostgreSQL    of which top categories and SKUs: {_ms(seller_times)}")
    print(f"PostgreSQL  top {TOP_CATEGORIES} categories:     {_ms(category_times)}")
    print(f"PostgreSQL  pipeline:              {_ms(pipeline_times)}  (late: {late})")
    print(f"DuckDB      metric set + categories: {_ms(duck_times)}  (from Parquet, {duckdb.__version__})")
    shopflow = statistics.median(metric_times) + statistics.median(category_times)
    ratio = shopflow / statistics.median(duck_times)
    print(f"ratio PostgreSQL (metric set + categories) / DuckDB: {ratio:.1f}")
    verdict = "met" if statistics.median(metric_times) < TARGET_SECONDS else "NOT met"
    print(f"target: metric set under {TARGET_SECONDS:.0f} s on PostgreSQL: {verdict}")

    wrong = mismatches(shopflow_figures(rows), duck, cut)
    if rows != computed:
        wrong.append("the metric set read from rollups differs from the one computed directly")
    ours_top = [(c.category, c.sales, c.orders) for c in top]
    theirs_top = [(None if c is None else c if p is None else f"{p} / {c}", s, n) for c, p, s, n in duck_top]
    if ours_top != theirs_top:
        wrong.append(f"top categories: Shopflow {ours_top}, DuckDB {theirs_top}")
    if wrong:
        print(f"\nMISMATCH: {len(wrong)} figures differ between Shopflow and DuckDB:", file=sys.stderr)
        for line in wrong:
            print(f"  {line}", file=sys.stderr)
        return 1
    checked = sum(len(m) for m in duck.values())
    print(
        f"check: {checked} figures (numerator and denominator) of {len(cut)} months "
        "and the top categories equal"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders of the history (3 lines each)")
    parser.add_argument(
        "--months", type=int, default=12, help="months of the metric set, the last one current"
    )
    parser.add_argument("--repeat", type=int, default=5, help="measured runs of each, after one warm-up run")
    parser.add_argument("--fresh", action="store_true", help="WIPE the database and make the data again")
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="a PostgreSQL database to keep the data in"
    )
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres:")):
        parser.error("the benchmark seeds with generate_series: give a PostgreSQL --database-url")
    if args.orders < 1000 or args.months < 1 or args.repeat < 1:
        parser.error("at least 1,000 orders, one month and one run")
    policy.install(policy.Policy(orders=policy.Orders(channels=CHANNELS)))
    crypto.install(Fernet.generate_key())
    print(f"database: {args.database_url}")
    anchor = prepare(args.database_url, args.orders, args.fresh)
    sys.exit(run(measure(args, anchor)))


if __name__ == "__main__":
    main()
