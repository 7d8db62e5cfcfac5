"""A report as the tables every format shows, in the reader's language: the metric set with the
period before and the change, the trend, top categories and SKUs, the pipeline. Values are the
API's (`metrics.shown`): counts, yuan, percents and days, as numbers; None where n/a. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from babel.support import Translations

from shopflow.analytics import metrics
from shopflow.analytics.metrics import Unit
from shopflow.analytics.reports import labels
from shopflow.analytics.reports.report import Report
from shopflow.core import clock, money
from shopflow.core.console.i18n import Label, translations

Number = int | Decimal
CENT = Decimal("0.01")
# The trend's columns: the metrics drawn per day, week or month.
TREND_METRICS = ("orders", "sales", "net_sales", "average_order_value", "refund_rate", "complaint_rate")


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # the metric's name in the dictionary ("sales")
    label: str
    unit: Unit
    value: Number | None  # None: n/a
    previous: Number | None
    change: Decimal | None  # percent of the value before; for a rate, percentage points


@dataclass(frozen=True, slots=True)
class Tables:
    locale: str
    title: str  # "Monthly report 2030-03"
    lines: list[str]  # the range, the range compared with, the channel, when it was made
    figures: list[Figure]
    trend_columns: list[tuple[str, str, Unit]]  # (metric, label, unit)
    trend: list[tuple[str, list[Number | None]]]  # (period label, values in trend_columns' order)
    categories: list[tuple[str, Decimal, int]]  # (category, sales in yuan, orders)
    skus: list[tuple[str, str, Decimal, int, int]]  # (sku, name, sales in yuan, units, orders)
    pipeline: list[tuple[str, str, int, int]]  # (pipeline, state, count, late)
    translations: Translations

    def text(self, marked: Label, **values: Any) -> str:
        return _text(self.translations, marked, **values)


def _text(t: Translations, marked: Label, **values: Any) -> str:
    """A marked text in the catalog's language, with its `%(name)s` values."""
    found = t.pgettext(*marked)
    return found % values if values else found


def number(metric: metrics.Metric) -> Number | None:
    """The metric's value as the API shows it, as a number: yuan, percent, days with 2 places."""
    shown = metrics.shown(metric)
    return Decimal(shown) if isinstance(shown, str) else shown


def yuan(fen: int) -> Decimal:
    return Decimal(money.fmt(fen))


def metric_label(t: Translations, name: str) -> str:
    """A metric's name in the catalog's language; `sla_compliance.<kind>` names its clock kind."""
    marked = labels.METRICS.get(name)
    if marked is not None:
        return t.pgettext(*marked)
    return _text(t, labels.SLA_COMPLIANCE, kind=name.removeprefix("sla_compliance."))


def _figures(report: Report, t: Translations) -> list[Figure]:
    summary = report.summary
    found = []
    for name, metric in summary.current.metrics.items():
        before = summary.previous.metrics.get(name)
        change = summary.changes.get(name)
        found.append(
            Figure(
                name=name,
                label=metric_label(t, name),
                unit=metric.unit,
                value=number(metric),
                previous=None if before is None else number(before),
                change=None if change is None else change.quantize(CENT, ROUND_HALF_UP),
            )
        )
    return found


def _row(metric_set: Mapping[str, metrics.Metric], names: tuple[str, ...]) -> list[Number | None]:
    return [number(metric_set[name]) for name in names]


def tables(report: Report, locale: str) -> Tables:
    """The report's tables in `locale` (zh_CN or en)."""
    t = translations(locale)
    summary = report.summary
    period, before = report.period, summary.before

    text = partial(_text, t)
    channel = text(labels.CHANNEL, channel=summary.channel) if summary.channel else text(labels.ALL_CHANNELS)
    units = summary.current.metrics
    return Tables(
        locale=locale,
        title=f"{text(labels.KINDS[report.kind])} {period.label}",
        lines=[
            text(labels.RANGE, first=period.first.isoformat(), last=period.last.isoformat()),
            text(labels.COMPARED, first=before[0].isoformat(), last=before[1].isoformat()),
            channel,
            text(labels.MADE, at=clock.local_text(report.made_at)),
        ],
        figures=_figures(report, t),
        trend_columns=[(name, metric_label(t, name), units[name].unit) for name in TREND_METRICS],
        trend=[(row.period, _row(row.metrics, TREND_METRICS)) for row in summary.trend],
        categories=[
            (c.category or text(labels.UNCATEGORISED), yuan(c.sales), c.orders) for c in summary.categories
        ],
        skus=[(s.sku, s.name, yuan(s.sales), s.quantity, s.orders) for s in summary.skus],
        pipeline=[
            (text(labels.PIPELINES[name]), stage.state, stage.count, stage.late)
            for name, stages in report.pipeline.items()
            for stage in stages
        ],
        translations=t,
    )


def shown(value: Number | None, unit: Unit, t: Tables) -> str:
    """A value as a person reads it: ¥1,234.50, 33.33%, 21.60, 4; "n/a" when None."""
    if value is None:
        return t.text(labels.NOT_AVAILABLE)
    match unit:
        case Unit.COUNT:
            return f"{value:,}"
        case Unit.MONEY:
            return money.yuan(int(Decimal(value) * 100))
        case Unit.RATE:
            return f"{value}%"
        case Unit.NUMBER:
            return str(value)


def shown_change(change: Decimal | None, unit: Unit, t: Tables) -> str:
    """+12.50%, or +3.20 pp for a rate; "n/a" when None."""
    if change is None:
        return t.text(labels.NOT_AVAILABLE)
    return f"{change:+}{' ' + t.text(labels.POINTS) if unit is Unit.RATE else '%'}"
