"""The metric set's rollups (ANA-1 at size, `analytics.rollups`) on the hand-built store (March
and April 2030, `tests.builders.analytics`), read on Monday 2030-06-10: the worker's sweep stores
each whole past day, ISO week and month the policy keeps as the direct computation gives it; a
request reads such a period from its rollup while it is younger than
`analytics.rollup_max_age_minutes`, and computes every other period; a change to a rolled-up
period shows once the worker computes it again."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import func, select, update

from shopflow import worker
from shopflow.analytics import metrics, rollups, summary
from shopflow.analytics.models import MetricRollup, PeriodKind
from shopflow.core import clock, policy
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.orders.models import OrderLine
from tests.builders.analytics import local

NOW = local("2030-06-10", 12)
# The policy's 62 days (2030-04-09 .. 06-09), 27 ISO weeks (2029-W49 .. 2030-W23), 24 months.
KEPT = 62 + 27 + 24
MAX_AGE = timedelta(minutes=policy.Analytics().rollup_max_age_minutes)


async def both(db: Database, first: date, last: date, kind: PeriodKind | None) -> tuple[list, list]:
    """The rows as a request reads them (rollups while fresh) and as computed directly."""
    async with db.transaction() as session:
        read = await rollups.compute(session, first, last, None, kind)
        direct = await metrics.compute(session, first, last, None, kind)
    return read, direct


async def sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS["analytics.rollups"](session)


async def tamper(db: Database, first: date, kind: PeriodKind = PeriodKind.MONTH) -> None:
    """Store a period's rollup with 999 orders, so a test sees whether a request read it."""
    key = (MetricRollup.kind == kind, MetricRollup.first == first)
    async with db.transaction() as session:
        stored = await session.scalar(select(MetricRollup.metrics).where(*key))
        stored = [
            m if m[0] != "orders" else ["orders", "999", "999", None, "count", "count", "count"]
            for m in stored
        ]
        await session.execute(update(MetricRollup).where(*key).values(metrics=stored))


def orders(rows: list[metrics.Row]) -> list[int | None]:
    return [metrics.shown(r.metrics["orders"]) for r in rows]  # type: ignore[misc]


async def test_the_sweep_keeps_each_whole_past_month_equal_to_the_direct_computation(
    db: Database, store: dict[str, str]
) -> None:
    fake = FakeClock(NOW)
    with clock.use(fake):
        assert await sweep(db) == KEPT
        assert await sweep(db) == 0  # all fresh: nothing due
        async with db.transaction() as session:
            kept = await session.scalar(select(func.count()).select_from(MetricRollup))
        read, direct = await both(db, date(2030, 3, 1), date(2030, 6, 10), PeriodKind.MONTH)

        assert kept == KEPT
        assert read == direct
        assert [list(r.metrics) for r in read] == [list(r.metrics) for r in direct]  # the API's order
        assert [r.period for r in read] == ["2030-03", "2030-04", "2030-05", "2030-06"]
        assert orders(read) == [2, 2, 0, 0]
        # Read, not computed: a rollup changed behind the worker's back is what April shows.
        await tamper(db, date(2030, 4, 1))
        read, direct = await both(db, date(2030, 3, 1), date(2030, 5, 31), PeriodKind.MONTH)
        assert orders(read) == [2, 999, 0]
        assert orders(direct) == [2, 2, 0]
        # One whole month as the range's single row (the dashboard's "last month") reads it too.
        read, _ = await both(db, date(2030, 4, 1), date(2030, 4, 30), None)
        assert (read[0].period, orders(read)) == ("all", [999])
        # A part of a month: computed.
        read, direct = await both(db, date(2030, 4, 2), date(2030, 4, 30), PeriodKind.MONTH)
        assert read == direct and orders(read) == [1]


async def test_whole_days_and_weeks_are_read_from_their_rollups_too(
    db: Database, store: dict[str, str]
) -> None:
    with clock.use(FakeClock(NOW)):
        await sweep(db)
        read, direct = await both(db, date(2030, 4, 9), date(2030, 6, 10), PeriodKind.DAY)
        assert read == direct and len(read) == 63
        read, direct = await both(db, date(2029, 12, 10), date(2030, 6, 10), PeriodKind.WEEK)
        assert read == direct and [r.period for r in read][:2] == ["2029-W50", "2029-W51"]
        await tamper(db, date(2030, 5, 6), PeriodKind.DAY)
        await tamper(db, date(2030, 5, 6), PeriodKind.WEEK)  # Monday of 2030-W19
        days, _ = await both(db, date(2030, 5, 5), date(2030, 5, 7), PeriodKind.DAY)
        weeks, _ = await both(db, date(2030, 5, 6), date(2030, 5, 19), PeriodKind.WEEK)
        single, _ = await both(db, date(2030, 5, 6), date(2030, 5, 12), None)  # one whole week
        today, direct = await both(db, date(2030, 6, 10), date(2030, 6, 10), PeriodKind.DAY)
        older, computed = await both(db, date(2030, 4, 8), date(2030, 4, 8), None)  # beyond 62 days

    assert orders(days) == [0, 999, 0]
    assert orders(weeks) == [999, 0]
    assert orders(single) == [999]
    assert today == direct and older == computed  # today is not over; 04-08 is not kept


def test_a_calendar_month_is_compared_with_the_month_before_any_other_range_with_as_many_days() -> None:
    assert summary.previous_range(date(2030, 3, 1), date(2030, 3, 31)) == (
        date(2030, 2, 1),
        date(2030, 2, 28),
    )
    assert summary.previous_range(date(2030, 3, 2), date(2030, 3, 31)) == (
        date(2030, 1, 31),
        date(2030, 3, 1),
    )
    assert summary.previous_range(date(2030, 3, 4), date(2030, 3, 10)) == (
        date(2030, 2, 25),
        date(2030, 3, 3),
    )


async def test_a_change_to_a_rolled_up_month_shows_once_the_worker_computes_it_again(
    db: Database, store: dict[str, str]
) -> None:
    fake = FakeClock(NOW)
    with clock.use(fake):
        await sweep(db)
        async with db.transaction() as session:  # April's lines cost 10.00 more each
            await session.execute(
                update(OrderLine)
                .where(OrderLine.id.in_(select(OrderLine.id).where(OrderLine.unit_cost == 5000)))
                .values(unit_cost=6000)
            )
        read, direct = await both(db, date(2030, 3, 1), date(2030, 5, 31), PeriodKind.MONTH)
        margins = [metrics.shown(r.metrics["gross_margin"]) for r in direct]
        assert margins != [metrics.shown(r.metrics["gross_margin"]) for r in read]  # still the rollup's

        fake.advance(seconds=MAX_AGE.total_seconds() / 2 - 1)
        assert await sweep(db) == 0  # younger than half the maximum age: kept
        fake.advance(seconds=2)
        assert await sweep(db) == KEPT  # computed again
        read, direct = await both(db, date(2030, 3, 1), date(2030, 5, 31), PeriodKind.MONTH)
        assert read == direct
        assert [metrics.shown(r.metrics["gross_margin"]) for r in read] == margins


async def test_a_rollup_older_than_the_maximum_age_is_never_read(db: Database, store: dict[str, str]) -> None:
    fake = FakeClock(NOW)
    with clock.use(fake):
        await sweep(db)
        await tamper(db, date(2030, 4, 1))
        read, _ = await both(db, date(2030, 4, 1), date(2030, 4, 30), PeriodKind.MONTH)
        assert orders(read) == [999]
        fake.advance(seconds=MAX_AGE.total_seconds() + 1)  # the worker stopped
        read, direct = await both(db, date(2030, 4, 1), date(2030, 4, 30), PeriodKind.MONTH)
        assert read == direct and orders(read) == [2]


async def test_no_rollups_when_the_policy_keeps_none(db: Database, store: dict[str, str]) -> None:
    none_kept = policy.Analytics(rollup_days=0, rollup_weeks=0, rollup_months=0)
    for rules in (none_kept, policy.Analytics(rollup_max_age_minutes=0)):
        policy.install(policy.Policy(analytics=rules))
        with clock.use(lambda: NOW):
            assert await sweep(db) == 0
            async with db.transaction() as session:
                assert await session.scalar(select(func.count()).select_from(MetricRollup)) == 0


async def test_the_api_reads_the_months_the_worker_keeps(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    query = {"from": "2030-03-01", "to": "2030-06-10", "period": "month"}
    with clock.use(lambda: NOW):
        before = await client.get("/api/v1/analytics/metrics", params=query, headers=store)
        handled = await worker.Worker(db, interval=1.0).drain(worker.SWEEPS["analytics.rollups"])
        after = await client.get("/api/v1/analytics/metrics", params=query, headers=store)
        await tamper(db, date(2030, 3, 1))
        tampered = await client.get("/api/v1/analytics/metrics", params=query, headers=store)

    assert handled == KEPT
    assert before.status_code == after.status_code == 200
    assert after.json() == before.json()
    assert [r["metrics"]["orders"]["value"] for r in tampered.json()["rows"]] == [999, 2, 0, 0]
