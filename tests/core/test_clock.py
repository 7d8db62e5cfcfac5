"""The clock: injectable "now" and working-day arithmetic (POL-2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopflow.core import clock, policy

WEEKEND = frozenset({5, 6})  # Saturday, Sunday
NO_HOLIDAYS: frozenset[date] = frozenset()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 10, minute: int = 30) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# 2026-01-02 is a Friday.
FRIDAY = date(2026, 1, 2)
SATURDAY = date(2026, 1, 3)
SUNDAY = date(2026, 1, 4)
MONDAY = date(2026, 1, 5)


def test_now_is_timezone_aware_utc() -> None:
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_a_fake_clock_stands_still_until_moved_and_is_removed_after_the_block() -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    fake = clock.FakeClock(start)
    with clock.use(fake):
        assert clock.now() == start
        fake.advance(minutes=31)
        assert clock.now() == start + timedelta(minutes=31)
    assert clock.now() != start + timedelta(minutes=31)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("day", "working"),
    [(FRIDAY, True), (SATURDAY, False), (SUNDAY, False), (MONDAY, True)],
)
def test_weekends_are_not_working_days(day: date, working: bool) -> None:
    assert clock.is_working_day(day, NO_HOLIDAYS, WEEKEND) is working


def test_a_configured_holiday_is_not_a_working_day() -> None:
    assert clock.is_working_day(MONDAY, frozenset({MONDAY}), WEEKEND) is False


def test_one_working_day_after_friday_is_monday_at_the_same_time() -> None:
    assert clock.add_working_days(at(FRIDAY), 1, NO_HOLIDAYS, WEEKEND) == at(MONDAY)


def test_working_days_from_a_weekend_start_count_from_monday() -> None:
    assert clock.add_working_days(at(SATURDAY), 1, NO_HOLIDAYS, WEEKEND) == at(MONDAY)
    assert clock.add_working_days(at(SUNDAY), 2, NO_HOLIDAYS, WEEKEND) == at(date(2026, 1, 6))


def test_zero_working_days_is_the_start_itself() -> None:
    assert clock.add_working_days(at(SATURDAY), 0, NO_HOLIDAYS, WEEKEND) == at(SATURDAY)


def test_five_working_days_span_a_weekend() -> None:
    # Wednesday 2026-01-07 + 5 working days: Thu, Fri, Mon, Tue, Wed -> Wednesday 2026-01-14.
    assert clock.add_working_days(at(date(2026, 1, 7)), 5, NO_HOLIDAYS, WEEKEND) == at(date(2026, 1, 14))


def test_holidays_are_skipped_like_weekends() -> None:
    # National Day week 2026: Thursday 1 October to Wednesday 7 October are holidays.
    national_day = frozenset(date(2026, 10, d) for d in range(1, 8))
    start = at(date(2026, 9, 30))  # Wednesday
    assert clock.add_working_days(start, 1, national_day, WEEKEND) == at(date(2026, 10, 8))
    # 3 working days: Thu 8, Fri 9, then Mon 12 (10/11 is the weekend).
    assert clock.add_working_days(start, 3, national_day, WEEKEND) == at(date(2026, 10, 12))


def test_the_weekend_is_configurable() -> None:
    # A store that works Saturdays and rests on Sunday only.
    sunday_only = frozenset({6})
    assert clock.add_working_days(at(FRIDAY), 1, NO_HOLIDAYS, sunday_only) == at(SATURDAY)
    assert clock.add_working_days(at(SATURDAY), 1, NO_HOLIDAYS, sunday_only) == at(MONDAY)


def test_working_days_follow_the_calendar_of_the_given_time_zone() -> None:
    # Friday 18:00 in Shanghai; one working day later is Monday 18:00 in Shanghai.
    start = datetime(2026, 1, 2, 18, 0, tzinfo=SHANGHAI)
    assert clock.add_working_days(start, 1, NO_HOLIDAYS, WEEKEND) == datetime(
        2026, 1, 5, 18, 0, tzinfo=SHANGHAI
    )


def test_holidays_from_the_policy_file_drive_the_arithmetic(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[calendar]\nholidays = [2026-01-05, 2026-01-06]\n", encoding="utf-8")
    calendar = policy.load(path).calendar
    assert clock.add_working_days(at(FRIDAY), 1, calendar.holidays, calendar.weekend) == at(date(2026, 1, 7))


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    days=st.integers(min_value=1, max_value=60),
    holidays=st.frozensets(st.dates(min_value=date(2020, 1, 1), max_value=date(2036, 6, 30)), max_size=20),
)
def test_the_result_is_a_working_day_with_exactly_n_working_days_after_the_start(
    start: date, days: int, holidays: frozenset[date]
) -> None:
    result = clock.add_working_days(at(start), days, holidays, WEEKEND)
    assert result.time() == at(start).time()
    assert clock.is_working_day(result.date(), holidays, WEEKEND)
    between = [start + timedelta(days=n) for n in range(1, (result.date() - start).days + 1)]
    assert sum(clock.is_working_day(d, holidays, WEEKEND) for d in between) == days
