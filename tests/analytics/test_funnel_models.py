"""The funnel's pure parts (CRM-5): periods cut to the range, drop-offs with no division by zero."""

from __future__ import annotations

from datetime import date

import pytest

from shopflow.analytics.models import DropOff, PeriodKind, drop_offs, period_label, periods, range_errors


def test_drop_offs_are_the_difference_and_its_share_of_each_stage() -> None:
    found = drop_offs({"visitors": 200, "inquiries": 30, "buyers": 9, "repeaters": 3})

    assert found == [
        DropOff("visitors", "inquiries", 170, 0.85),
        DropOff("inquiries", "buyers", 21, 0.7),
        DropOff("buyers", "repeaters", 6, 0.6667),
    ]


def test_a_stage_with_nobody_has_no_rate_and_more_at_the_next_stage_is_a_negative_drop() -> None:
    found = drop_offs({"visitors": 0, "inquiries": 0, "buyers": 2, "repeaters": 2})

    assert found == [
        DropOff("visitors", "inquiries", 0, None),
        DropOff("inquiries", "buyers", -2, None),
        DropOff("buyers", "repeaters", 0, 0.0),
    ]


def test_weeks_run_monday_to_sunday_and_the_first_and_last_are_cut_to_the_range() -> None:
    found = periods(date(2030, 3, 6), date(2030, 3, 19), PeriodKind.WEEK)

    assert [(p.label, p.first, p.last) for p in found] == [
        ("2030-W10", date(2030, 3, 6), date(2030, 3, 10)),
        ("2030-W11", date(2030, 3, 11), date(2030, 3, 17)),
        ("2030-W12", date(2030, 3, 18), date(2030, 3, 19)),
    ]


def test_months_cross_a_year_end_and_days_are_each_one() -> None:
    months = periods(date(2029, 11, 15), date(2030, 2, 3), PeriodKind.MONTH)
    days = periods(date(2030, 2, 27), date(2030, 3, 2), PeriodKind.DAY)

    assert [(p.label, p.first, p.last) for p in months] == [
        ("2029-11", date(2029, 11, 15), date(2029, 11, 30)),
        ("2029-12", date(2029, 12, 1), date(2029, 12, 31)),
        ("2030-01", date(2030, 1, 1), date(2030, 1, 31)),
        ("2030-02", date(2030, 2, 1), date(2030, 2, 3)),
    ]
    assert [p.label for p in days] == ["2030-02-27", "2030-02-28", "2030-03-01", "2030-03-02"]


@pytest.mark.parametrize(("day", "label"), [(date(2029, 12, 31), "2030-W01"), (date(2027, 1, 3), "2026-W53")])
def test_a_week_is_named_by_its_iso_year(day: date, label: str) -> None:
    assert period_label(day, PeriodKind.WEEK) == label


def test_a_range_ending_before_it_starts_or_too_long_names_to() -> None:
    assert range_errors(date(2030, 3, 2), date(2030, 3, 1), 366)[0].field == "to"
    assert range_errors(date(2030, 1, 1), date(2030, 1, 10), 9)[0].field == "to"
    assert range_errors(date(2030, 1, 1), date(2030, 1, 9), 9) == []
