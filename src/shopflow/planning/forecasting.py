"""ANA-5: daily demand forecasts, pure NumPy, every SKU at once (no I/O here).

The method is additive exponential smoothing with a weekly season (Holt-Winters without a trend):
a SKU's demand on day t is its level plus the seasonal offset of t's weekday,

    error     e = y[t] - (level + season[t % 7])
    level    += alpha * e
    season[t % 7] += gamma * (y[t] - level - season[t % 7])

and the forecast for any later day is `max(level + season[weekday], 0)`. The loop runs over the
days, each step one array operation over every SKU and every (alpha, gamma) of a small grid at
once; each SKU keeps the pair with the least squared one-step error before the backtest window,
so its parameters are never tuned on the weeks it is judged on. 10,000 SKUs over two years is
730 steps over arrays of 90,000: about a second (bench/forecast.py), where a per-SKU loop over a
statistics library would take minutes.

The backtest forecasts each of the last `weeks` weeks from the state at its start (the model never
sees the week it forecasts) against the naive forecast "the same as last week", and scores both
by MAPE (mean of |error| / actual over days with demand) and WAPE (sum |error| / sum actual).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

WEEK = 7
ALPHAS = (0.05, 0.15, 0.35)
GAMMAS = (0.05, 0.15, 0.35)
INIT_WEEKS = 2  # the first level and season are the means of the first two weeks

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Backtest:
    """Per SKU, over the backtest window: the model's and the naive forecast's absolute errors
    summed, the actual units, and the MAPE of each (nan where the SKU sold nothing)."""

    abs_error: Matrix
    naive_abs_error: Matrix
    actual: Matrix
    mape: Matrix
    naive_mape: Matrix

    @property
    def wape(self) -> Matrix:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.actual > 0, self.abs_error / self.actual, np.nan)

    @property
    def naive_wape(self) -> Matrix:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.actual > 0, self.naive_abs_error / self.actual, np.nan)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Per SKU: the forecast of the next `horizon` days (n × horizon) and the backtest, when the
    history was long enough for one."""

    daily: Matrix
    backtest: Backtest | None


def _mape(forecast: Matrix, actual: Matrix) -> Matrix:
    sold = actual > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(sold, np.abs(forecast - actual) / np.where(sold, actual, 1.0), 0.0)
        return np.where(sold.any(axis=1), ratio.sum(axis=1) / sold.sum(axis=1), np.nan)


def forecast(history: Matrix, horizon: int, weeks: int) -> Forecast:
    """Forecast `horizon` days after the last column of `history` (SKUs × days, oldest first)
    for every SKU; backtested over the last `weeks` weeks when the history holds them, two weeks
    to start from and one week for the naive forecast."""
    n, days = history.shape
    init = INIT_WEEKS * WEEK
    if days < init:  # too short for a season: the mean, flat
        mean = history.mean(axis=1, keepdims=True) if days else np.zeros((n, 1))
        return Forecast(np.repeat(mean, horizon, axis=1), None)
    window = weeks * WEEK
    backtested = days >= init + window + WEEK
    cut = days - window if backtested else days
    starts = list(range(cut, days, WEEK)) if backtested else []

    grid = [(a, g) for a in ALPHAS for g in GAMMAS]
    alpha = np.array([a for a, _ in grid])[:, None]
    gamma = np.array([g for _, g in grid])[:, None]
    level = np.repeat(history[None, :, :init].mean(axis=2), len(grid), axis=0)
    season = np.stack([history[:, d:init:WEEK].mean(axis=1) for d in range(WEEK)], axis=1)
    season = np.repeat((season - level[0][:, None])[None], len(grid), axis=0)
    sse = np.zeros((len(grid), n))
    snapshots: list[tuple[Matrix, Matrix]] = []
    for t in range(init, days):
        if t in starts:
            snapshots.append((level.copy(), season.copy()))
        d = t % WEEK
        y = history[:, t]
        s = season[:, :, d]
        error = y - level - s
        if t < cut:
            sse += error * error
        level = level + alpha * error
        season[:, :, d] = s + gamma * (y - level - s)

    best = sse.argmin(axis=0)
    skus = np.arange(n)
    ahead = (days + np.arange(horizon)) % WEEK
    daily = np.maximum(level[best, skus][:, None] + season[best, skus][:, ahead], 0.0)
    if not backtested:
        return Forecast(daily, None)
    predicted = np.concatenate(
        [
            np.maximum(lv[best, skus][:, None] + ss[best, skus][:, (t + np.arange(WEEK)) % WEEK], 0.0)
            for t, (lv, ss) in zip(starts, snapshots, strict=True)
        ],
        axis=1,
    )
    actual = history[:, cut:]
    naive = history[:, cut - WEEK : days - WEEK]
    return Forecast(
        daily,
        Backtest(
            abs_error=np.abs(predicted - actual).sum(axis=1),
            naive_abs_error=np.abs(naive - actual).sum(axis=1),
            actual=actual.sum(axis=1),
            mape=_mape(predicted, actual),
            naive_mape=_mape(naive, actual),
        ),
    )


def abc_classes(revenue: Matrix, a_share: float, b_share: float) -> npt.NDArray[np.str_]:
    """ABC by revenue: the SKUs making the first `a_share` of revenue (best first, the one that
    crosses it included) are A, up to `b_share` B, the rest (and every SKU without revenue) C."""
    order = np.argsort(-revenue, kind="stable")
    total = revenue.sum()
    classes = np.full(revenue.shape, "C")
    if total <= 0:
        return classes
    before = (np.cumsum(revenue[order]) - revenue[order]) / total  # share of the SKUs ahead of each
    ranked = np.where(before < a_share, "A", np.where(before < b_share, "B", "C"))
    classes[order] = np.where(revenue[order] > 0, ranked, "C")
    return classes


@dataclass(frozen=True, slots=True)
class ClassError:
    abc: str
    skus: int
    mape: float
    wape: float
    naive_mape: float
    naive_wape: float


def errors_by_class(backtest: Backtest, classes: npt.NDArray[np.str_]) -> list[ClassError]:
    """The backtest per ABC class and over all: MAPE the mean of the SKUs' MAPEs, WAPE the class's
    summed absolute errors over its summed actual units."""
    found: list[ClassError] = []
    for abc in ("A", "B", "C", "all"):
        chosen = classes == abc if abc != "all" else np.ones(classes.shape, dtype=bool)
        actual = backtest.actual[chosen].sum()
        if not chosen.any():
            continue
        found.append(
            ClassError(
                abc=abc,
                skus=int(chosen.sum()),
                mape=_mean(backtest.mape[chosen]),
                wape=float(backtest.abs_error[chosen].sum() / actual) if actual else NAN,
                naive_mape=_mean(backtest.naive_mape[chosen]),
                naive_wape=float(backtest.naive_abs_error[chosen].sum() / actual) if actual else NAN,
            )
        )
    return found


NAN = float("nan")


def _mean(values: Matrix) -> float:
    """The mean of the finite values; nan when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else NAN


def demand_over(weekly: Matrix, days: npt.NDArray[np.int64]) -> Matrix:
    """Units forecast over the next `days[i]` days of SKU i, from its forecast of one week
    (`weekly`, n × 7, day 0 first; the forecast repeats weekly)."""
    cum = np.concatenate([np.zeros((weekly.shape[0], 1)), np.cumsum(weekly, axis=1)], axis=1)
    return (days // WEEK) * cum[:, WEEK] + cum[np.arange(weekly.shape[0]), days % WEEK]


def order_quantities(
    needed: Matrix, pack_size: npt.NDArray[np.int64], moq: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """`models.order_quantity` for every SKU at once."""
    packs = np.maximum(np.ceil(needed / pack_size), np.ceil(moq / pack_size))
    return np.where(needed > 0, packs * pack_size, 0).astype(np.int64)
