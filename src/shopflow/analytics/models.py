"""The funnel's data (CRM-5): daily traffic counts per channel, the periods a funnel is cut into
and the drop-off between its stages, as pure functions; the metric set's rollups (ANA-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import FieldError

# The store days an input may name: within the years times may name (core.schemas.EARLIEST ..
# LATEST), so a day's midnight stays a time in every zone.
FIRST_DAY = date(1900, 1, 2)
LAST_DAY = date(8999, 12, 30)


class TrafficCount(Base):
    """A channel's visitors and inquiries on one store day; posted again, the counts are replaced."""

    __tablename__ = "traffic_counts"
    __table_args__ = (
        UniqueConstraint("day", "channel"),
        CheckConstraint("visitors >= 0 AND inquiries >= 0", name="counts_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(40))
    visitors: Mapped[int] = mapped_column(Integer)
    inquiries: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MetricRollup(Base):
    """A whole store day, ISO week or month's metric set for all channels, as the direct
    computation gave it at `computed_at` (`analytics.rollups`): each metric's name, value,
    numerator, denominator and units."""

    __tablename__ = "metric_rollups"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # a PeriodKind
    first: Mapped[date] = mapped_column(Date, primary_key=True)  # the period's first store day
    metrics: Mapped[list[list[Any]]] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday (ISO)
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # "2026-12-07", "2026-W50", "2026-12"
    first: date
    last: date  # included


def period_label(day: date, kind: PeriodKind) -> str:
    match kind:
        case PeriodKind.DAY:
            return day.isoformat()
        case PeriodKind.WEEK:
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        case PeriodKind.MONTH:
            return f"{day.year}-{day.month:02d}"


def _period_end(day: date, kind: PeriodKind) -> date:
    """The last day of the period of `kind` holding `day`."""
    match kind:
        case PeriodKind.DAY:
            return day
        case PeriodKind.WEEK:
            return day + timedelta(days=6 - day.weekday())
        case PeriodKind.MONTH:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            return following - timedelta(days=1)


def period_of(day: date, kind: PeriodKind) -> Period:
    """The whole period of `kind` holding `day`: the day, its ISO week (Monday to Sunday) or its
    calendar month."""
    match kind:
        case PeriodKind.DAY:
            first = day
        case PeriodKind.WEEK:
            first = day - timedelta(days=day.weekday())
        case PeriodKind.MONTH:
            first = day.replace(day=1)
    return Period(period_label(first, kind), first, _period_end(first, kind))


def periods(first: date, last: date, kind: PeriodKind) -> list[Period]:
    """The periods of `kind` covering `first`..`last` (both included), the first and last cut to
    the range: a week from Wednesday counts from Wednesday."""
    found = []
    start = first
    while start <= last:
        end = min(_period_end(start, kind), last)
        found.append(Period(period_label(start, kind), start, end))
        start = end + timedelta(days=1)
    return found


def range_errors(first: date, last: date, max_days: int) -> list[FieldError]:
    """Why `first`..`last` is no range a funnel is drawn over (pure)."""
    if last < first:
        return [FieldError("to", "must not be before from")]
    if (last - first).days + 1 > max_days:
        return [FieldError("to", f"must be at most {max_days} days after from")]
    return []


STAGES = ("visitors", "inquiries", "buyers", "repeaters")


@dataclass(frozen=True, slots=True)
class DropOff:
    stage: str  # from this stage …
    to: str  # … to the next
    count: int  # how many fewer reached `to` (negative when more did)
    rate: float | None  # count / the stage's number, 4 places; None when the stage had nobody


def drop_offs(counts: dict[str, int]) -> list[DropOff]:
    """The drop-off between each pair of consecutive STAGES of `counts` (pure)."""
    found = []
    for stage, following in pairwise(STAGES):
        lost = counts[stage] - counts[following]
        rate = None if counts[stage] == 0 else round(lost / counts[stage], 4)
        found.append(DropOff(stage, following, lost, rate))
    return found
