"""The policy's calendar section (`[calendar]`): the store's time zone, weekend, holidays,
make-up working days and business hours per weekday, validated; `core.businesstime` computes
deadlines over it."""

from __future__ import annotations

from datetime import date, time
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _period(text: str) -> str:
    """A working period "09:00-12:00"; an end of "24:00" is midnight."""
    try:
        opens, closes = (time.fromisoformat(part) for part in text.replace("24:00", "00:00").split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a period like 09:00-12:00") from None
    if closes != time() and closes <= opens:
        raise ValueError(f"{text!r} ends before it begins")
    return text


Period = Annotated[str, AfterValidator(_period)]


def _ordered(periods: tuple[str, ...]) -> tuple[str, ...]:
    parsed = parse_periods(periods)
    for (_, closes), (opens, _) in pairwise(parsed):
        if closes == time() or opens < closes:
            raise ValueError("periods must be in order and not overlap")
    return periods


Periods = Annotated[tuple[Period, ...], AfterValidator(_ordered)]


def parse_periods(periods: tuple[str, ...]) -> tuple[tuple[time, time], ...]:
    return tuple(
        (time.fromisoformat(opens), time.fromisoformat(closes.replace("24:00", "00:00")))
        for opens, closes in (period.split("-") for period in periods)
    )


# (†) The store's business hours, every day: the service desk's clocks in business time count
# only these (SLA-1; issue 14's example: 09:00–12:00 and 13:30–21:00).
DEFAULT_HOURS: dict[str, tuple[str, ...]] = dict.fromkeys(WEEKDAYS, ("09:00-12:00", "13:30-21:00"))


def _over_default_hours(hours: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return DEFAULT_HOURS | hours


class Calendar(BaseModel):
    """The store's calendar (SLA-1, issue 14): its time zone, weekend, holidays, make-up working
    days (调休) and business hours, as the policy's `[calendar]` gives them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: Annotated[str, AfterValidator(_zone)] = "Asia/Shanghai"
    weekend: frozenset[Annotated[int, Field(ge=0, le=6)]] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    # Business hours by weekday (`sat = []`: closed on Saturdays); the days not named keep theirs.
    hours: Annotated[dict[Weekday, Periods], AfterValidator(_over_default_hours)] = DEFAULT_HOURS
    # Make-up working days (调休): open with `makeup_hours`, or Monday's hours when not set.
    makeup_workdays: frozenset[date] = frozenset()
    makeup_hours: Periods | None = None

    @model_validator(mode="after")
    def _makeup_days_are_not_holidays(self) -> Calendar:
        both = sorted(self.holidays & self.makeup_workdays)
        if both:
            raise ValueError(f"{', '.join(map(str, both))}: both a holiday and a make-up working day")
        return self

    def periods(self, weekday: int) -> tuple[tuple[time, time], ...]:
        """The business hours of a weekday (0 = Monday)."""
        return parse_periods(self.hours[WEEKDAYS[weekday]])

    def makeup_periods(self) -> tuple[tuple[time, time], ...] | None:
        return None if self.makeup_hours is None else parse_periods(self.makeup_hours)
