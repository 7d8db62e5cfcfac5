"""SLA clocks in business time (SLA-1, issue 14): started by `sla.start_for` for a kind the policy
puts in business time, paused across closing time, resumed with the time used, breached exactly
at the deadline, recomputed when the calendar changes while they run.

Policy calendar here: Asia/Shanghai (UTC+8), Monday to Friday 09:00–12:00 and 13:30–21:00 local
(01:00–04:00 and 05:30–13:00 UTC), weekends closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core import audit, clock, policy, sla
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.sla.models import ClockState, SlaClock
from tests.builders.rows import alerts_for, audit_rows

KIND = "test.resolve"
CALENDAR = {"hours": {"sat": [], "sun": []}}


def u(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def business_policy() -> None:
    policy.install(policy.validate({"calendar": CALENDAR, "sla": {"basis": {KIND: "business"}}}))


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(u("2026-12-07 12:00"))  # Monday 20:00 local
    with clock.use(fake):
        yield fake


async def the_clock(db: Database, subject: str = "ticket:1", kind: str = KIND) -> SlaClock:
    async with db.transaction() as session:
        [found] = [c for c in await sla.of_subject(session, subject) if c.kind == kind]
        return found


async def start(db: Database, hours: float, kind: str = KIND) -> None:
    async with db.transaction() as session:
        await sla.start_for(session, "ticket:1", kind, timedelta(hours=hours))


async def sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await sla.sweep(session, {})


async def recompute(db: Database) -> int:
    async with db.transaction() as session:
        return await sla.recompute(session)


async def test_a_kind_in_calendar_time_runs_wall_clock_hours(db: Database, now: FakeClock) -> None:
    await start(db, 2, kind="test.other")

    found = await the_clock(db, kind="test.other")
    assert found.deadline == u("2026-12-07 14:00")
    assert (found.budget_seconds, found.used_seconds, found.calendar) == (None, None, None)


async def test_a_business_kind_skips_the_night(db: Database, now: FakeClock) -> None:
    await start(db, 2)  # Monday 20:00 + 2 business hours: 1 h today, 1 h from Tuesday 09:00

    found = await the_clock(db)
    assert found.deadline == u("2026-12-08 02:00")
    assert (found.budget_seconds, found.used_seconds, found.resumed_at) == (7200, 0, now.current)


async def test_a_pause_across_closing_keeps_the_business_time_used(db: Database, now: FakeClock) -> None:
    await start(db, 2)
    now.advance(minutes=45)  # Monday 20:45: 45 min used
    async with db.transaction() as session:
        await sla.pause(session, "ticket:1", KIND)
    paused = await the_clock(db)
    assert (paused.state, paused.used_seconds) == (ClockState.PAUSED, 45 * 60)
    assert paused.seconds_left(now.current) == 75 * 60

    now.current = u("2026-12-08 02:00")  # Tuesday 10:00: the customer answers
    async with db.transaction() as session:
        await sla.resume(session, "ticket:1", KIND)

    resumed = await the_clock(db)
    assert resumed.state == ClockState.RUNNING
    assert resumed.deadline == u("2026-12-08 03:15")  # 75 min left from 10:00
    assert resumed.resumed_at == u("2026-12-08 02:00")


async def test_a_pause_and_resume_over_the_weekend_and_lunch(db: Database, now: FakeClock) -> None:
    now.current = u("2026-12-11 03:00")  # Friday 11:00
    await start(db, 2)
    now.current = u("2026-12-11 06:00")  # Friday 14:00: 1 h + 30 min used
    async with db.transaction() as session:
        await sla.pause(session, "ticket:1", KIND)
    now.current = u("2026-12-12 06:00")  # resumed on Saturday: counts from Monday 09:00
    async with db.transaction() as session:
        await sla.resume(session, "ticket:1", KIND)

    assert (await the_clock(db)).deadline == u("2026-12-14 01:30")


async def test_the_sweep_breaches_a_business_clock_exactly_at_its_deadline(
    db: Database, now: FakeClock
) -> None:
    # The house's rule (`sla.is_late`, the due index): a running clock is late once deadline <= now.
    await start(db, 2)
    now.current = u("2026-12-08 02:00") - timedelta(seconds=1)
    assert await sweep(db) == 0
    assert not sla.is_late(await the_clock(db), now.current)

    now.current = u("2026-12-08 02:00")
    assert sla.is_late(await the_clock(db), now.current)
    assert await sweep(db) == 1
    assert (await the_clock(db)).state == ClockState.BREACHED
    assert len(await alerts_for(db, "ticket:1")) == 1


async def test_a_calendar_change_while_running_moves_the_deadline_audited(
    db: Database, now: FakeClock
) -> None:
    await start(db, 2)  # due Tuesday 10:00
    assert await recompute(db) == 0  # nothing changed

    policy.install(
        policy.validate(
            {"calendar": CALENDAR | {"holidays": ["2026-12-08"]}, "sla": {"basis": {KIND: "business"}}}
        )
    )
    assert await recompute(db) == 1
    assert await recompute(db) == 0  # done once

    found = await the_clock(db)
    assert found.deadline == u("2026-12-09 02:00")  # Tuesday is a holiday now: Wednesday 10:00
    async with db.transaction() as session:
        [entry] = await audit.trail(session, "sla_clock", found.id)
    assert entry.action == "sla.recomputed"
    assert entry.before is not None and entry.after is not None
    assert entry.before["deadline"] == "2026-12-08T02:00:00+00:00"
    assert entry.after["deadline"] == "2026-12-09T02:00:00+00:00"


async def test_a_calendar_change_keeps_the_time_used_before_a_pause(db: Database, now: FakeClock) -> None:
    await start(db, 2)
    now.advance(minutes=30)  # Monday 20:30: 30 min used
    async with db.transaction() as session:
        await sla.pause(session, "ticket:1", KIND)
    now.current = u("2026-12-08 02:00")  # Tuesday 10:00
    async with db.transaction() as session:
        await sla.resume(session, "ticket:1", KIND)  # 90 min left: due 11:30

    policy.install(
        policy.validate(
            {
                "calendar": {"hours": {"sat": [], "sun": [], "tue": ["10:00-11:00", "14:00-21:00"]}},
                "sla": {"basis": {KIND: "business"}},
            }
        )
    )
    assert await recompute(db) == 1

    # 90 min from Tuesday 10:00 under the new hours: 10:00–11:00, then 14:00–14:30.
    assert (await the_clock(db)).deadline == u("2026-12-08 06:30")


async def test_a_stopped_business_clock_is_not_recomputed(db: Database, now: FakeClock) -> None:
    await start(db, 2)
    async with db.transaction() as session:
        await sla.stop(session, "ticket:1", KIND)
    policy.install(
        policy.validate({"calendar": {"hours": {"mon": []}}, "sla": {"basis": {KIND: "business"}}})
    )

    assert await recompute(db) == 0
    assert (await the_clock(db)).state == ClockState.MET


async def test_a_clock_paused_past_its_deadline_resumes_due_at_once_and_survives_a_recompute(
    db: Database, now: FakeClock
) -> None:
    await start(db, 0.5)  # Monday 20:00 + 30 min: due 20:30
    now.advance(minutes=50)  # paused at 20:50, before any sweep: 50 min used of 30
    async with db.transaction() as session:
        await sla.pause(session, "ticket:1", KIND)
    assert (await the_clock(db)).seconds_left(now.current) == 0

    now.current = u("2026-12-08 02:00")  # Tuesday 10:00
    async with db.transaction() as session:
        await sla.resume(session, "ticket:1", KIND)
    policy.install(
        policy.validate({"calendar": {"hours": {"sun": []}}, "sla": {"basis": {KIND: "business"}}})
    )

    assert await recompute(db) == 1
    found = await the_clock(db)
    assert found.deadline == u("2026-12-08 02:00")
    assert sla.is_late(found, now.current)


async def test_stop_records_the_business_time_used_and_reopen_resumes_with_it(
    db: Database, now: FakeClock
) -> None:
    await start(db, 2)
    now.advance(minutes=40)  # Monday 20:40: 40 min used
    async with db.transaction() as session:
        await sla.stop(session, "ticket:1", KIND)
    assert (await the_clock(db)).used_seconds == 40 * 60

    now.current = u("2026-12-08 02:00")  # Tuesday 10:00
    async with db.transaction() as session:
        await sla.reopen(session, "ticket:1", KIND, timedelta(hours=2))

    found = await the_clock(db)
    assert (found.state, found.deadline, found.stopped_at) == (
        ClockState.RUNNING,
        u("2026-12-08 03:20"),
        None,
    )
    assert (found.used_seconds, found.resumed_at) == (40 * 60, now.current)


async def test_reopen_leaves_an_open_clock_and_starts_a_missing_one(db: Database, now: FakeClock) -> None:
    await start(db, 2)
    now.advance(minutes=30)
    async with db.transaction() as session:
        await sla.reopen(session, "ticket:1", KIND, timedelta(hours=2))
        await sla.reopen(session, "ticket:1", "test.other", timedelta(hours=2))

    assert (await the_clock(db)).deadline == u("2026-12-08 02:00")  # untouched
    assert (await the_clock(db, kind="test.other")).deadline == now.current + timedelta(hours=2)


async def test_a_calendar_clock_reopened_under_a_business_basis_keeps_its_used_time(
    db: Database, now: FakeClock
) -> None:
    await start(db, 2, kind="test.other")  # calendar time
    now.advance(minutes=30)
    async with db.transaction() as session:
        await sla.stop(session, "ticket:1", "test.other")
    policy.install(
        policy.validate(
            {"calendar": CALENDAR, "sla": {"basis": {KIND: "business", "test.other": "business"}}}
        )
    )
    now.current = u("2026-12-08 02:00")  # Tuesday 10:00

    async with db.transaction() as session:
        await sla.reopen(session, "ticket:1", "test.other", timedelta(hours=2))

    found = await the_clock(db, kind="test.other")
    assert (found.budget_seconds, found.used_seconds) == (7200, 1800)
    assert found.deadline == u("2026-12-08 03:30")


async def test_a_breached_business_clock_reopens_due_at_once_and_its_alert_is_resolved(
    db: Database, now: FakeClock
) -> None:
    await start(db, 2)
    now.current = u("2026-12-08 02:00")
    await sweep(db)
    now.current = u("2026-12-08 03:00")  # answered an hour late
    async with db.transaction() as session:
        await sla.stop(session, "ticket:1", KIND)
    now.current = u("2026-12-09 02:00")

    async with db.transaction() as session:
        await sla.reopen(session, "ticket:1", KIND, timedelta(hours=2))

    found = await the_clock(db)
    assert (found.state, found.deadline, found.used_seconds) == (ClockState.RUNNING, now.current, 7200)
    assert [a.state for a in await alerts_for(db, "ticket:1")] == ["resolved"]


async def test_a_business_clock_moved_to_calendar_time_keeps_its_business_time_used(
    db: Database, now: FakeClock
) -> None:
    async with db.transaction() as session:
        await sla.start_for(session, "ticket:1", KIND, timedelta(hours=2), source="before")
        await sla.start_for(session, "ticket:2", KIND, timedelta(hours=2))  # no plan: left alone
    now.advance(minutes=30)  # Monday 20:30: 30 min used
    policy.install(policy.validate({"calendar": CALENDAR}))

    async with db.transaction() as session:
        stale = await sla.stale(session, [KIND], "after")
        assert [c.subject for c in stale] == ["ticket:1"]
        await sla.rebudget(session, [(stale[0], timedelta(hours=3), KIND)], "after")
    async with db.transaction() as session:
        assert await sla.stale(session, [KIND], "after") == []

    found = await the_clock(db)
    assert found.deadline == now.current + timedelta(hours=2, minutes=30)
    assert (found.budget_seconds, found.calendar, found.planned_seconds, found.source) == (
        None,
        None,
        10800,
        "after",
    )
    [entry] = [e for e in await audit_rows(db, "sla_clock", found.id) if e.action == "sla.recomputed"]
    assert (entry.before["basis"], entry.after["basis"]) == ("business", "calendar")
