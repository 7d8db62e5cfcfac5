"""The one source of "now" (UTC, tz-aware), injectable in tests; working-day arithmetic (POL-2);
the store's zone (policy `calendar.timezone`): its days and how a time reads in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shopflow.core import policy


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


def now() -> datetime:
    return _source()


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Replace the clock inside the block (tests, simulations)."""
    global _source
    previous = _source
    _source = source
    try:
        yield
    finally:
        _source = previous


class FakeClock:
    """A clock that stands still until moved: `clock.advance(minutes=31)`."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def is_working_day(day: date, holidays: frozenset[date], weekend: frozenset[int]) -> bool:
    return day.weekday() not in weekend and day not in holidays


def add_working_days(
    start: datetime, days: int, holidays: frozenset[date], weekend: frozenset[int]
) -> datetime:
    """The same time of day `days` working days later (POL-2)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date(), holidays, weekend):
            remaining -= 1
    return current


def store_zone() -> ZoneInfo:
    return ZoneInfo(policy.current().calendar.timezone)


def today() -> date:
    """The store's date now."""
    return now().astimezone(store_zone()).date()


def local_text(at: datetime) -> str:
    """A time as the store reads it: `2026-11-23 14:05` in its zone."""
    return at.astimezone(store_zone()).strftime("%Y-%m-%d %H:%M")


def local_day_bounds(day: date, hours: int = 24) -> list[datetime]:
    """The UTC instants of each hour boundary of `day` in the store's zone (25 for 24 hours)."""
    midnight = datetime.combine(day, time(), tzinfo=store_zone())
    return [(midnight + timedelta(hours=h)).astimezone(UTC) for h in range(hours + 1)]


def local_midnight(day: date) -> datetime:
    """The instant the store's `day` begins."""
    return local_day_bounds(day, hours=0)[0]


def after_store_days(at: datetime, days: int) -> datetime:
    """The end of a window of `days` store days counted from `at`'s day (day 0): the midnight
    after its last day, in the store's zone (ASV-1's return windows, ORD-7's close)."""
    return local_midnight(at.astimezone(store_zone()).date() + timedelta(days=days + 1))


def day_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """From the start of store day `first` to the end of `last`, both included; None stays open."""
    return (
        None if first is None else local_midnight(first),
        None if last is None else local_midnight(last + timedelta(days=1)),
    )
