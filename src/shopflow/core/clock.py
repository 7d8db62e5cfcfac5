"""The one source of "now" (UTC, tz-aware), injectable in tests; working-day arithmetic (POL-2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta


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
