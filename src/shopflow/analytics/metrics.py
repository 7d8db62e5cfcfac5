"""The metric dictionary (ANA-1, issue 15): every metric one named definition, computed for
periods of store days (day, ISO week, month, or all time) and a channel. `docs/metrics.md`
documents each formula; a metric without a denominator is n/a (`value` None), never 0.

An order counts in a period on the store-local date of its first captured payment (on credit
terms, ORD-5: its confirmation), `Order.counted_at`; replacement orders (ASV-6, the exchange
channel) never count; unpaid orders and orders cancelled before payment have no count date.
Store days are cut in the policy's time zone in Python (`clock.local_midnight`) and queried as
UTC ranges, so SQLite and PostgreSQL agree."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import metric_queries as q
from shopflow.analytics import repository
from shopflow.analytics.models import FIRST_DAY, LAST_DAY, Period, PeriodKind, periods
from shopflow.core import clock, policy, sla
from shopflow.orders.models import UNDATED, OrderClock

ALL = "all"
# All time: wider than any count date a store keeps, from the count time of imported history
# without dates (`UNDATED`), which no other period holds.
ALL_BOUNDS = (UNDATED, datetime(9000, 1, 1, tzinfo=UTC))


class Unit(StrEnum):
    COUNT = "count"  # an integer
    MONEY = "money"  # fen; the API shows yuan with 2 places
    RATE = "rate"  # a fraction; the API shows a percent with 2 places
    NUMBER = "number"  # days, turnover: 2 places


@dataclass(frozen=True, slots=True)
class Metric:
    value: int | Decimal | None  # None: n/a
    numerator: int | Decimal | None
    denominator: int | Decimal | None
    unit: Unit
    parts: tuple[Unit, Unit] = (Unit.COUNT, Unit.COUNT)  # the numerator's and denominator's


@dataclass(frozen=True, slots=True)
class Row:
    period: str  # "2017-03-05", "2017-W09", "2017-03" or "all"
    metrics: dict[str, Metric]


def ratio(
    numerator: int | Decimal, denominator: int | Decimal, unit: Unit, parts: tuple[Unit, Unit] | None = None
) -> Metric:
    """numerator / denominator; n/a when the denominator is 0."""
    value = None if not denominator else Decimal(numerator) / Decimal(denominator)
    return Metric(value, numerator, denominator, unit, parts or (Unit.COUNT, Unit.COUNT))


def count(value: int) -> Metric:
    return Metric(value, value, None, Unit.COUNT)


def money(value: int) -> Metric:
    return Metric(value, value, None, Unit.MONEY, (Unit.MONEY, Unit.COUNT))


def closing_values(
    entries: list[tuple[datetime, int, int, int, int]], first: date, last: date
) -> dict[date, int]:
    """The inventory value (Σ closing stock × cost, fen) at the end of each store day
    `first`..`last`, replaying the stock ledger: a (SKU, warehouse)'s closing stock is the balance
    after its last movement up to the day's end."""
    balances: dict[tuple[int, int], int] = {}
    value = 0
    values = {}
    index = 0
    day = first
    while day <= last:
        ends = clock.local_midnight(day + timedelta(days=1))
        while index < len(entries) and entries[index][0] < ends:
            _, sku, warehouse, after, cost = entries[index]
            value += (after - balances.get((sku, warehouse), 0)) * cost
            balances[(sku, warehouse)] = after
            index += 1
        values[day] = value
        day += timedelta(days=1)
    return values


def turnover(cogs: int, total: int, days: int) -> Metric:
    """COGS / mean daily inventory value (`total` of the closing values of `days` days); n/a
    without days or with no stock at all."""
    mean = Decimal(total) / days if days else Decimal(0)
    return ratio(cogs, mean.quantize(Decimal("1")), Unit.NUMBER, (Unit.MONEY, Unit.MONEY))


async def stock_values(
    session: AsyncSession, cut: list[Period], before: datetime, all_time: bool
) -> list[tuple[int, int]]:
    """Per period of `cut`: the sum of the closing inventory values of its store days up to
    today (all time: from the first stock movement) and how many such days; the movements are
    those before `before`. PostgreSQL sums them in SQL (`held_values`); elsewhere the ledger is
    replayed day by day (`closing_values`)."""
    today = clock.today()
    stock_from = cut[0].first
    if all_time:
        found = await q.first_movement(session, before)
        stock_from = found.astimezone(clock.store_zone()).date() if found is not None else today
    spans = [(max(p.first, stock_from), min(p.last, today)) for p in cut]
    days = [max(0, (last - first).days + 1) for first, last in spans]
    since = clock.local_midnight(min(first for first, _ in spans))
    held = await q.held_values(session, spans, since, before, clock.store_zone().key)
    if held is not None:
        return [(held.get(i, 0), n) for i, n in enumerate(days)]
    daily = closing_values(await q.stock_ledger(session, before), stock_from, min(cut[-1].last, today))
    return [
        (sum(v for d, v in daily.items() if first <= d <= last), n)
        for (first, last), n in zip(spans, days, strict=True)
    ]


async def compute(
    session: AsyncSession, first: date | None, last: date | None, channel: str | None, kind: PeriodKind | None
) -> list[Row]:
    """The metric set per period of `kind` over the store days `first`..`last` (both given), or
    one row `all` when `kind` is None (over the range when given, else all time)."""
    if first is None or last is None:
        return await for_periods(session, [Period(ALL, FIRST_DAY, LAST_DAY)], channel, all_time=True)
    return await for_periods(session, cut_into(first, last, kind), channel)


def cut_into(first: date, last: date, kind: PeriodKind | None) -> list[Period]:
    """The periods of `kind` over `first`..`last`, or one period `all` when `kind` is None."""
    return periods(first, last, kind) if kind is not None else [Period(ALL, first, last)]


async def for_periods(
    session: AsyncSession, cut: list[Period], channel: str | None, all_time: bool = False
) -> list[Row]:
    """The metric set of each period of `cut` (in order, none overlapping), computed from the
    stored orders, payments, tickets, clocks and stock ledger; `all_time`: the one period of all
    time, undated history included."""
    if all_time:
        bounds = [ALL_BOUNDS]
    else:
        bounds = [
            (clock.local_midnight(p.first), clock.local_midnight(p.last + timedelta(days=1))) for p in cut
        ]
    await q.without_jit(session)
    figures = await q.order_figures(session, bounds, channel)
    costs = await q.cost_of_goods(session, bounds, channel)
    refunds = await q.refunds_settled(session, bounds, channel)
    buyers = await q.customer_figures(session, bounds, channel)
    tickets = await q.complaints(session, bounds, channel)
    outcomes = await sla.compliance_by_window(session, q.windows_cte(bounds), clock.now())
    stock = await stock_values(session, cut, min(max(end for _, end in bounds), clock.now()), all_time)
    traffic = await repository.traffic_by_day(session, cut[0].first, cut[-1].last, channel)
    complaints: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for i, opened, done in tickets:
        complaints[i].append((opened, done))
    within = timedelta(hours=policy.current().analytics.resolution_within_hours)
    rows = []
    for index, period in enumerate(cut):
        orders, sales, refunded, complained = figures.get(index, (0, 0, 0, 0))
        net = sales - refunds.get(index, 0)
        customers, repeat, gap_days, gaps = buyers.get(index, (0, 0, Decimal(0), 0))
        mine = complaints[index]
        resolved = [(opened, done) for opened, done in mine if done is not None]
        quick = sum(1 for opened, done in resolved if done - opened <= within)
        clocks = {c.kind: c for c in outcomes.get(index, [])}
        visitors = sum(v for d, (v, _) in traffic.items() if period.first <= d <= period.last)
        inquirers = sum(i for d, (_, i) in traffic.items() if period.first <= d <= period.last)
        metrics = {
            "orders": count(orders),
            "sales": money(sales),
            "net_sales": money(net),
            "average_order_value": ratio(sales, orders, Unit.MONEY, (Unit.MONEY, Unit.COUNT)),
            "repurchase_rate": ratio(repeat, customers, Unit.RATE),
            "repurchase_cycle_days": ratio(gap_days, gaps, Unit.NUMBER, (Unit.NUMBER, Unit.COUNT)),
            "refund_rate": ratio(refunded, orders, Unit.RATE),
            "complaint_rate": ratio(complained, orders, Unit.RATE),
            "complaint_resolution_rate": ratio(len(resolved), len(mine), Unit.RATE),
            "resolution_24h_rate": ratio(quick, len(mine), Unit.RATE),
            "on_time_shipment_rate": _on_time(clocks.get(OrderClock.SHIP)),
            "on_time_delivery_rate": _on_time(clocks.get(OrderClock.DELIVER)),
            "gross_margin": ratio(net - costs.get(index, 0), net, Unit.RATE, (Unit.MONEY, Unit.MONEY)),
            "inventory_turnover": turnover(costs.get(index, 0), *stock[index]),
            "traffic_conversion": ratio(inquirers, visitors, Unit.RATE),
            "order_conversion": ratio(customers, inquirers, Unit.RATE),
            **{f"sla_compliance.{k}": _on_time(c) for k, c in sorted(clocks.items())},
        }
        rows.append(Row(period.label, metrics))
    return rows


def _on_time(found: sla.Compliance | None) -> Metric:
    """Met / decided clocks of a kind due in the period; n/a when none is decided."""
    if found is None:
        return Metric(None, 0, 0, Unit.RATE)
    return ratio(found.met, found.met + found.breached, Unit.RATE)


def shown(metric: Metric) -> int | str | None:
    """The API's value: counts as integers, money yuan and days with 2 places, rates percent."""
    return _shown(metric.value, metric.unit)


def _shown(value: int | Decimal | None, unit: Unit) -> int | str | None:
    if value is None:
        return None
    match unit:
        case Unit.COUNT:
            return int(value)
        case Unit.MONEY:
            return str((Decimal(value) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
        case Unit.RATE:
            return str((Decimal(value) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
        case Unit.NUMBER:
            return str(Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))


def as_json(row: Row) -> dict[str, object]:
    """A row as the API gives it: each metric's value, numerator and denominator (money as yuan)."""
    return {
        "period": row.period,
        "metrics": {
            name: {
                "value": shown(m),
                "numerator": _shown(m.numerator, m.parts[0]),
                "denominator": _shown(m.denominator, m.parts[1]),
            }
            for name, m in row.metrics.items()
        },
    }


@dataclass(frozen=True, slots=True)
class CategorySales:
    category: str | None  # "Parent / Child", or None for products without a category
    sales: int  # fen
    orders: int


@dataclass(frozen=True, slots=True)
class SkuSales:
    sku: str
    name: str
    sales: int  # fen
    quantity: int  # units sold
    orders: int


def _days(first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """The instants that bound the store days `first`..`last` (both None: all time)."""
    if first is None or last is None:
        return ALL_BOUNDS
    return clock.local_midnight(first), clock.local_midnight(last + timedelta(days=1))


async def categories(
    session: AsyncSession, first: date | None, last: date | None, limit: int, channel: str | None = None
) -> list[CategorySales]:
    """Line sales and orders per category of the orders counted over `first`..`last` (both None:
    all time; of `channel` when given), largest first."""
    await q.without_jit(session)
    rows = await q.category_sales(session, *_days(first, last), channel, limit)
    return [
        CategorySales(
            None if name is None else name if parent is None else f"{parent} / {name}", sales, orders
        )
        for name, parent, sales, orders in rows
    ]


async def skus(
    session: AsyncSession, first: date | None, last: date | None, limit: int, channel: str | None = None
) -> list[SkuSales]:
    """Line sales, units and orders per SKU of the orders counted over `first`..`last` (both None:
    all time; of `channel` when given), largest first."""
    rows = await q.sku_sales(session, *_days(first, last), channel, limit)
    return [SkuSales(*row) for row in rows]
