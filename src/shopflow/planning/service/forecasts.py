"""ANA-5: the nightly forecast. Yesterday's (and any earlier missed) orders are rolled up into
daily demand per SKU, then every SKU's forecast is made at once (`planning.forecasting`) from the
policy's history window, backtested and stored; the run is claimed per day, so it runs once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import Sku
from shopflow.core import clock, policy
from shopflow.orders.service import queries as orders
from shopflow.planning import forecasting, repository
from shopflow.planning.errors import NoForecast
from shopflow.planning.models import DemandForecast

log = logging.getLogger("shopflow.planning")


async def roll_up_demand(session: AsyncSession, today: date) -> int:
    """Daily demand of the whole days before `today` not rolled up yet; how many rows it added."""
    last = await repository.last_demand_day(session)
    first = (
        last + timedelta(days=1) if last else today - timedelta(days=policy.current().planning.history_days)
    )
    if first >= today:
        return 0
    zone = clock.store_zone()
    units: Counter[tuple[int, date]] = Counter()
    for sku_id, at, quantity in await orders.units_ordered(
        session, clock.local_midnight(first), clock.local_midnight(today)
    ):
        units[(sku_id, at.astimezone(zone).date())] += quantity
    rows = [{"sku_id": s, "day": d, "quantity": q} for (s, d), q in sorted(units.items())]
    await repository.add_demand(session, rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A forecast run: how many SKUs, and the backtest per ABC class (empty when too short)."""

    skus: int
    errors: list[forecasting.ClassError]

    def summary(self) -> dict[str, Any]:
        """As JSON holds it: an error without a value (a class that sold nothing) is null."""
        errors = [{k: _json(v) for k, v in asdict(e).items()} for e in self.errors]
        return {"skus": self.skus, "errors": errors}


def _json(value: Any) -> Any:
    return None if isinstance(value, float) and np.isnan(value) else value


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


async def recompute(session: AsyncSession, today: date) -> Outcome:
    """Every SKU with demand in the history window forecast from `today` on, stored (the previous
    forecasts replaced); the backtest per ABC class."""
    rules = policy.current().planning
    first, last = today - timedelta(days=rules.history_days), today - timedelta(days=1)
    found = await repository.demand(session, first, last)
    if not found.sku_ids:
        await repository.replace_forecasts(session, [])
        return Outcome(0, [])
    sku_ids, row_of = np.unique(np.array(found.sku_ids, dtype=np.int64), return_inverse=True)
    day_of = np.array(found.days, dtype=np.int64)
    start = int(day_of.min())  # the history starts at the first day with demand
    history = np.zeros((len(sku_ids), (last - first).days + 1 - start))
    np.add.at(history, (row_of, day_of - start), np.array(found.units, dtype=np.float64))
    result = forecasting.forecast(history, rules.forecast_horizon_days, rules.backtest_weeks)
    price = await repository.prices(session)
    revenue = history.sum(axis=1) * np.array([price.get(int(s), 0) for s in sku_ids], dtype=np.float64)
    classes = forecasting.abc_classes(revenue, rules.abc_a_percent / 100, rules.abc_b_percent / 100)
    at = clock.now()
    test = result.backtest
    stored = [
        {
            "sku_id": int(sku_id),
            "start": today,
            "daily": [round(float(v), 3) for v in result.daily[i]],
            "abc": str(classes[i]),
            "mape": _finite(test.mape[i]) if test else None,
            "wape": _finite(test.wape[i]) if test else None,
            "naive_mape": _finite(test.naive_mape[i]) if test else None,
            "naive_wape": _finite(test.naive_wape[i]) if test else None,
            "computed_at": at,
        }
        for i, sku_id in enumerate(sku_ids)
    ]
    await repository.replace_forecasts(session, stored)
    return Outcome(len(sku_ids), forecasting.errors_by_class(test, classes) if test else [])


async def nightly(session: AsyncSession) -> int:
    """The day's forecast, once a day (the worker's sweep): 1 when it ran now, else 0."""
    today = clock.today()
    run_id = await repository.claim_run(session, today, clock.now())
    if run_id is None:
        return 0
    await roll_up_demand(session, today)
    outcome = await recompute(session, today)
    await repository.finish_run(session, run_id, outcome.skus, outcome.summary())
    for e in outcome.errors:
        log.info(
            "forecast backtest class %s (%d SKUs): MAPE %.3f (naive %.3f), WAPE %.3f (naive %.3f)",
            e.abc,
            e.skus,
            e.mape,
            e.naive_mape,
            e.wape,
            e.naive_wape,
        )
    return 1


async def latest_errors(session: AsyncSession) -> list[forecasting.ClassError]:
    """The last nightly run's backtest per ABC class (none before the first run)."""
    run = await repository.latest_run(session)
    if run is None:
        return []
    return [
        forecasting.ClassError(**{k: forecasting.NAN if v is None else v for k, v in e.items()})
        for e in run.summary.get("errors", [])
    ]


@dataclass(frozen=True, slots=True)
class SkuForecast:
    """A SKU's recent demand (`weeks` weeks to yesterday, every day) and its stored forecast."""

    sku: Sku
    history: list[tuple[date, int]]
    forecast: DemandForecast

    def days(self) -> list[tuple[date, float]]:
        return [(self.forecast.start + timedelta(days=i), v) for i, v in enumerate(self.forecast.daily)]

    @property
    def computed_at(self) -> datetime:
        return self.forecast.computed_at


async def of_sku(session: AsyncSession, sku: Sku, weeks: int = 8) -> SkuForecast:
    found = await repository.forecast_of(session, sku.id)
    if found is None:
        raise NoForecast(
            f"no forecast for {sku.code!r} yet: it has no demand history, or the nightly run has not run"
        )
    first = found.start - timedelta(days=weeks * 7)
    sold = await repository.demand_of(session, sku.id, first)
    history = [(first + timedelta(days=i), sold.get(first + timedelta(days=i), 0)) for i in range(weeks * 7)]
    return SkuForecast(sku, history, found)


async def weekly(session: AsyncSession, sku_ids: list[int]) -> dict[int, list[float]]:
    """Each SKU's forecast of the next seven days (the forecast repeats weekly)."""
    return {f.sku_id: list(f.daily[:7]) for f in await repository.forecasts(session, sku_ids)}
