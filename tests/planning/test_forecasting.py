"""ANA-5: the forecast (exponential smoothing with a weekly season, every SKU at once) on series
with a known weekly season beats the naive "same as last week" forecast in the backtest."""

from __future__ import annotations

import json

import numpy as np

from shopflow.planning import forecasting
from shopflow.planning.forecasting import NAN
from shopflow.planning.models import order_quantity
from shopflow.planning.service.forecasts import Outcome

WEEK_SHAPE = np.array([0.6, 0.8, 1.0, 1.0, 1.2, 1.8, 1.6])  # quiet Monday, busy weekend


def seasonal(skus: int, days: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = rng.uniform(2, 40, size=skus)[:, None]
    return rng.poisson(level * WEEK_SHAPE[np.arange(days) % 7][None, :]).astype(np.float64)


def test_a_known_weekly_season_is_forecast_better_than_last_week() -> None:
    history = seasonal(300, 364)
    result = forecasting.forecast(history, 28, 8)
    assert result.backtest is not None
    test = result.backtest
    assert test.abs_error.sum() < 0.8 * test.naive_abs_error.sum()  # WAPE at least a fifth lower
    assert np.nanmean(test.mape) < np.nanmean(test.naive_mape)
    # The forecast keeps the season: Saturdays (day 5 of the pattern) above Mondays, for most SKUs.
    start = history.shape[1] % 7
    saturday, monday = (5 - start) % 7, (0 - start) % 7
    assert (result.daily[:, saturday] > result.daily[:, monday]).mean() > 0.95


def test_each_class_has_its_errors_and_all_of_them_together() -> None:
    history = seasonal(50, 120)
    result = forecasting.forecast(history, 14, 8)
    assert result.backtest is not None and result.daily.shape == (50, 14)
    classes = forecasting.abc_classes(history.sum(axis=1), 0.8, 0.95)
    rows = {row.abc: row for row in forecasting.errors_by_class(result.backtest, classes)}
    assert rows["all"].skus == 50 and sum(rows[c].skus for c in "ABC" if c in rows) == 50
    assert rows["all"].wape < rows["all"].naive_wape


def test_abc_classes_follow_the_share_of_revenue() -> None:
    revenue = np.array([50.0, 30.0, 10.0, 6.0, 4.0, 0.0])
    assert forecasting.abc_classes(revenue, 0.8, 0.95).tolist() == ["A", "A", "B", "B", "C", "C"]


def test_a_short_history_gives_a_flat_mean_and_no_backtest() -> None:
    result = forecasting.forecast(np.array([[1.0, 3.0, 2.0]]), 7, 8)
    assert result.backtest is None and result.daily.tolist() == [[2.0] * 7]


def test_demand_over_a_lead_time_repeats_the_weekly_forecast() -> None:
    weekly = np.array([[1.0, 2, 3, 4, 5, 6, 7]])
    assert forecasting.demand_over(weekly, np.array([3])).tolist() == [6.0]
    assert forecasting.demand_over(weekly, np.array([16])).tolist() == [2 * 28 + 3]


def test_order_quantities_agree_with_the_rule_for_one_sku() -> None:
    needed = np.array([0.0, 1, 25, 36.2, 5])
    packs, moqs = np.array([12, 12, 12, 12, 10]), np.array([24, 24, 24, 24, 15])
    expected = [order_quantity(n, p, m) for n, p, m in zip(needed, packs, moqs, strict=True)]
    assert forecasting.order_quantities(needed, packs, moqs).tolist() == expected


def test_a_class_without_sales_is_stored_as_null_errors() -> None:
    nothing = forecasting.ClassError("C", 3, NAN, NAN, NAN, NAN)
    summary = Outcome(3, [nothing]).summary()
    assert summary["errors"][0] == {
        "abc": "C",
        "skus": 3,
        "mape": None,
        "wape": None,
        "naive_mape": None,
        "naive_wape": None,
    }
    json.dumps(summary, allow_nan=False)  # what JSONB takes
