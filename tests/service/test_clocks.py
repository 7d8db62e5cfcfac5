"""The event -> clock table (SVC-2, SVC-7, `models.CLOCK_TABLE`), one test per row, on the
ticket's real clocks: fixed UTC times, the policy's calendar time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopflow.core import clock, sla
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.errors import InvalidTransition
from shopflow.service import service
from shopflow.service.errors import ReopenWindowPassed
from shopflow.service.models import TicketClock, TicketEvent, TicketState, ticket_subject
from shopflow.service.schemas import InboundIn, MessageIn
from tests.builders.tickets import cs_team, open_ticket

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
FIRST, RESOLUTION, NEGATIVE = TicketClock.FIRST_RESPONSE, TicketClock.RESOLUTION, TicketClock.NEGATIVE_REVIEW


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def clocks(db: Database, ticket_id: int) -> dict[str, sla.SlaClock]:
    async with db.transaction() as session:
        return {c.kind: c for c in await sla.of_subject(session, ticket_subject(ticket_id))}


def states(found: dict[str, sla.SlaClock]) -> dict[str, str]:
    return {kind: c.state for kind, c in found.items()}


async def message(db: Database, ticket_id: int, kind: str = "outbound") -> None:
    async with db.transaction() as session:
        await service.add_message(session, SYSTEM, ticket_id, MessageIn(body="您好", kind=kind))  # type: ignore[arg-type]


async def step(db: Database, ticket_id: int, event: TicketEvent) -> Any:
    async with db.transaction() as session:
        return (await service.step(session, SYSTEM, ticket_id, event)).state


async def test_created_starts_first_response_by_channel_and_resolution(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db, channel="chat")
    email = await open_ticket(db, channel="email")

    found = await clocks(db, ticket.id)
    assert states(found) == {FIRST: "running", RESOLUTION: "running"}
    assert found[FIRST].deadline == START + timedelta(seconds=30)
    assert found[RESOLUTION].deadline == START + timedelta(hours=24)
    assert (await clocks(db, email.id))[FIRST].deadline == START + timedelta(hours=4)


async def test_created_negative_review_answers_on_its_one_hour_clock(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db, type="negative_review", channel="review_site")

    found = await clocks(db, ticket.id)
    assert states(found) == {NEGATIVE: "running", RESOLUTION: "running"}
    assert found[NEGATIVE].deadline == START + timedelta(hours=1)


async def test_the_first_outbound_message_meets_first_response_and_opens_the_ticket(
    db: Database, now: FakeClock
) -> None:
    ticket = await open_ticket(db)
    now.advance(seconds=20)

    await message(db, ticket.id, "outbound")

    assert states(await clocks(db, ticket.id)) == {FIRST: "met", RESOLUTION: "running"}
    async with db.transaction() as session:
        found = await service.get_ticket(session, ticket.id)
        assert (found.state, found.first_response_at) == (TicketState.OPEN, now.current)


async def test_an_outbound_answer_meets_a_negative_reviews_clock(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db, type="negative_review", channel="review_site")

    await message(db, ticket.id, "outbound")

    assert states(await clocks(db, ticket.id)) == {NEGATIVE: "met", RESOLUTION: "running"}


async def test_an_internal_note_moves_no_clock(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db)

    await message(db, ticket.id, "internal")

    assert states(await clocks(db, ticket.id)) == {FIRST: "running", RESOLUTION: "running"}
    async with db.transaction() as session:
        assert (await service.get_ticket(session, ticket.id)).state == TicketState.NEW


async def test_pending_the_customer_pauses_resolution(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db)
    await message(db, ticket.id)

    assert await step(db, ticket.id, TicketEvent.PENDED) == TicketState.PENDING_CUSTOMER

    assert states(await clocks(db, ticket.id)) == {FIRST: "met", RESOLUTION: "paused"}


async def test_the_customers_inbound_message_resumes_resolution_and_reopens_the_ticket(
    db: Database, now: FakeClock
) -> None:
    ticket = await open_ticket(db)
    await message(db, ticket.id)
    now.advance(hours=1)
    await step(db, ticket.id, TicketEvent.PENDED)
    now.advance(hours=5)  # five hours waiting for the customer do not count

    async with db.transaction() as session:
        await service.inbound(session, SYSTEM, ticket.id, InboundIn(body="照片发给你了"))

    found = await clocks(db, ticket.id)
    assert found[RESOLUTION].state == "running"
    assert found[RESOLUTION].deadline == START + timedelta(hours=24 + 5)
    async with db.transaction() as session:
        assert (await service.get_ticket(session, ticket.id)).state == TicketState.OPEN


async def test_resolving_stops_resolution(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db)
    await message(db, ticket.id)

    assert await step(db, ticket.id, TicketEvent.RESOLVED) == TicketState.RESOLVED

    assert states(await clocks(db, ticket.id)) == {FIRST: "met", RESOLUTION: "met"}


async def test_reopening_resumes_resolution_with_the_time_already_used(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db)
    await message(db, ticket.id)
    now.advance(hours=10)
    await step(db, ticket.id, TicketEvent.RESOLVED)
    now.advance(days=3)

    assert await step(db, ticket.id, TicketEvent.REOPENED) == TicketState.OPEN

    found = (await clocks(db, ticket.id))[RESOLUTION]
    assert (found.state, found.deadline) == ("running", now.current + timedelta(hours=14))


async def test_reopening_a_ticket_resolved_while_pending_does_not_count_the_pause(
    db: Database, now: FakeClock
) -> None:
    ticket = await open_ticket(db)
    now.advance(hours=2)
    await step(db, ticket.id, TicketEvent.PENDED)
    now.advance(hours=30)  # the customer never came back
    await step(db, ticket.id, TicketEvent.RESOLVED)
    now.advance(hours=1)

    await step(db, ticket.id, TicketEvent.REOPENED)

    found = (await clocks(db, ticket.id))[RESOLUTION]
    assert (found.state, found.deadline) == ("running", now.current + timedelta(hours=22))


async def test_closing_cancels_every_running_clock(db: Database, now: FakeClock) -> None:
    ticket = await open_ticket(db)  # never answered

    assert await step(db, ticket.id, TicketEvent.CLOSED) == TicketState.CLOSED

    assert states(await clocks(db, ticket.id)) == {FIRST: "cancelled", RESOLUTION: "cancelled"}


async def test_reopening_after_the_window_or_an_open_ticket_is_409(db: Database, now: FakeClock) -> None:
    late = await open_ticket(db)
    await step(db, late.id, TicketEvent.RESOLVED)
    now.advance(days=7, seconds=1)
    fresh = await open_ticket(db)

    with pytest.raises(ReopenWindowPassed):
        await step(db, late.id, TicketEvent.REOPENED)
    with pytest.raises(InvalidTransition):
        await step(db, fresh.id, TicketEvent.REOPENED)


async def test_round_robin_takes_the_agents_on_duty_in_turn(db: Database, now: FakeClock) -> None:
    await cs_team(db, "ann", "bob", "cat", off_duty=("cat",))

    tickets = [await open_ticket(db) for _ in range(3)]

    async with db.transaction() as session:
        names = await service.usernames(session, [t.assignee_id for t in tickets])
    assert [names[t.assignee_id] for t in tickets if t.assignee_id] == ["ann", "bob", "ann"]


async def test_reassigning_gives_the_running_clocks_to_the_new_agent(db: Database, now: FakeClock) -> None:
    await cs_team(db, "ann", "bob")
    ticket = await open_ticket(db)
    await message(db, ticket.id)  # first response met: stays ann's

    async with db.transaction() as session:
        await service.assign(session, SYSTEM, ticket.id, "bob")
        names = await service.usernames(session, [c.owner_id for c in (await clocks(db, ticket.id)).values()])

    found = await clocks(db, ticket.id)
    assert {kind: names[c.owner_id] for kind, c in found.items() if c.owner_id} == {
        FIRST: "ann",
        RESOLUTION: "bob",
    }
