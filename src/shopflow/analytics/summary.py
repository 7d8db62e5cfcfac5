"""One range's picture, read by the dashboard and by the reports (ANA-1, ANA-4): the metric set
over the range and over the range before it (a calendar month's the month before; any other
range's the range of the same length just before it), each metric's change, the
trend per day, week or month, and the top categories and SKUs. Every number is the metric
dictionary's (metrics.py): no screen or report computes one of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import metrics, rollups
from shopflow.analytics.models import PeriodKind, period_of

TREND_DAYS = 31  # a range up to a month is drawn per day,
TREND_WEEKS = 26 * 7  # up to half a year per ISO week, longer ones per month


@dataclass(frozen=True, slots=True)
class Summary:
    first: date
    last: date
    channel: str | None
    before: tuple[date, date]  # the range compared with: `previous_range`
    current: metrics.Row
    previous: metrics.Row
    changes: dict[str, Decimal | None]  # per metric: see `change`
    trend_kind: PeriodKind
    trend: list[metrics.Row]
    categories: list[metrics.CategorySales]
    skus: list[metrics.SkuSales]


def trend_kind(first: date, last: date) -> PeriodKind:
    """The period a range's trend is drawn in."""
    days = (last - first).days + 1
    if days <= TREND_DAYS:
        return PeriodKind.DAY
    return PeriodKind.WEEK if days <= TREND_WEEKS else PeriodKind.MONTH


def previous_range(first: date, last: date) -> tuple[date, date]:
    """The range `first`..`last` is compared with: the calendar month before a whole month, else
    the range of the same length just before it (a week's the week before, a day's the day
    before)."""
    month = period_of(first, PeriodKind.MONTH)
    if (first, last) == (month.first, month.last):
        before = period_of(first - timedelta(days=1), PeriodKind.MONTH)
        return before.first, before.last
    length = last - first
    return first - length - timedelta(days=1), first - timedelta(days=1)


def change(now: metrics.Metric, before: metrics.Metric) -> Decimal | None:
    """A rate's change in percentage points; any other metric's in percent of its value before.
    None (n/a) when either side is n/a, or when a count or amount grows from nothing."""
    if now.value is None or before.value is None:
        return None
    if now.unit is metrics.Unit.RATE:
        return (Decimal(now.value) - Decimal(before.value)) * 100
    if not before.value:
        return None
    return (Decimal(now.value) - Decimal(before.value)) / Decimal(before.value) * 100


async def summarise(
    session: AsyncSession, first: date, last: date, channel: str | None, limit: int = 10
) -> Summary:
    """The picture of the store days `first`..`last` (of `channel` when given)."""
    before = previous_range(first, last)
    (current,) = await rollups.compute(session, first, last, channel, None)
    (previous,) = await rollups.compute(session, *before, channel, None)
    kind = trend_kind(first, last)
    return Summary(
        first=first,
        last=last,
        channel=channel,
        before=before,
        current=current,
        previous=previous,
        changes={
            name: change(m, previous.metrics[name]) if name in previous.metrics else None
            for name, m in current.metrics.items()
        },
        trend_kind=kind,
        trend=await rollups.compute(session, first, last, channel, kind),
        categories=await metrics.categories(session, first, last, limit, channel),
        skus=await metrics.skus(session, first, last, limit, channel),
    )
