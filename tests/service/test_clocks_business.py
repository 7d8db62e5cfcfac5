"""The event -> clock table in business time (SLA-1, issue 14): a ticket's clocks run in the time
`sla.basis` names, by channel, kind or "ticket"; pausing over closing time and reopening after a
weekend keep the business time already used.

Policy calendar here: Asia/Shanghai (UTC+8), 09:00–12:00 and 13:30–21:00 local (01:00–04:00 and
05:30–13:00 UTC), weekends closed unless a test opens them. 2026-12-11 is a Friday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopflow.core import clock, policy, sla
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.service import service, tasks
from shopflow.service.models import TicketClock, TicketEvent, ticket_subject
from shopflow.service.schemas import InboundIn, MessageIn
from tests.builders.rows import audit_rows
from tests.builders.tickets import open_ticket

FIRST, RESOLUTION = TicketClock.FIRST_RESPONSE, TicketClock.RESOLUTION
WEEKEND_CLOSED = {"hours": {"sat": [], "sun": []}}


def u(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def install(basis: dict[str, str], calendar: dict[str, Any] | None = None) -> None:
    policy.install(
        policy.validate(
            {
                "calendar": WEEKEND_CLOSED if calendar is None else calendar,
                "sla": {"basis": basis},
                "service": {"first_response_seconds_by_channel": {"email": 3600}},
            }
        )
    )


async def clocks(db: Database, ticket_id: int) -> dict[str, sla.SlaClock]:
    async with db.transaction() as session:
        return {c.kind: c for c in await sla.of_subject(session, ticket_subject(ticket_id))}


async def step(db: Database, ticket_id: int, event: TicketEvent) -> None:
    async with db.transaction() as session:
        await service.step(session, SYSTEM, ticket_id, event)


async def answer(db: Database, ticket_id: int) -> None:
    async with db.transaction() as session:
        await service.add_message(session, SYSTEM, ticket_id, MessageIn(body="您好", kind="outbound"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("calendar", "due"),
    [
        (WEEKEND_CLOSED, "2026-12-14 01:50"),  # 10 min on Friday, 50 from Monday 09:00
        ({}, "2026-12-12 01:50"),  # open on Saturdays: 50 min from Saturday 09:00
    ],
)
async def test_a_friday_evening_email_is_due_by_the_calendars_next_opening(
    db: Database, calendar: dict[str, Any], due: str
) -> None:
    install({"ticket.first_response.email": "business"}, calendar)
    with clock.use(FakeClock(u("2026-12-11 12:50"))):  # Friday 20:50, ten minutes before closing
        email = await open_ticket(db, channel="email")
        chat = await open_ticket(db, channel="chat")

    found = await clocks(db, email.id)
    assert found[FIRST].deadline == u(due)
    assert found[FIRST].budget_seconds == 3600
    assert found[RESOLUTION].deadline == u("2026-12-12 12:50")  # not named: calendar time
    assert (await clocks(db, chat.id))[FIRST].deadline == u("2026-12-11 12:50:30")


async def test_a_resolution_clock_pended_over_closing_time_resumes_with_its_business_time(
    db: Database,
) -> None:
    install({"ticket": "business"})
    now = FakeClock(u("2026-12-07 12:00"))  # Monday 20:00
    with clock.use(now):
        ticket = await open_ticket(db)
        await answer(db, ticket.id)
        now.current = u("2026-12-07 12:30")  # 20:30: waiting for the customer, 30 min used
        await step(db, ticket.id, TicketEvent.PENDED)
        paused = (await clocks(db, ticket.id))[RESOLUTION]
        assert (paused.state, paused.used_seconds) == ("paused", 30 * 60)

        now.current = u("2026-12-08 02:00")  # Tuesday 10:00: the customer writes
        async with db.transaction() as session:
            await service.inbound(session, SYSTEM, ticket.id, InboundIn(body="照片发给你了"))

    found = (await clocks(db, ticket.id))[RESOLUTION]
    # 23 h 30 left from Tuesday 10:00 at 10 h 30 a day: 9 h 30 on Tuesday, 10 h 30 on Wednesday,
    # 3 h 30 on Thursday (3 h before lunch, 30 min after): Thursday 14:00 local.
    assert (found.state, found.deadline) == ("running", u("2026-12-10 06:00"))


async def test_reopening_after_a_weekend_keeps_the_business_time_used(db: Database) -> None:
    install({"ticket.resolution": "business"})
    now = FakeClock(u("2026-12-11 02:00"))  # Friday 10:00
    with clock.use(now):
        ticket = await open_ticket(db)
        await answer(db, ticket.id)
        now.current = u("2026-12-11 12:00")  # Friday 20:00: 2 h + 6 h 30 used
        await step(db, ticket.id, TicketEvent.RESOLVED)
        resolved = (await clocks(db, ticket.id))[RESOLUTION]
        assert (resolved.state, resolved.used_seconds) == ("met", 8 * 3600 + 30 * 60)

        now.current = u("2026-12-14 01:00")  # Monday 09:00, after the weekend
        await step(db, ticket.id, TicketEvent.REOPENED)

    found = (await clocks(db, ticket.id))[RESOLUTION]
    # 15 h 30 left: 10 h 30 on Monday, then 3 h and 2 h on Tuesday: Tuesday 15:30 local.
    assert (found.state, found.deadline) == ("running", u("2026-12-15 07:30"))
    assert (found.budget_seconds, found.used_seconds) == (24 * 3600, 8 * 3600 + 30 * 60)


async def test_reopening_a_ticket_resolved_while_pending_counts_only_the_time_before_the_pause(
    db: Database,
) -> None:
    install({"ticket.resolution": "business"})
    now = FakeClock(u("2026-12-11 02:00"))  # Friday 10:00
    with clock.use(now):
        ticket = await open_ticket(db)
        now.current = u("2026-12-11 03:00")  # 11:00: 1 h used
        await step(db, ticket.id, TicketEvent.PENDED)
        now.current = u("2026-12-11 12:00")  # resolved while still waiting
        await step(db, ticket.id, TicketEvent.RESOLVED)
        now.current = u("2026-12-14 01:00")  # Monday 09:00
        await step(db, ticket.id, TicketEvent.REOPENED)

    found = (await clocks(db, ticket.id))[RESOLUTION]
    assert found.used_seconds == 3600
    # 23 h left: Monday 10 h 30, Tuesday 10 h 30, Wednesday 2 h: Wednesday 11:00 local.
    assert found.deadline == u("2026-12-16 03:00")


async def rebudget(db: Database) -> int:
    async with db.transaction() as session:
        return await tasks.rebudget(session)


async def test_a_shorter_email_first_response_replans_the_running_clocks_keeping_the_time_used(
    db: Database,
) -> None:
    install({})  # calendar time, email answered within an hour
    now = FakeClock(u("2026-12-07 02:00"))
    with clock.use(now):
        email = await open_ticket(db, channel="email")
        assert await rebudget(db) == 0  # planned under the settings in force
        now.advance(minutes=20)
        policy.install(policy.validate({"service": {"first_response_seconds_by_channel": {"email": 1800}}}))

        assert await rebudget(db) == 2  # both clocks of the ticket: the settings changed
        assert await rebudget(db) == 0

    found = await clocks(db, email.id)
    entries = [e for c in found.values() for e in await audit_rows(db, "sla_clock", c.id)]
    assert found[FIRST].deadline == u("2026-12-07 02:30")  # 20 min used of 30, 10 left
    assert found[FIRST].planned_seconds == 1800
    assert found[RESOLUTION].deadline == u("2026-12-08 02:00")  # same 24 h
    assert {e.action for e in entries} == {"sla.recomputed"}
    assert {
        (e.before["planned_seconds"], e.after["planned_seconds"]) for e in entries if e.before and e.after
    } == {
        (3600, 1800),
        (86400, 86400),
    }


async def test_putting_resolution_in_business_time_replans_a_running_and_a_paused_clock(
    db: Database,
) -> None:
    install({})
    now = FakeClock(u("2026-12-07 02:00"))  # Monday 10:00
    with clock.use(now):
        running = await open_ticket(db)
        paused = await open_ticket(db)
        now.current = u("2026-12-07 04:00")  # 12:00: 2 h used by each
        await step(db, paused.id, TicketEvent.PENDED)
        now.current = u("2026-12-07 05:00")  # 13:00: in calendar time 3 h for the running one
        install({"ticket.resolution": "business"})

        assert await rebudget(db) == 4
        now.current = u("2026-12-08 02:00")  # Tuesday 10:00: the customer answers
        async with db.transaction() as session:
            await service.inbound(session, SYSTEM, paused.id, InboundIn(body="在吗"))

    ran = (await clocks(db, running.id))[RESOLUTION]
    # 21 h left from Monday 13:00 (lunch until 13:30): 7 h 30 on Monday, 10 h 30 on Tuesday,
    # 3 h on Wednesday: Wednesday 12:00 local.
    assert (ran.deadline, ran.budget_seconds, ran.used_seconds) == (u("2026-12-09 04:00"), 86400, 3 * 3600)
    waited = (await clocks(db, paused.id))[RESOLUTION]
    # 22 h left from Tuesday 10:00: 9 h 30 on Tuesday, 10 h 30 on Wednesday, 2 h on Thursday.
    assert (waited.state, waited.deadline) == ("running", u("2026-12-10 03:00"))


async def test_a_ticket_reopened_after_resolution_was_shortened_counts_the_time_it_used(db: Database) -> None:
    install({})
    now = FakeClock(u("2026-12-07 02:00"))
    with clock.use(now):
        ticket = await open_ticket(db)
        now.advance(hours=10)
        await step(db, ticket.id, TicketEvent.RESOLVED)  # 10 h of 24 used
        policy.install(policy.validate({"service": {"resolution_hours": 12}}))
        now.advance(days=1)

        await step(db, ticket.id, TicketEvent.REOPENED)

    found = (await clocks(db, ticket.id))[RESOLUTION]
    assert (found.deadline, found.planned_seconds) == (now.current + timedelta(hours=2), 12 * 3600)
