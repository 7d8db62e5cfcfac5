"""The ticket's rules without a database: TRANSITIONS, which clock answers, and deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shopflow.core import policy
from shopflow.service.models import (
    CLOCK_TABLE,
    TRANSITIONS,
    ClockRole,
    SurveyLink,
    Ticket,
    TicketClock,
    TicketEvent,
    TicketState,
    clock_basis,
    clock_duration,
    clock_kind,
    occasions_on,
    periodic_key,
    read_survey,
    sign_survey,
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


def test_periodic_call_backs_come_once_per_period_spread_over_the_days() -> None:
    day = date(2026, 12, 7)

    def keys(days: int) -> set[str]:
        return {periodic_key(7, day + timedelta(days=n), 90) for n in range(days)}

    assert len(keys(90)) <= 2 and len(keys(91)) >= 2  # one new task every 90 days

    def turns(customer: int) -> int:
        first = periodic_key(customer, day, 90)
        return next(n for n in range(91) if periodic_key(customer, day + timedelta(days=n), 90) != first)

    assert len({turns(customer) for customer in range(1, 30)}) > 1  # periods turn on different days


def test_birthdays_and_holidays_are_greeted_on_their_day() -> None:
    holiday = policy.Holiday(on=date(2027, 2, 6), occasion="spring_festival", zh="春节", en="Spring Festival")
    assert occasions_on(date(2027, 2, 6), date(1990, 2, 6), (holiday,)) == ["birthday", "spring_festival"]
    assert occasions_on(date(2027, 2, 28), date(2000, 2, 29), ()) == ["birthday"]  # not a leap year
    assert occasions_on(date(2028, 2, 28), date(2000, 2, 29), ()) == []
    assert occasions_on(date(2027, 3, 1), None, (holiday,)) == []


def test_a_survey_token_is_refused_when_any_part_changes() -> None:
    key = b"k" * 32
    expires = datetime(2026, 12, 14, tzinfo=UTC)
    token = sign_survey(5, expires, key)
    assert read_survey(token, key) == SurveyLink(5, expires)
    assert read_survey(token.replace("5.", "6.", 1), key) is None
    assert read_survey(token, b"x" * 32) is None
    assert read_survey("٥." + token.split(".", 1)[1], key) is None
