"""SLA sweep (SLA-2): one full sweep of the due clocks among a million running ones, and the ratio to
the bare due-index query in the same run.

    .venv/bin/python bench/sla_sweep.py [--clocks 1000000 --due-percent 1 --repeat 3 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench] [--quick]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.

Set-up: N running clocks by one INSERT … SELECT over generate_series; every (100 / due-percent)th
is past its deadline, the others are due in 1 to 31 days; then ANALYZE.
Measured, R times each (the breached clocks set running again and the alerts deleted, then VACUUM
ANALYZE, between runs); the median is printed:
  bare query  the due-index query alone: the ids of every running clock past its deadline, earliest
              first, all rows fetched, one round trip (the floor of any sweep); best of 5;
  sweep       the worker's SLA sweep with no per-kind action, as `shopflow worker` runs it: batch
              after batch of `core.sla.BATCH` clocks claimed FOR UPDATE SKIP LOCKED, marked breached,
              one alert each, committed, until none is due.
After each sweep every due clock must be breached with exactly one alert, and no other touched.
EXPLAIN shows both queries served by the partial index `ix_sla_clocks_due`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from common import fresh_database, run
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import policy, sla
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.core.sla.models import ClockState, SlaClock
from shopflow.worker import Worker

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench"
KIND = "bench.respond"  # a kind with no breach action: marking and alerting only
INDEX = "ix_sla_clocks_due"
QUERY_TRIES = 5  # the bare query is cheap: its best of five, against the noise of a shared machine

SEED = f"""
INSERT INTO sla_clocks (subject, kind, state, started_at, deadline)
SELECT 'ticket:' || g, '{KIND}', 'running', deadline - interval '48 hours', deadline
FROM (
    SELECT g, CASE WHEN g % :every = 0
        THEN CAST(:now AS timestamptz) - interval '1 second' * (1 + g % 3600)
        ELSE CAST(:now AS timestamptz) + interval '1 day' + interval '1 second' * (g % (30 * 86400))
        END AS deadline
    FROM generate_series(1, :clocks) AS g
) AS planned
"""


async def vacuum(db: Database) -> None:
    async with db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE sla_clocks, alerts"))


async def seed(db: Database, clocks: int, every: int, now: datetime) -> int:
    async with db.transaction() as session:
        await session.execute(text(SEED), {"every": every, "now": now, "clocks": clocks})
    await vacuum(db)
    return clocks // every


def due_query(now: datetime) -> object:
    return (
        select(SlaClock.id)
        .where(SlaClock.state == ClockState.RUNNING, SlaClock.deadline <= now)
        .order_by(SlaClock.deadline)
    )


async def bare_query(db: Database, now: datetime, *, index: bool = True) -> tuple[float, int]:
    """The due query's best time of QUERY_TRIES on a warm connection (its statement prepared by an
    untimed run); `index=False` makes PostgreSQL scan the table instead, for comparison."""
    async with db.transaction() as session:
        if not index:
            await session.execute(text("SET LOCAL enable_indexscan = off"))
            await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        await session.scalars(due_query(now))  # type: ignore[call-overload]
        times = []
        for _ in range(QUERY_TRIES):
            began = time.perf_counter()
            ids = (await session.scalars(due_query(now))).all()  # type: ignore[call-overload]
            times.append(time.perf_counter() - began)
        return min(times), len(ids)


async def alert_only(session: AsyncSession) -> int:
    return await sla.sweep(session, {})


async def full_sweep(db: Database) -> tuple[float, int]:
    began = time.perf_counter()
    breached = await Worker(db, interval=1.0).drain(alert_only)
    return time.perf_counter() - began, breached


async def check_and_undo(db: Database, due: int, clocks: int) -> None:
    """Every due clock breached with one alert, the rest running; then back to running."""
    async with db.transaction() as session:
        states = dict(
            (await session.execute(select(SlaClock.state, func.count()).group_by(SlaClock.state))).all()
        )
        alerts = await session.scalar(select(func.count(func.distinct(Alert.subject))).select_from(Alert))
        total_alerts = await session.scalar(select(func.count()).select_from(Alert))
        assert states == {"breached": due, "running": clocks - due}, states
        assert alerts == total_alerts == due, (alerts, total_alerts)
        await session.execute(
            text("UPDATE sla_clocks SET state = 'running', breached_at = NULL WHERE state = 'breached'")
        )
        await session.execute(text("DELETE FROM alerts"))
    await vacuum(db)


async def explain(db: Database, now: datetime) -> list[str]:
    plans = []
    async with db.engine.connect() as conn:
        for label, sql in (
            (
                "due query",
                "SELECT id FROM sla_clocks WHERE state = 'running' AND deadline <= :now ORDER BY deadline",
            ),
            (
                "sweep's claim",
                "SELECT * FROM sla_clocks WHERE state = 'running' AND deadline <= :now "
                f"ORDER BY deadline LIMIT {sla.BATCH} FOR UPDATE SKIP LOCKED",
            ),
        ):
            rows = (
                (await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), {"now": now})).scalars().all()
            )
            plan = "\n".join(f"    {row}" for row in rows)
            assert INDEX in plan, f"the {label} does not use {INDEX}:\n{plan}"
            plans.append(f"  {label}:\n{plan}")
        await conn.rollback()
    return plans


async def measure(url: str, clocks: int, due_percent: float, repeat: int) -> None:
    db = Database.from_url(url)
    every = round(100 / due_percent)
    now = datetime.now(UTC)
    try:
        began = time.perf_counter()
        due = await seed(db, clocks, every, now)
        print(f"seeded {clocks:,} running clocks, {due:,} due, in {time.perf_counter() - began:.1f} s")
        bare: list[float] = []
        swept: list[float] = []
        for _ in range(repeat):
            seconds, found = await bare_query(db, now)
            assert found == due, (found, due)
            bare.append(seconds)
            seconds, breached = await full_sweep(db)
            assert breached == due, (breached, due)
            swept.append(seconds)
            await check_and_undo(db, due, clocks)
        scanned, found = await bare_query(db, now, index=False)
        assert found == due, (found, due)
        plans = await explain(db, now)
    finally:
        await db.dispose()
    query, sweep = statistics.median(bare), statistics.median(swept)
    print(f"bare due-index query: {query * 1000:8.1f} ms  ({due:,} ids; runs: {_ms(bare)})")
    print(f"full sweep:           {sweep * 1000:8.1f} ms  ({due:,} breached + alerted; runs: {_ms(swept)})")
    print(
        f"  = {sweep / due * 1e6:.0f} µs per due clock, {due / sweep:,.0f} clocks/s, batches of {sla.BATCH}"
    )
    print(f"ratio sweep / bare query: {sweep / query:.1f}")
    print(f"(the due query without its index, a scan of all {clocks:,} clocks: {scanned * 1000:.1f} ms)")
    print("EXPLAIN (ANALYZE, BUFFERS):")
    print("\n".join(plans))


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--clocks", type=int, default=1_000_000, help="running clocks")
    parser.add_argument("--due-percent", type=float, default=1.0, help="share of them past their deadline")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs of each")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100,000 clocks, one run")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres:")):
        parser.error("the benchmark seeds with generate_series: give a PostgreSQL --database-url")
    clocks, repeat = (100_000, 1) if args.quick else (args.clocks, args.repeat)
    policy.install(policy.Policy())
    fresh_database(args.database_url)
    print(f"database: {args.database_url}")
    run(measure(args.database_url, clocks, args.due_percent, repeat))


if __name__ == "__main__":
    main()
