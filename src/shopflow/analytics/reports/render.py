"""A report as JSON (the API's shapes), CSV and standalone HTML (ECharts inlined, so the file
opens offline); the metric set of `GET /analytics/metrics` as CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import metrics
from shopflow.analytics.reports import labels
from shopflow.analytics.reports.report import (
    MEDIA_TYPES,
    Format,
    Kind,
    Report,
    build,
    filename,
    last_complete,
)
from shopflow.analytics.reports.tables import CENT, Tables, shown, shown_change, tables
from shopflow.analytics.reports.xlsx import as_xlsx
from shopflow.analytics.schemas import (
    CategorySalesOut,
    MetricRow,
    PipelineOut,
    ReportOut,
    SkuSalesOut,
    StageOut,
)
from shopflow.core import clock, money
from shopflow.core.console.i18n import WEB
from shopflow.core.console.render import document

ECHARTS = WEB / "static" / "vendor" / "echarts" / "echarts.common.min.js"


def as_json(report: Report) -> ReportOut:
    summary = report.summary
    return ReportOut(
        kind=report.kind,
        period=report.period.label,
        first=report.period.first,
        last=report.period.last,
        channel=summary.channel,
        previous_first=summary.before[0],
        previous_last=summary.before[1],
        made_at=report.made_at,
        current=MetricRow.model_validate(metrics.as_json(summary.current)),
        previous=MetricRow.model_validate(metrics.as_json(summary.previous)),
        changes={
            name: None if change is None else str(change.quantize(CENT, ROUND_HALF_UP))
            for name, change in summary.changes.items()
        },
        trend_period=summary.trend_kind,
        trend=[MetricRow.model_validate(metrics.as_json(row)) for row in summary.trend],
        categories=[
            CategorySalesOut(category=c.category, sales=money.fmt(c.sales), orders=c.orders)
            for c in summary.categories
        ],
        skus=[
            SkuSalesOut(
                sku=s.sku, name=s.name, sales=money.fmt(s.sales), quantity=s.quantity, orders=s.orders
            )
            for s in summary.skus
        ],
        pipeline=PipelineOut(
            **{
                name: [StageOut.model_validate(s, from_attributes=True) for s in stages]
                for name, stages in report.pipeline.items()
            }
        ),
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def as_csv(t: Tables) -> str:
    """Sections one after another, a blank line between them, each with its heading row: the
    metric set (its name in the dictionary, label, value, previous, change; yuan, percents and
    days as the API writes them, blank where n/a), the trend, categories, SKUs, the pipeline."""
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow([t.title])
    rows.writerows([line] for line in t.lines)
    rows.writerow([])
    rows.writerow(
        [
            "metric",
            t.text(labels.METRIC),
            t.text(labels.VALUE),
            t.text(labels.PREVIOUS),
            t.text(labels.CHANGE),
        ]
    )
    rows.writerows([f.name, f.label, _cell(f.value), _cell(f.previous), _cell(f.change)] for f in t.figures)
    rows.writerow([])
    rows.writerow([t.text(labels.PERIOD), *(name for _, name, _ in t.trend_columns)])
    rows.writerows([period, *map(_cell, values)] for period, values in t.trend)
    rows.writerow([])
    rows.writerow([t.text(labels.CATEGORY), t.text(labels.VALUE), t.text(labels.COUNT)])
    rows.writerows(t.categories)
    rows.writerow([])
    rows.writerow([t.text(h) for h in (labels.SKU, labels.NAME, labels.VALUE, labels.QUANTITY, labels.COUNT)])
    rows.writerows(t.skus)
    rows.writerow([])
    rows.writerow([t.text(h) for h in (labels.PIPELINE, labels.STATE, labels.COUNT, labels.LATE)])
    rows.writerows(t.pipeline)
    return out.getvalue()


def metrics_csv(rows: list[metrics.Row]) -> str:
    """`GET /analytics/metrics` as CSV: a line per period and metric, with its value, numerator
    and denominator as the API writes them (blank where null)."""
    out = io.StringIO()
    lines = csv.writer(out, lineterminator="\n")
    lines.writerow(["period", "metric", "value", "numerator", "denominator"])
    for row in rows:
        shown_row: dict[str, Any] = metrics.as_json(row)
        for name, metric in shown_row["metrics"].items():
            lines.writerow(
                [row.period, name, *(_cell(metric[k]) for k in ("value", "numerator", "denominator"))]
            )
    return out.getvalue()


@cache
def _echarts() -> str:
    return ECHARTS.read_text(encoding="utf-8")


def _chart(title: str, names: list[str], series: list[tuple[str, str, list[Any]]]) -> str:
    """An ECharts option as JSON: categories `names`, each series (name, line or bar, values)."""
    option = {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14, "fontWeight": 600}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"left": 64, "right": 24, "top": 64, "bottom": 56},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value"},
        "series": [
            {"name": name, "type": kind, "data": [None if v is None else float(v) for v in values]}
            for name, kind, values in series
        ],
    }
    return json.dumps(option, ensure_ascii=False)


def charts(t: Tables) -> list[str]:
    """The report's charts as ECharts options: sales and orders per period, top categories."""
    periods = [period for period, _ in t.trend]
    column = {name: index for index, (name, _, _) in enumerate(t.trend_columns)}
    label = {name: text for name, text, _ in t.trend_columns}

    def series(name: str, kind: str) -> tuple[str, str, list[Any]]:
        return label[name], kind, [values[column[name]] for _, values in t.trend]

    return [
        _chart(t.text(labels.SALES_TREND), periods, [series("sales", "line"), series("net_sales", "line")]),
        _chart(t.text(labels.ORDERS_TREND), periods, [series("orders", "bar")]),
        _chart(
            t.text(labels.TOP_CATEGORIES),
            [name for name, _, _ in t.categories],
            [(label["sales"], "bar", [sales for _, sales, _ in t.categories])],
        ),
    ]


def as_html(t: Tables) -> str:
    """One standalone page: the tables, and the charts drawn by ECharts inlined in it (nothing is
    fetched: it opens offline, from a file or an email)."""
    return document(
        "analytics/report.html",
        t.locale,
        t=t,
        labels=labels,
        shown=shown,
        change=shown_change,
        charts=charts(t),
        echarts=_echarts(),
    )


def content(report: Report, fmt: Format, locale: str) -> bytes:
    """The report's file in `fmt`, its texts in `locale` (zh_CN or en); CSV in UTF-8 with a byte
    order mark, which spreadsheet programs need to read Chinese."""
    match fmt:
        case Format.JSON:
            return as_json(report).model_dump_json(indent=2).encode()
        case Format.CSV:
            return as_csv(tables(report, locale)).encode("utf-8-sig")
        case Format.XLSX:
            return as_xlsx(tables(report, locale))
        case Format.HTML:
            return as_html(tables(report, locale)).encode()


@dataclass(frozen=True, slots=True)
class Download:
    body: bytes
    media_type: str
    filename: str  # "shopflow-monthly-2030-03.xlsx"

    @property
    def disposition(self) -> str:
        return f'attachment; filename="{self.filename}"'


async def download(
    session: AsyncSession, kind: Kind, day: date | None, fmt: Format, channel: str | None, locale: str
) -> Download:
    """The report of `kind` for the period holding `day` (None: the last one that has ended) as
    the file the API and the console hand out."""
    chosen = day if day is not None else last_complete(kind, clock.today()).first
    made = await build(session, kind, chosen, channel)
    return Download(content(made, fmt, locale), MEDIA_TYPES[fmt], filename(kind, made.period, fmt))
