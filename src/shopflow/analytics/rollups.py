"""The metric set's monthly rollups (ANA-1 at size, issue 15): the worker stores the metric set of
each whole store month of the last `analytics.rollup_months` for all channels, exactly as the
direct computation (`metrics.for_periods`) gave it, and computes it again once it is older than
half `analytics.rollup_max_age_minutes`. A request's period that is such a whole month, ended
before today, with a rollup younger than that age, is read from it; every other period (the
current month, a part of a month, a week, a channel's figures) is computed from the stored rows.

Months, not days: the customer metrics (repurchase rate and cycle) count distinct customers of a
period and are not sums of days. What a rollup cannot see is a change to its month after it was
computed (a refund settled now for an order counted then, a complaint, a merged customer, a new
cost): it shows once the worker recomputes the month, within the maximum age."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import metrics, repository
from shopflow.analytics.metrics import Metric, Row, Unit
from shopflow.analytics.models import Period, PeriodKind, period_of
from shopflow.core import clock, policy

Number = int | Decimal | None


def _number(value: Number) -> str | None:
    return None if value is None else str(value)


def _read(text: str | None) -> Number:
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else Decimal(text)


Stored = list[list[str | None]]


def encode(row: Row) -> Stored:
    """A row's metrics as JSON, in their order (JSONB keeps no key order): per metric its name,
    value, numerator and denominator as exact decimal strings, and its units."""
    return [
        [name, _number(m.value), _number(m.numerator), _number(m.denominator), m.unit, *m.parts]
        for name, m in row.metrics.items()
    ]


def decode(label: str, stored: Stored) -> Row:
    """The row `encode` stored, labelled `label`."""
    return Row(
        label,
        {
            str(name): Metric(_read(v), _read(n), _read(d), Unit(u), (Unit(a), Unit(b)))
            for name, v, n, d, u, a, b in stored
        },
    )


def whole_month(period: Period, today: date) -> bool:
    """`period` is one whole store month that ended before `today`."""
    month = period_of(period.first, PeriodKind.MONTH)
    return (period.first, period.last) == (month.first, month.last) and period.last < today


def _max_age() -> timedelta:
    return timedelta(minutes=policy.current().analytics.rollup_max_age_minutes)


async def compute(
    session: AsyncSession, first: date | None, last: date | None, channel: str | None, kind: PeriodKind | None
) -> list[Row]:
    """`metrics.compute`'s rows, each whole past month of all channels read from its rollup
    while fresh."""
    if first is None or last is None or channel is not None or not _max_age():
        return await metrics.compute(session, first, last, channel, kind)
    cut = metrics.cut_into(first, last, kind)
    today = clock.today()
    months = [p.first for p in cut if whole_month(p, today)]
    stored = await repository.rollups(session, months, clock.now() - _max_age()) if months else {}
    rest = [p for p in cut if p.first not in stored or not whole_month(p, today)]
    computed = iter(await metrics.for_periods(session, rest, channel) if rest else [])
    return [
        decode(p.label, stored[p.first]) if whole_month(p, today) and p.first in stored else next(computed)
        for p in cut
    ]


def _months_kept(today: date, count: int) -> list[date]:
    """The first days of the `count` whole months before `today`'s, oldest first."""
    found = []
    month = today.replace(day=1)
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
        found.append(month)
    return found[::-1]


async def refresh(session: AsyncSession) -> int:
    """The worker's sweep: compute and store the kept months whose rollup is missing or older than
    half the maximum age, in one computation from the oldest of them to the newest (the months
    between, fresh or not, stored anew as well); how many months it stored."""
    rules = policy.current().analytics
    if not rules.rollup_months or not _max_age():
        return 0
    now = clock.now()
    kept = _months_kept(clock.today(), rules.rollup_months)
    fresh = await repository.rollups(session, kept, now - _max_age() / 2)
    due = [m for m in kept if m not in fresh]
    if not due:
        return 0
    last = period_of(due[-1], PeriodKind.MONTH).last
    rows = await metrics.for_periods(session, metrics.cut_into(due[0], last, PeriodKind.MONTH), None)
    span = kept[kept.index(due[0]) : kept.index(due[-1]) + 1]
    computed = {month: encode(row) for month, row in zip(span, rows, strict=True)}
    await repository.store_rollups(session, computed, now)
    return len(computed)
