"""The metric set's rollups (ANA-1 at size, issue 15): the worker stores the metric set of each
whole store day, ISO week and month of the last `analytics.rollup_days`, `rollup_weeks` and
`rollup_months` for all channels, exactly as the direct computation (`metrics.for_periods`) gave
it, and computes it again once it is older than half `analytics.rollup_max_age_minutes`. A
request's period that is such a whole day, week or month, ended before today, with a rollup
younger than that age, is read from it; every other period (today, this week and month, a part of
a period, a range of several, a channel's figures) is computed from the stored rows.

Each period is rolled up whole, not summed from days: the customer metrics (repurchase rate and
cycle) count distinct customers of a period and are no sums of days. What a rollup cannot see is
a change to its period after it was computed (a refund settled now for an order counted then, a
complaint, a merged customer, a new cost): it shows once the worker computes the period again,
within the maximum age."""

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


def _whole(period: Period, today: date) -> PeriodKind | None:
    """The kind of whole store period `period` is (a day, an ISO week or a calendar month), if it
    ended before `today`."""
    if period.last >= today:
        return None
    for kind in PeriodKind:
        whole = period_of(period.first, kind)
        if (period.first, period.last) == (whole.first, whole.last):
            return kind
    return None


def _max_age() -> timedelta:
    return timedelta(minutes=policy.current().analytics.rollup_max_age_minutes)


async def compute(
    session: AsyncSession, first: date | None, last: date | None, channel: str | None, kind: PeriodKind | None
) -> list[Row]:
    """`metrics.compute`'s rows, each whole past day, week or month of all channels read from its
    rollup while fresh."""
    if first is None or last is None or channel is not None or not _max_age():
        return await metrics.compute(session, first, last, channel, kind)
    cut = metrics.cut_into(first, last, kind)
    today = clock.today()
    keys = {p: (whole, p.first) for p in cut if (whole := _whole(p, today)) is not None}
    stored = await repository.rollups(session, list(keys.values()), clock.now() - _max_age()) if keys else {}
    rest = [p for p in cut if keys.get(p) not in stored]
    computed = iter(await metrics.for_periods(session, rest, channel) if rest else [])
    return [decode(p.label, stored[keys[p]]) if keys.get(p) in stored else next(computed) for p in cut]


def kept(kind: PeriodKind, today: date, count: int) -> list[Period]:
    """The `count` whole periods of `kind` before the one holding `today`, oldest first."""
    found = []
    day = period_of(today, kind).first
    for _ in range(count):
        found.append(period_of(day - timedelta(days=1), kind))
        day = found[-1].first
    return found[::-1]


async def refresh(session: AsyncSession) -> int:
    """The worker's sweep: per kind, compute and store the kept periods whose rollup is missing or
    older than half the maximum age, in one computation from the oldest of them to the newest
    (those between, fresh or not, stored anew as well); how many periods it stored."""
    rules = policy.current().analytics
    if not _max_age():
        return 0
    now = clock.now()
    counts = {
        PeriodKind.DAY: rules.rollup_days,
        PeriodKind.WEEK: rules.rollup_weeks,
        PeriodKind.MONTH: rules.rollup_months,
    }
    stored = 0
    for kind, count in counts.items():
        periods = kept(kind, clock.today(), count)
        fresh = await repository.rollups(session, [(kind, p.first) for p in periods], now - _max_age() / 2)
        due = [i for i, p in enumerate(periods) if (kind, p.first) not in fresh]
        if not due:
            continue
        span = periods[due[0] : due[-1] + 1]
        rows = await metrics.for_periods(session, span, None)
        await repository.store_rollups(
            session, {(kind, p.first): encode(row) for p, row in zip(span, rows, strict=True)}, now
        )
        stored += len(span)
    return stored
