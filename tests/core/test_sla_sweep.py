"""The SLA sweep itself (SLA-1, SLA-2), on clocks of any domain: one alert per breach, the kind's
action, and what happens when an action cannot run now or fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, sla
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.sla.models import SlaClock
from tests.builders.rows import alerts_for, audit_rows

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
KIND = "test.respond"


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def start(db: Database, subject: str, minutes: float, *, restart: bool = False) -> None:
    async with db.transaction() as session:
        begin = sla.restart if restart else sla.start
        await begin(session, subject, KIND, clock.now() + timedelta(minutes=minutes))


async def sweep(
    db: Database,
    actions: dict[str, sla.BreachAction] | None = None,
    quiet: frozenset[str] = frozenset(),
    limit: int = sla.BATCH,
) -> int:
    async with db.transaction() as session:
        return await sla.sweep(session, actions or {}, quiet, limit)


async def state(db: Database, subject: str) -> str:
    async with db.transaction() as session:
        [found] = await sla.of_subject(session, subject)
        return found.state


async def test_a_clock_restarted_after_its_breach_alerts_again_when_it_breaches_again(
    db: Database, now: FakeClock
) -> None:
    await start(db, "case:1", 60)
    now.advance(minutes=61)
    assert await sweep(db) == 1
    assert await sweep(db) == 0

    await start(db, "case:1", 60, restart=True)  # e.g. a new tracking event: 48 hours more
    now.advance(minutes=61)
    assert await sweep(db) == 1

    assert len(await alerts_for(db, "case:1")) == 2


async def test_a_busy_subject_leaves_its_clock_running_for_the_next_sweep(
    db: Database, now: FakeClock
) -> None:
    await start(db, "case:1", 10)
    await start(db, "case:2", 10)
    now.advance(minutes=11)
    busy = True
    acted: list[str] = []

    async def act(session: AsyncSession, found: SlaClock) -> None:
        if busy and found.subject == "case:1":
            raise sla.SubjectBusy("held by another transaction")
        acted.append(found.subject)

    assert await sweep(db, {KIND: act}) == 1
    assert (await state(db, "case:1"), await state(db, "case:2")) == ("running", "breached")
    assert await alerts_for(db, "case:1") == []

    busy = False
    assert await sweep(db, {KIND: act}) == 1
    assert await state(db, "case:1") == "breached"
    assert acted == ["case:2", "case:1"]
    assert len(await alerts_for(db, "case:1")) == 1


async def test_a_failing_action_is_undone_alerted_and_holds_up_no_other_clock(
    db: Database, now: FakeClock
) -> None:
    await start(db, "case:1", 10)
    await start(db, "case:2", 20)
    now.advance(minutes=21)

    async def act(session: AsyncSession, found: SlaClock) -> None:
        await sla.stop(session, found.subject, "test.other")  # a write the failure must undo
        await sla.start(session, found.subject, "test.follow_up", clock.now() + timedelta(hours=1))
        if found.subject == "case:1":
            raise RuntimeError("carrier API down")

    assert await sweep(db, {KIND: act}) == 2

    [failed] = await alerts_for(db, "case:1")
    assert "its automatic action failed: RuntimeError('carrier API down')" in failed.message
    [done] = await alerts_for(db, "case:2")
    assert "failed" not in done.message
    async with db.transaction() as session:
        assert [c.kind for c in await sla.of_subject(session, "case:1")] == [KIND]
        assert [c.kind for c in await sla.of_subject(session, "case:2")] == [KIND, "test.follow_up"]
    assert await state(db, "case:1") == "breached"
    assert await sweep(db, {KIND: act}) == 0  # breached once, not retried


async def test_rows_a_failing_action_queued_are_undone_with_it(db: Database, now: FakeClock) -> None:
    await start(db, "case:1", 10)
    now.advance(minutes=11)

    async def act(session: AsyncSession, found: SlaClock) -> None:
        audit.queue(session, audit.row(SYSTEM, "case.closed", "case", 1))  # for the action's next write
        raise RuntimeError("carrier API down")

    assert await sweep(db, {KIND: act}) == 1
    assert await audit_rows(db, "case", 1) == []


async def test_quiet_kinds_breach_and_act_without_an_alert(db: Database, now: FakeClock) -> None:
    await start(db, "case:1", 10)
    now.advance(minutes=11)
    acted: list[str] = []

    async def act(session: AsyncSession, found: SlaClock) -> None:
        acted.append(found.subject)

    assert await sweep(db, {KIND: act}, quiet=frozenset({KIND})) == 1

    assert (acted, await state(db, "case:1")) == (["case:1"], "breached")
    assert await alerts_for(db, "case:1") == []


async def test_a_sweep_claims_at_most_its_batch_earliest_deadline_first(db: Database, now: FakeClock) -> None:
    for n, minutes in enumerate([30, 10, 20], start=1):
        await start(db, f"case:{n}", minutes)
    now.advance(hours=1)

    assert await sweep(db, limit=2) == 2
    assert [await state(db, f"case:{n}") for n in (1, 2, 3)] == ["running", "breached", "breached"]
    assert await sweep(db, limit=2) == 1


def test_time_left_counts_down_while_running_and_stands_still_while_paused() -> None:
    running = SlaClock(state="running", deadline=START + timedelta(minutes=30))
    paused = SlaClock(
        state="paused", deadline=START + timedelta(minutes=30), paused_at=START - timedelta(minutes=5)
    )

    assert running.seconds_left(START) == 30 * 60
    assert running.seconds_left(START + timedelta(minutes=31)) == -60  # overdue, not yet swept
    assert paused.seconds_left(START + timedelta(hours=3)) == 35 * 60
    assert SlaClock(state="met", deadline=START).seconds_left(START) is None
    assert SlaClock(state="breached", deadline=START).seconds_left(START) is None
