"""Business time (SLA-1, POL-2): deadlines and elapsed time counted only inside the store's
working hours, over its holidays and make-up working days (调休), in its zone, DST-safe.

Pure: no I/O. Times go in and come out timezone-aware UTC; the working periods are built per
local date, each end made aware in the zone and converted to UTC, so a day that is 23 or 25
hours long (a DST change) still counts exactly its working periods.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shopflow.core import policy

Period = tuple[time, time]  # a working period of a day, local time; an end of 00:00 is midnight after
# A calendar with no working period within this many days has none at all (a misconfiguration):
# refusing it beats looping for ever.
SEARCH_DAYS = 3660


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    hours: Mapping[int, tuple[Period, ...]]  # weekday (0 = Monday) -> working periods, in order
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days (调休): open whatever the weekday
    makeup_hours: tuple[Period, ...] | None = None  # their periods; None: Monday's

    def periods(self, day: date) -> tuple[Period, ...]:
        """The working periods of a local date: none on a holiday, the make-up hours on a make-up
        day, else its weekday's."""
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.makeup_hours if self.makeup_hours is not None else self.hours.get(0, ())
        return self.hours.get(day.weekday(), ())

    def fingerprint(self) -> str:
        """A short digest of everything that moves a deadline: clocks computed under another
        calendar are recomputed (`core.sla.recompute`)."""
        text = repr(
            (
                self.zone.key,
                sorted((day, tuple(periods)) for day, periods in self.hours.items()),
                sorted(self.holidays),
                sorted(self.workdays),
                self.makeup_hours,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _day_intervals(day: date, calendar: BusinessCalendar) -> list[tuple[datetime, datetime]]:
    """The working intervals of local date `day`, in UTC."""
    zone = calendar.zone
    return [
        (
            _utc(day, opens, zone),
            _utc(day + timedelta(days=1), time(), zone) if closes == time() else _utc(day, closes, zone),
        )
        for opens, closes in calendar.periods(day)
    ]


def _intervals(first: date, calendar: BusinessCalendar) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals in UTC from local date `first` on, in order, without end."""
    day, idle = first, 0
    while True:
        found = _day_intervals(day, calendar)
        yield from found
        idle = 0 if found else idle + 1
        if idle > SEARCH_DAYS:
            raise ValueError(f"the business calendar has no working period within {SEARCH_DAYS} days")
        day += timedelta(days=1)


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return at.astimezone(UTC)


def business_deadline(start: datetime, duration: timedelta, calendar: BusinessCalendar) -> datetime:
    """The instant `duration` of working time after `start`. A start outside working hours
    counts from the next opening; a deadline that falls exactly on a closing stays there."""
    if duration < timedelta(0):
        raise ValueError("a business duration cannot be negative")
    start = _aware(start, "start")
    remaining = duration
    for opens, closes in _intervals(start.astimezone(calendar.zone).date(), calendar):
        if closes <= start:
            continue
        begin = max(opens, start)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: _intervals never ends")


def business_elapsed(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """The working time between `start` and `end` (zero when `end` is not after `start`)."""
    start, end = _aware(start, "start"), _aware(end, "end")
    total = timedelta(0)
    day, last = start.astimezone(calendar.zone).date(), end.astimezone(calendar.zone).date()
    while day <= last:
        for opens, closes in _day_intervals(day, calendar):
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def calendar_of(settings: policy.Calendar) -> BusinessCalendar:
    """The business calendar a policy's `calendar` section describes."""
    return BusinessCalendar(
        zone=ZoneInfo(settings.timezone),
        hours={day: settings.periods(day) for day in range(7)},
        holidays=settings.holidays,
        workdays=settings.makeup_workdays,
        makeup_hours=settings.makeup_periods(),
    )


def calendar_from_policy() -> BusinessCalendar:
    """The effective policy's business calendar."""
    return calendar_of(policy.current().calendar)
