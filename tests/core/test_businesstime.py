"""Business time (SLA-1, POL-2) as a table: fixed UTC timestamps, an explicit calendar.

The store calendar below is Asia/Shanghai (UTC+8, no DST), Monday to Friday 09:00–12:00 and
13:30–21:00 local (01:00–04:00 and 05:30–13:00 UTC), closed at weekends, Friday 2026-12-25 a
holiday and Saturday 2026-12-19 a make-up working day (调休) with Monday's hours. The Berlin
calendars check the March and October DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shopflow.core import policy
from shopflow.core.businesstime import (
    BusinessCalendar,
    business_deadline,
    business_elapsed,
    calendar_from_policy,
)

WORKDAY = ((time(9), time(12)), (time(13, 30), time(21)))
STORE = BusinessCalendar(
    zone=ZoneInfo("Asia/Shanghai"),
    hours={day: WORKDAY for day in range(5)},
    holidays=frozenset({date(2026, 12, 25)}),
    workdays=frozenset({date(2026, 12, 19)}),
)
BERLIN_ALL_DAY = BusinessCalendar(
    zone=ZoneInfo("Europe/Berlin"), hours={d: ((time(), time()),) for d in range(7)}
)
BERLIN_OFFICE = BusinessCalendar(
    zone=ZoneInfo("Europe/Berlin"), hours={d: ((time(9), time(17)),) for d in range(7)}
)


def u(text: str) -> datetime:
    """A fixed UTC timestamp."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


H = timedelta(hours=1)
M = timedelta(minutes=1)

# (what it shows, calendar, start, business duration, deadline); local times in the names.
DEADLINES = [
    ("inside the morning: Mon 10:00 + 1 h", STORE, u("2026-12-07 02:00"), H, u("2026-12-07 03:00")),
    ("ends exactly at noon: Mon 11:00 + 1 h", STORE, u("2026-12-07 03:00"), H, u("2026-12-07 04:00")),
    ("across the lunch break: Mon 11:30 + 1 h", STORE, u("2026-12-07 03:30"), H, u("2026-12-07 06:00")),
    (
        "starts in the lunch break: Mon 12:15 + 30 min",
        STORE,
        u("2026-12-07 04:15"),
        30 * M,
        u("2026-12-07 06:00"),
    ),
    ("starts before opening: Mon 07:00 + 1 h", STORE, u("2026-12-06 23:00"), H, u("2026-12-07 02:00")),
    (
        "exactly at closing stays there: Mon 20:00 + 1 h",
        STORE,
        u("2026-12-07 12:00"),
        H,
        u("2026-12-07 13:00"),
    ),
    ("starts after closing: Mon 22:00 + 1 h", STORE, u("2026-12-07 14:00"), H, u("2026-12-08 02:00")),
    ("a whole day: Mon 09:00 + 10.5 h", STORE, u("2026-12-07 01:00"), 10.5 * H, u("2026-12-07 13:00")),
    (
        "24 business hours: Mon 09:00 to Wed 12:00",
        STORE,
        u("2026-12-07 01:00"),
        24 * H,
        u("2026-12-09 04:00"),
    ),
    ("across the weekend: Fri 20:00 + 2 h", STORE, u("2026-12-11 12:00"), 2 * H, u("2026-12-14 02:00")),
    ("started on Saturday: Sat 10:00 + 1 h", STORE, u("2026-12-12 02:00"), H, u("2026-12-14 02:00")),
    (
        "zero from outside hours is the next opening",
        STORE,
        u("2026-12-12 02:00"),
        0 * H,
        u("2026-12-14 01:00"),
    ),
    ("across a holiday: Thu 20:30 + 1 h", STORE, u("2026-12-24 12:30"), H, u("2026-12-28 01:30")),
    (
        "started on the holiday: Fri 25th 10:00 + 30 min",
        STORE,
        u("2026-12-25 02:00"),
        30 * M,
        u("2026-12-28 01:30"),
    ),
    ("a make-up Saturday works: Fri 20:30 + 1 h", STORE, u("2026-12-18 12:30"), H, u("2026-12-19 01:30")),
    ("the make-up Saturday's lunch: Sat 11:30 + 1 h", STORE, u("2026-12-19 03:30"), H, u("2026-12-19 06:00")),
    (
        "Berlin spring forward: Sat 12:00 CET + 24 h",
        BERLIN_ALL_DAY,
        u("2027-03-27 11:00"),
        24 * H,
        u("2027-03-28 11:00"),
    ),
    (
        "Berlin spring forward: Sat 16:00 CET + 2 h",
        BERLIN_OFFICE,
        u("2027-03-27 15:00"),
        2 * H,
        u("2027-03-28 08:00"),
    ),
    (
        "Berlin fall back: Sat 12:00 CEST + 24 h",
        BERLIN_ALL_DAY,
        u("2026-10-24 10:00"),
        24 * H,
        u("2026-10-25 10:00"),
    ),
    (
        "Berlin fall back: Sat 16:00 CEST + 2 h",
        BERLIN_OFFICE,
        u("2026-10-24 14:00"),
        2 * H,
        u("2026-10-25 09:00"),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "deadline"),
    [row[1:] for row in DEADLINES],
    ids=[row[0] for row in DEADLINES],
)
def test_business_deadline(
    calendar: BusinessCalendar, start: datetime, duration: timedelta, deadline: datetime
) -> None:
    found = business_deadline(start, duration, calendar)

    assert found == deadline
    assert found.tzinfo is not None and found.utcoffset() == timedelta(0)
    assert business_elapsed(start, found, calendar) == duration  # the two functions agree


ELAPSED = [
    ("over lunch: Mon 10:00 to 15:00", STORE, u("2026-12-07 02:00"), u("2026-12-07 07:00"), 3.5 * H),
    ("only the lunch break", STORE, u("2026-12-07 04:05"), u("2026-12-07 05:25"), 0 * H),
    ("over the weekend: Fri 20:00 to Mon 10:00", STORE, u("2026-12-11 12:00"), u("2026-12-14 02:00"), 2 * H),
    ("over a holiday: Thu 20:30 to Mon 09:30", STORE, u("2026-12-24 12:30"), u("2026-12-28 01:30"), H),
    (
        "into a make-up Saturday: Fri 20:30 to Sat 09:30",
        STORE,
        u("2026-12-18 12:30"),
        u("2026-12-19 01:30"),
        H,
    ),
    (
        "a week of business: Mon 00:00 to Mon 00:00",
        STORE,
        u("2026-12-06 16:00"),
        u("2026-12-13 16:00"),
        52.5 * H,
    ),
    ("the end before the start", STORE, u("2026-12-07 07:00"), u("2026-12-07 02:00"), 0 * H),
    ("Berlin's 23-hour Sunday", BERLIN_ALL_DAY, u("2027-03-27 23:00"), u("2027-03-28 22:00"), 23 * H),
    ("Berlin's 25-hour Sunday", BERLIN_ALL_DAY, u("2026-10-24 22:00"), u("2026-10-25 23:00"), 25 * H),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "elapsed"), [row[1:] for row in ELAPSED], ids=[row[0] for row in ELAPSED]
)
def test_business_elapsed(
    calendar: BusinessCalendar, start: datetime, end: datetime, elapsed: timedelta
) -> None:
    assert business_elapsed(start, end, calendar) == elapsed


def test_a_pause_across_closing_keeps_only_the_business_time_used() -> None:
    # Started Mon 20:00 with 2 h; paused Mon 20:45 (45 min used); resumed Tue 10:00: 75 min left.
    start, paused, resumed = u("2026-12-07 12:00"), u("2026-12-07 12:45"), u("2026-12-08 02:00")
    used = business_elapsed(start, paused, STORE)

    assert used == 45 * M
    assert business_deadline(resumed, 2 * H - used, STORE) == u("2026-12-08 03:15")


def test_naive_times_a_negative_duration_and_a_calendar_never_open_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        business_deadline(datetime(2026, 12, 7, 9), H, STORE)
    with pytest.raises(ValueError, match="negative"):
        business_deadline(u("2026-12-07 02:00"), -H, STORE)
    closed = BusinessCalendar(zone=ZoneInfo("Asia/Shanghai"), hours={})
    with pytest.raises(ValueError, match="no working period"):
        business_deadline(u("2026-12-07 02:00"), H, closed)
    assert business_elapsed(u("2026-12-07 02:00"), u("2026-12-09 02:00"), closed) == timedelta(0)


def test_the_policy_calendar_is_open_every_day_with_a_lunch_break_by_default() -> None:
    calendar = calendar_from_policy()

    assert calendar.zone == ZoneInfo("Asia/Shanghai")
    assert all(calendar.hours[day] == WORKDAY for day in range(7))
    # Saturday 11:30 + 1 h: the lunch break, not the weekend, is skipped.
    assert business_deadline(u("2026-12-12 03:30"), H, calendar) == u("2026-12-12 06:00")


def test_the_policy_names_hours_make_up_days_and_changes_the_fingerprint() -> None:
    default = calendar_from_policy().fingerprint()
    policy.install(
        policy.validate(
            {
                "calendar": {
                    "hours": {"sat": [], "sun": []},
                    "makeup_workdays": ["2026-12-19"],
                    "holidays": ["2026-12-25"],
                }
            }
        )
    )
    calendar = calendar_from_policy()

    assert calendar.fingerprint() != default
    assert calendar.periods(date(2026, 12, 19)) == WORKDAY  # a make-up Saturday takes Monday's hours
    assert calendar.periods(date(2026, 12, 20)) == ()
    assert calendar.periods(date(2026, 12, 25)) == ()


@pytest.mark.parametrize(
    ("calendar", "key"),
    [
        ({"hours": {"mon": ["12:00-09:00"]}}, "calendar.hours.mon.0"),
        ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "calendar.hours.mon"),
        ({"hours": {"mon": ["9 to 5"]}}, "calendar.hours.mon.0"),
        ({"hours": {"someday": []}}, "calendar.hours.someday.[key]"),
        ({"holidays": ["2026-12-19"], "makeup_workdays": ["2026-12-19"]}, "calendar"),
    ],
)
def test_bad_business_hours_are_refused_naming_the_key(calendar: dict[str, object], key: str) -> None:
    with pytest.raises(policy.PolicyError) as refused:
        policy.validate({"calendar": calendar})

    assert [e.field for e in refused.value.errors] == [key]


def test_a_clock_kind_runs_in_calendar_time_unless_the_policy_says_business() -> None:
    settings = policy.validate({"sla": {"basis": {"ticket.resolution": "business"}}}).sla

    assert settings.in_business_time("ticket.resolution")
    assert not settings.in_business_time("order.ship")
    with pytest.raises(policy.PolicyError, match=r"sla\.basis\.ticket\.resolution"):
        policy.validate({"sla": {"basis": {"ticket.resolution": "wall"}}})
