"""The dashboard (ANA-1, ANA-2, CRM-5; issue 15): the metric set of a range of store days and a
channel beside the range just before it with each change, trend charts, the pipeline, the funnel,
the top categories and SKUs, and links to the reports and the metrics API; and the page of the
metric definitions each figure links to. Every number is the metric dictionary's, read through
`service.summary`, `service.pipeline` and `service.funnel`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from shopflow.analytics import metrics, service, summary
from shopflow.analytics.console.definitions import DEFINITIONS, SLA_FAMILY, anchor
from shopflow.analytics.console.monitoring import funnel_values, typed_range
from shopflow.analytics.metrics import Metric, Unit
from shopflow.analytics.models import PeriodKind
from shopflow.analytics.reports import labels
from shopflow.analytics.reports import render as reports
from shopflow.analytics.reports.report import Format, Kind
from shopflow.core import clock, policy
from shopflow.core.api import Session
from shopflow.core.console.forms import form_errors
from shopflow.core.console.i18n import label
from shopflow.core.console.page import Console
from shopflow.core.console.render import render
from shopflow.core.console.session import can_view
from shopflow.core.errors import Invalid

router = APIRouter(include_in_schema=False)
PERMISSION = "analytics.read"
DEFAULT_DAYS = 30  # the range shown when none is chosen: the last 30 days
REPORT_FORMATS = ("csv", "xlsx", "html")
# Metrics whose rise is bad news: their change is marked as a worsening.
LOWER_IS_BETTER = frozenset({"refund_rate", "complaint_rate", "repurchase_cycle_days"})
# The trend's charts: (title, metrics drawn as lines on one axis).
RATE_LINES = ("repurchase_rate", "refund_rate", "complaint_rate", "on_time_shipment_rate")
# The pipelines (ANA-2): the kind of subject naming their states, the list of a state, the page
# of a late item; None where the console has no such list.
PIPELINES: dict[str, tuple[str, str | None, str | None]] = {
    "orders": ("order", "/orders?status={state}", "/orders?q={item}"),
    "cases": ("case", "/aftersales?state={state}", None),
    "tickets": ("ticket", None, "/tickets/{item}"),
}
PRESETS = {
    "last7": label("range", "Last 7 days"),
    "last30": label("range", "Last 30 days"),
    "this_month": label("range", "This month"),
    "last_month": label("range", "Last month"),
}


@dataclass(frozen=True, slots=True)
class Card:
    """One metric of the range beside the range before: as the reader's language writes them."""

    name: str
    title: str
    anchor: str
    value: str
    previous: str
    change: str
    direction: str  # "up", "down", "flat", or "" when the change is n/a
    worse: bool  # the change is bad news (a rate that should fall rose, or the reverse)


def presets(today: date) -> dict[str, tuple[date, date]]:
    """The ranges one click away, ending today or last month."""
    month = today.replace(day=1)
    before = (month - timedelta(days=1)).replace(day=1)
    return {
        "last7": (today - timedelta(days=6), today),
        "last30": (today - timedelta(days=DEFAULT_DAYS - 1), today),
        "this_month": (month, today),
        "last_month": (before, month - timedelta(days=1)),
    }


def metric_title(c: Console, name: str) -> str:
    """A metric as people call it; one of `sla_compliance.<kind>` names its clock."""
    if name.startswith(f"{SLA_FAMILY}."):
        kind = name.removeprefix(f"{SLA_FAMILY}.")
        return c.gettext("SLA compliance: %(clock)s", clock=c.clock_kind(kind))
    found = DEFINITIONS.get(name)
    return name if found is None else c.label(found.name)


def figure(c: Console, metric: Metric) -> str:
    """A metric's value as the card shows it: ¥ amounts, percents, counts; "n/a" for null."""
    if metric.value is None:
        return c.gettext("n/a")
    shown = metrics.shown(metric)
    match metric.unit:
        case Unit.MONEY:
            return c.money(int(Decimal(metric.value).quantize(Decimal(1), ROUND_HALF_UP)))
        case Unit.RATE:
            return f"{shown}%"
        case Unit.COUNT | Unit.NUMBER:
            return str(shown)


def change_text(c: Console, unit: Unit, change: Decimal | None) -> tuple[str, str]:
    """A change as the card shows it, and its direction: a rate's in percentage points, any
    other in percent; "n/a" for null (never 0)."""
    if change is None:
        return c.gettext("n/a"), ""
    rounded = change.quantize(Decimal("0.1"), ROUND_HALF_UP)
    number = f"{'+' if rounded > 0 else ''}{rounded}" if rounded else f"{abs(rounded)}"  # never "-0.0"
    text = c.gettext("%(n)s pp", n=number) if unit is Unit.RATE else f"{number}%"
    return text, "up" if rounded > 0 else "down" if rounded < 0 else "flat"


def cards(c: Console, found: summary.Summary) -> list[Card]:
    """Each metric of the range, in the dictionary's order."""
    shown = []
    for name, metric in found.current.metrics.items():
        before = found.previous.metrics.get(name)
        text, direction = change_text(c, metric.unit, found.changes.get(name))
        bad = "up" if name in LOWER_IS_BETTER else "down"
        shown.append(
            Card(
                name=name,
                title=metric_title(c, name),
                anchor=anchor(name),
                value=figure(c, metric),
                previous=c.gettext("n/a") if before is None else figure(c, before),
                change=text,
                direction=direction,
                worse=direction == bad,
            )
        )
    return shown


def _plain(metric: Metric) -> float | None:
    """A metric as a chart draws it: yuan, percent or count; None (a gap) where n/a."""
    shown = metrics.shown(metric)
    return None if shown is None else float(shown)


def _chart(title: str, periods: list[str], series: list[dict[str, Any]], axes: int = 1) -> str:
    """An ECharts option as JSON, drawn by static/console.js."""
    option: dict[str, Any] = {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14, "fontWeight": 600}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 30, "type": "scroll"},
        "grid": {"left": 56, "right": 56 if axes > 1 else 16, "top": 72, "bottom": 56},
        "xAxis": {"type": "category", "data": periods, "axisLabel": {"rotate": 30}},
        "yAxis": [{"type": "value"} for _ in range(axes)],
        "series": series,
    }
    return json.dumps(option, ensure_ascii=False)


def trend_charts(c: Console, found: summary.Summary) -> dict[str, str]:
    """The trend per period: orders and sales; net sales; a few rates (percent)."""
    periods = [row.period for row in found.trend]

    def line(name: str, axis: int = 0, kind: str = "line") -> dict[str, Any]:
        return {
            "name": metric_title(c, name),
            "type": kind,
            "yAxisIndex": axis,
            "connectNulls": False,
            "data": [_plain(row.metrics[name]) for row in found.trend],
        }

    return {
        "orders-sales": _chart(
            c.gettext("Orders and sales (¥)"), periods, [line("orders", 0, "bar"), line("sales", 1)], axes=2
        ),
        "net-sales": _chart(c.gettext("Net sales (¥)"), periods, [line("net_sales", kind="bar")]),
        "rates": _chart(c.gettext("Rates (%)"), periods, [line(name) for name in RATE_LINES]),
    }


def exports(found: summary.Summary) -> dict[str, Any]:
    """The reports of the day, week and month holding the range's last day, in each format, and the
    metrics API over the range (the set, and the trend per period)."""
    day = found.last.isoformat()
    metric_query = {"from": found.first.isoformat(), "to": day} | (
        {"channel": found.channel} if found.channel else {}
    )
    report_query = {"date": day} | ({"channel": found.channel} if found.channel else {})
    return {
        "reports": {
            kind: {
                fmt: f"/dashboard/reports/{kind}?{urlencode(report_query | {'format': fmt})}"
                for fmt in REPORT_FORMATS
            }
            for kind in Kind
        },
        "metrics": f"/dashboard/metrics?{urlencode(metric_query)}",
        "trend": f"/dashboard/metrics?{urlencode(metric_query | {'period': found.trend_kind})}",
    }


@router.get("/dashboard")
async def dashboard(
    session: Session,
    c: Annotated[Console, can_view(PERMISSION)],
    first: Annotated[str, Query(alias="from", max_length=20)] = "",
    last: Annotated[str, Query(alias="to", max_length=20)] = "",
    channel: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The metric set of the store days `from`..`to` (by default the last 30 days) and `channel`
    (all by default) beside the range before; bad filters are named and the default shown (422)."""
    choices = presets(clock.today())
    default = choices["last30"]
    start, end, errors = typed_range(c, first, last)
    chosen_channel = channel or None
    try:
        chosen = default if errors else (start or default[0], end or default[1])
        found = await service.summary(session, *chosen, chosen_channel)
    except Invalid as exc:
        errors |= form_errors(exc, c)
        chosen_channel = None
        found = await service.summary(session, *default, None)
    try:
        drawn = await service.funnel(session, found.first, found.last, found.channel, found.trend_kind)
        funnel = funnel_values(c, drawn)
    except Invalid:  # a range longer than the funnel draws (crm.funnel_max_days): no funnel
        funnel = {}
    return render(
        c,
        "dashboard/index.html",
        422 if errors else 200,
        summary=found,
        cards=cards(c, found),
        charts=trend_charts(c, found),
        pipeline=await service.pipeline(session),
        pipelines=PIPELINES,
        pipeline_titles=labels.PIPELINES,
        **funnel,
        funnel_days=policy.current().crm.funnel_max_days,
        exports=exports(found),
        report_names=labels.KINDS,
        presets={name: (PRESETS[name], days) for name, days in choices.items()},
        chosen_range=(found.first, found.last),
        channels=policy.current().orders.channels,
        values={"from": found.first.isoformat(), "to": found.last.isoformat()}
        | ({"from": first, "to": last} if errors else {}),
        filters={"channel": chosen_channel or ""},
        errors=errors,
    )


@router.get("/dashboard/reports/{kind}")
async def report_file(
    session: Session,
    c: Annotated[Console, can_view(PERMISSION)],
    kind: Kind,
    day: Annotated[date | None, Query(alias="date")] = None,
    format: Format = Format.XLSX,
    channel: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The report `GET /api/v1/reports/{kind}` hands out, downloaded by the signed-in user in
    their language."""
    made = await reports.download(session, kind, day, format, channel, c.locale)
    return Response(made.body, media_type=made.media_type, headers={"Content-Disposition": made.disposition})


@router.get("/dashboard/metrics")
async def metric_file(
    session: Session,
    _: Annotated[Console, can_view(PERMISSION)],
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    period: PeriodKind | None = None,
) -> JSONResponse:
    """The metric set `GET /api/v1/analytics/metrics` answers (the same JSON), for the signed-in
    user: per `period` of the range, or one row `all` without one."""
    rows = await service.metric_rows(session, first, last, channel, period)
    return JSONResponse({"rows": [metrics.as_json(r) for r in rows]})


@router.get("/dashboard/definitions")
async def definitions(c: Annotated[Console, can_view(PERMISSION)]) -> HTMLResponse:
    """Every metric of the dictionary: formula, which orders count, which date, gross or net, and
    when it is n/a; anchored by the metric's name (`#sales`)."""
    return render(
        c,
        "dashboard/definitions.html",
        definitions=DEFINITIONS,
        rollup_minutes=policy.current().analytics.rollup_max_age_minutes,
    )
