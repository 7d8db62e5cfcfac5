"""The ticket's rules without a database: TRANSITIONS, which clock answers, and deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core import policy
from shopflow.service.models import (
    CLOCK_TABLE,
    TRANSITIONS,
    ClockRole,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketState,
    clock_basis,
    clock_duration,
    clock_kind,
)
from tests.builders.transitions import assert_refused, reachable_from, terminal

T = TicketState
AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_every_state_is_reachable_from_new_and_none_is_a_dead_end() -> None:
    assert reachable_from(TRANSITIONS, T.NEW) == set(T)
    assert terminal(TRANSITIONS) == set()
    assert T.NEW not in {s for targets in TRANSITIONS.values() for s in targets}  # never new again


@pytest.mark.parametrize(
    ("current", "target"),
    [(T.RESOLVED, T.PENDING_CUSTOMER), (T.CLOSED, T.RESOLVED), (T.OPEN, T.OPEN), (T.CLOSED, T.CLOSED)],
)
def test_a_step_the_table_forbids_is_409(current: TicketState, target: TicketState) -> None:
    ticket = Ticket(state=current, reopened=0)

    assert_refused(lambda: ticket.move_to(target, AT), current, target)
    assert ticket.state == current


def test_resolving_and_reopening_set_their_times_and_count() -> None:
    ticket = Ticket(state=T.OPEN, reopened=0)

    ticket.move_to(T.RESOLVED, AT)
    ticket.move_to(T.CLOSED, AT + timedelta(hours=1))
    ticket.move_to(T.OPEN, AT + timedelta(hours=2))

    assert (ticket.resolved_at, ticket.closed_at, ticket.reopened) == (AT, None, 1)


def test_a_negative_review_answers_on_its_one_hour_clock_instead_of_first_response() -> None:
    assert clock_kind(ClockRole.RESPONSE, "negative_review") == TicketClock.NEGATIVE_REVIEW
    assert clock_kind(ClockRole.RESPONSE, "complaint") == TicketClock.FIRST_RESPONSE
    assert clock_kind(ClockRole.RESOLUTION, "negative_review") == TicketClock.RESOLUTION


@pytest.mark.parametrize(
    ("kind", "channel", "after"),
    [
        (TicketClock.FIRST_RESPONSE, "chat", timedelta(seconds=30)),  # SVC-2
        (TicketClock.FIRST_RESPONSE, "phone", timedelta(seconds=18)),  # 3 rings
        (TicketClock.FIRST_RESPONSE, "email", timedelta(hours=4)),
        (TicketClock.NEGATIVE_REVIEW, "review_site", timedelta(hours=1)),  # SVC-7
        (TicketClock.RESOLUTION, "chat", timedelta(hours=24)),  # SVC-2
    ],
)
def test_durations_come_from_the_policy(kind: TicketClock, channel: str, after: timedelta) -> None:
    assert clock_duration(kind, channel, policy.current().service) == after


def test_the_policy_overrides_one_channel_and_keeps_the_others() -> None:
    rules = policy.validate({"service": {"first_response_seconds_by_channel": {"email": 600}}}).service

    assert clock_duration(TicketClock.FIRST_RESPONSE, "email", rules) == timedelta(minutes=10)
    assert clock_duration(TicketClock.FIRST_RESPONSE, "phone", rules) == timedelta(seconds=18)


def test_every_ticket_clock_runs_in_calendar_time_unless_the_policy_says_otherwise() -> None:
    default = policy.current().sla
    assert not any(
        default.in_business_time(clock_basis(kind, channel))
        for kind in TicketClock
        for channel in ("chat", "phone", "email", "review_site", "marketplace")
    )


def test_the_basis_is_found_by_channel_then_kind_then_prefix() -> None:
    rules = policy.validate(
        {"sla": {"basis": {"ticket": "business", "ticket.first_response.chat": "calendar"}}}
    ).sla

    assert clock_basis(TicketClock.FIRST_RESPONSE, "email") == "ticket.first_response.email"
    assert rules.in_business_time(clock_basis(TicketClock.FIRST_RESPONSE, "email"))
    assert not rules.in_business_time(clock_basis(TicketClock.FIRST_RESPONSE, "chat"))
    assert rules.in_business_time(clock_basis(TicketClock.RESOLUTION, "chat"))
    assert not rules.in_business_time("order.pay")


def test_the_clock_table_names_every_event() -> None:
    assert set(CLOCK_TABLE) == set(TicketEvent)
    assert CLOCK_TABLE[TicketEvent.INTERNAL] == ()
