"""Monitoring use cases (ANA-3, SLA-1, SLA-3): alerts to see, acknowledge and resolve, the clocks
of a subject, compliance per clock kind; the funnel (CRM-5): daily traffic counts stored, and
visitors → inquiries → buyers → repeaters per period."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import metrics, repository, rollups
from shopflow.analytics import pipeline as pipelines
from shopflow.analytics import summary as summaries
from shopflow.analytics.models import (
    DropOff,
    Period,
    PeriodKind,
    TrafficCount,
    drop_offs,
    periods,
    range_errors,
)
from shopflow.analytics.pipeline import Stage
from shopflow.analytics.schemas import TrafficIn
from shopflow.core import alerts, audit, clock, policy, sla
from shopflow.core.alerts import Alert, AlertFilter
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid


async def list_alerts(
    session: AsyncSession, chosen: AlertFilter, page: int, page_size: int
) -> tuple[list[Alert], int]:
    """A page of alerts, newest first, and how many match."""
    return await alerts.page(session, chosen, (page - 1) * page_size, page_size)


async def acknowledge(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    """`actor` has seen the alert and owns it (audited); a second acknowledgement is a 409."""
    return await alerts.acknowledge(session, actor, alert_id)


async def acknowledge_many(
    session: AsyncSession, actor: Actor, *, ids: Collection[int] = (), chosen: AlertFilter | None = None
) -> int:
    """Acknowledge the open alerts among `ids`, or all matching `chosen`; how many."""
    return await alerts.acknowledge_many(session, actor, ids=ids, chosen=chosen)


async def resolve(session: AsyncSession, actor: Actor, alert_id: int, note: str) -> Alert:
    """Close the alert by hand with a note (audited)."""
    return await alerts.resolve(session, actor, alert_id, note)


async def clocks_of(session: AsyncSession, subject: str) -> tuple[datetime, list[sla.SlaClock]]:
    """The subject's clocks, and the time to count their time left from."""
    return clock.now(), await sla.of_subject(session, subject)


async def compliance(session: AsyncSession, due_from: datetime, due_to: datetime) -> list[sla.Compliance]:
    """SLA-3 per clock kind over the clocks due in [from, to); cancelled clocks are left out."""
    return await sla.compliance(session, due_from, due_to, clock.now())


def channel_errors(channel: str, field: str = "channel") -> list[FieldError]:
    """A channel the store does not sell through (ORD-1's channels of the policy) is an error."""
    known = policy.current().orders.channels
    if channel in known:
        return []
    return [FieldError(field, f"unknown channel {channel!r}: one of {', '.join(known)}")]


async def filter_errors(session: AsyncSession, channel: str | None) -> list[FieldError]:
    """A figure's channel filter: one of the policy's channels, or one that stored orders have
    (imported history: olist, shopify, woocommerce …); else an error."""
    if channel is None or not channel_errors(channel) or await repository.has_orders_of(session, channel):
        return []
    return channel_errors(channel)


async def record_traffic(session: AsyncSession, actor: Actor, rows: Sequence[TrafficIn]) -> int:
    """Store each row's visitors and inquiries for its (date, channel), replacing counts posted
    before (one upsert), each audited with the counts it replaced; how many rows. A row naming an
    unknown channel is a 422 naming `channel` (`<n>.channel` in a list), nothing stored."""
    errors = [e for i, r in enumerate(rows) for e in channel_errors(r.channel, _name(i, len(rows)))]
    if errors:
        raise Invalid("the traffic counts have errors; nothing was stored", errors=errors)
    latest = {(r.date, r.channel): r for r in rows}  # a key twice in one file: its last row counts
    before = await repository.counts_of(session, list(latest))
    at = clock.now()
    stored = [
        {
            "day": day,
            "channel": channel,
            "visitors": r.visitors,
            "inquiries": r.inquiries,
            "updated_by": actor.user_id,
            "updated_at": at,
        }
        for (day, channel), r in latest.items()
    ]
    await repository.upsert(session, stored)
    await audit.record(
        session,
        *(
            audit.row(
                actor,
                "traffic.recorded",
                "traffic",
                f"{row['day'].isoformat()}:{row['channel']}",
                _counts(before.get((row["day"], row["channel"]))),
                {"visitors": row["visitors"], "inquiries": row["inquiries"]},
                at,
            )
            for row in stored
        ),
    )
    return len(stored)


def _name(index: int, count: int) -> str:
    return "channel" if count == 1 else f"{index}.channel"


def _counts(found: TrafficCount | None) -> dict[str, int] | None:
    return None if found is None else {"visitors": found.visitors, "inquiries": found.inquiries}


async def traffic_of(session: AsyncSession, day: date, channel: str) -> TrafficCount:
    """The counts stored for `day` and `channel` (just recorded)."""
    return (await repository.counts_of(session, [(day, channel)]))[(day, channel)]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    period: Period
    counts: dict[str, int]  # visitors, inquiries, buyers, repeaters
    drop_offs: list[DropOff]


@dataclass(frozen=True, slots=True)
class Funnel:
    steps: list[FunnelStep]
    total: FunnelStep


TOTAL = "total"


async def funnel(
    session: AsyncSession, first: date, last: date, channel: str | None, kind: PeriodKind
) -> Funnel:
    """CRM-5 over the store days `first`..`last`: per period of `kind` and over the whole range,
    visitors and inquiries (the traffic counts), buyers (customers with an order paid in the
    period, of `channel` when given) and repeaters (those buyers with at least
    `crm.repeat_orders_at_least` orders paid, any channel, up to the period's end), with the
    drop-off between consecutive stages. Bad ranges and unknown channels are 422s naming them."""
    rules = policy.current().crm
    errors = range_errors(first, last, rules.funnel_max_days)
    errors += await filter_errors(session, channel)
    if errors:
        raise Invalid("no funnel for these filters", errors=errors)
    cut = periods(first, last, kind)
    whole = Period(TOTAL, first, last)
    windows = [*cut, whole]
    bounds = [
        (clock.local_midnight(p.first), clock.local_midnight(p.last + timedelta(days=1))) for p in windows
    ]
    bought = await repository.buyers(session, bounds, channel, rules.repeat_orders_at_least)
    traffic = await repository.traffic_by_day(session, first, last, channel)
    steps = []
    for index, period in enumerate(windows):
        days = [c for d, c in traffic.items() if period.first <= d <= period.last]
        buyers, repeaters = bought.get(index, (0, 0))
        counts = {
            "visitors": sum(v for v, _ in days),
            "inquiries": sum(i for _, i in days),
            "buyers": buyers,
            "repeaters": repeaters,
        }
        steps.append(FunnelStep(period, counts, drop_offs(counts)))
    return Funnel(steps[:-1], steps[-1])


async def metric_rows(
    session: AsyncSession, first: date | None, last: date | None, channel: str | None, kind: PeriodKind | None
) -> list[metrics.Row]:
    """ANA-1's metric set per period of `kind` (None: one row `all`) over `first`..`last` (both
    None: all time); bad filters are 422s naming them."""
    errors = _filter_errors(first, last)
    if first is None and last is None and kind is not None:
        errors.append(FieldError("period", "a period other than all needs from and to"))
    errors += await filter_errors(session, channel)
    if errors:
        raise Invalid("no metrics for these filters", errors=errors)
    return await rollups.compute(session, first, last, channel, kind)


def _filter_errors(first: date | None, last: date | None) -> list[FieldError]:
    if (first is None) != (last is None):
        return [FieldError("to" if last is None else "from", "give both from and to, or neither")]
    if first is not None and last is not None:
        return range_errors(first, last, policy.current().analytics.metrics_max_days)
    return []


async def summary(session: AsyncSession, first: date, last: date, channel: str | None) -> summaries.Summary:
    """The dashboard's and the reports' picture of `first`..`last`; bad filters are 422s."""
    errors = range_errors(first, last, policy.current().analytics.metrics_max_days)
    errors += await filter_errors(session, channel)
    if errors:
        raise Invalid("no summary for these filters", errors=errors)
    return await summaries.summarise(session, first, last, channel)


async def category_sales(
    session: AsyncSession, first: date | None, last: date | None, limit: int, channel: str | None = None
) -> list[metrics.CategorySales]:
    """ANA-1's sales by category over `first`..`last` (both None: all time), of `channel` when given."""
    errors = _filter_errors(first, last) + await filter_errors(session, channel)
    if errors:
        raise Invalid("no category sales for these filters", errors=errors)
    return await metrics.categories(session, first, last, limit, channel)


async def sku_sales(
    session: AsyncSession, first: date | None, last: date | None, limit: int, channel: str | None = None
) -> list[metrics.SkuSales]:
    """ANA-1's sales by SKU over `first`..`last` (both None: all time), of `channel` when given."""
    errors = _filter_errors(first, last) + await filter_errors(session, channel)
    if errors:
        raise Invalid("no SKU sales for these filters", errors=errors)
    return await metrics.skus(session, first, last, limit, channel)


async def pipeline(session: AsyncSession) -> dict[str, list[Stage]]:
    """ANA-2: orders, after-sales cases and tickets per state, with those past a clock."""
    return await pipelines.pipeline(session)
