"""Analytics and monitoring (ANA-1..5): alerts, SLA clocks of a subject, compliance per clock kind;
the funnel (CRM-5) and the daily traffic counts it starts from; the metric dictionary, the
pipeline and the reports (ANA-1, ANA-2, ANA-4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from shopflow.analytics import metrics, service
from shopflow.analytics.models import PeriodKind
from shopflow.analytics.reports import render as reports
from shopflow.analytics.reports.report import MEDIA_TYPES, Format
from shopflow.analytics.reports.report import Kind as ReportKind
from shopflow.analytics.schemas import (
    AlertOut,
    BulkAcknowledged,
    BulkAcknowledgeIn,
    CategorySalesOut,
    ClockOut,
    ComplianceOut,
    Day,
    DropOffOut,
    FunnelOut,
    FunnelRow,
    Kind,
    MetricRow,
    MetricsOut,
    Minutes,
    Owner,
    PipelineOut,
    ReportOut,
    ResolveIn,
    SkuSalesOut,
    StageOut,
    SubjectClocks,
    TrafficIn,
    TrafficOut,
)
from shopflow.core import money
from shopflow.core.alerts import Alert, AlertFilter, AlertState
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.console.i18n import locale_of
from shopflow.core.schemas import AwareWhen, Id, Page

router = APIRouter(tags=["monitoring"], responses=problems(401, 403))

# "order:42", "shipment:7": a domain's name and the subject's id.
SUBJECT = r"^[a-z_]+:[A-Za-z0-9_-]+$"


def _alert(alert: Alert) -> AlertOut:
    return AlertOut.model_validate(alert, from_attributes=True)


@router.get("/alerts", response_model=Page[AlertOut])
async def list_alerts(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("alerts.read")],
    state: AlertState | None = None,
    kind: Annotated[Kind | None, Query()] = None,
    owner: Annotated[Owner | None, Query()] = None,
    older_than_minutes: Annotated[Minutes | None, Query()] = None,
    since: Annotated[AwareWhen | None, Query(description="raised at or after this time")] = None,
) -> Page[AlertOut]:
    """Alerts (ANA-3), newest first: SLA breaches, payment mismatches, …"""
    chosen = AlertFilter(kind, owner, state, older_than_minutes, since)
    items, total = await service.list_alerts(session, chosen, pages.page, pages.page_size)
    return Page[AlertOut](**pages.of([_alert(a) for a in items], total))


@router.post("/alerts/acknowledge", response_model=BulkAcknowledged)
async def acknowledge_alerts(
    data: BulkAcknowledgeIn, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> BulkAcknowledged:
    """Acknowledge the open alerts among `ids`, or every open alert matching `filter`, audited per
    alert. Naming a kind the caller may not acknowledge (by id or in the filter) is a 403; a
    filter without a kind acknowledges only the kinds the caller may."""
    if data.filter is None:
        count = await service.acknowledge_many(session, actor, ids=data.ids or ())
    else:
        count = await service.acknowledge_many(session, actor, chosen=data.filter.chosen())
    return BulkAcknowledged(acknowledged=count)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=problems(404, 409))
async def acknowledge_alert(
    alert_id: Id, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> AlertOut:
    """The caller has seen the alert and owns it; acknowledging it again is refused (409), and so
    is a kind the caller's role may not acknowledge (403)."""
    return _alert(await service.acknowledge(session, actor, alert_id))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses=problems(404, 409))
async def resolve_alert(
    alert_id: Id, data: ResolveIn, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> AlertOut:
    """Close the alert by hand with a note (open or acknowledged; a resolved one is a 409)."""
    return _alert(await service.resolve(session, actor, alert_id, data.note))


@router.get("/sla", response_model=SubjectClocks)
async def subject_clocks(
    session: Session,
    _: Annotated[Actor, require("sla.read")],
    subject: Annotated[str, Query(max_length=80, pattern=SUBJECT)],
) -> SubjectClocks:
    """The SLA clocks of one subject (SLA-1), e.g. `?subject=order:42`, with the time each has left."""
    at, found = await service.clocks_of(session, subject)
    clocks = [
        ClockOut(
            kind=c.kind,
            state=c.state,
            owner_id=c.owner_id,
            started_at=c.started_at,
            deadline=c.deadline,
            seconds_left=c.seconds_left(at),
            paused_at=c.paused_at,
            stopped_at=c.stopped_at,
            breached_at=c.breached_at,
        )
        for c in found
    ]
    return SubjectClocks(subject=subject, at=at, clocks=clocks)


@router.get("/sla/compliance", response_model=list[ComplianceOut])
async def sla_compliance(
    session: Session,
    _: Annotated[Actor, require("sla.read")],
    due_from: Annotated[AwareWhen, Query(alias="from")],
    due_to: Annotated[AwareWhen, Query(alias="to")],
) -> list[ComplianceOut]:
    """SLA-3: per clock kind, the clocks due in [from, to) met and breached, and the rate met /
    (met + breached). Cancelled clocks (their subject ended early) are counted apart and never
    make a rate: a cancelled order is neither an on-time nor a late shipment."""
    found = await service.compliance(session, due_from, due_to)
    return [
        ComplianceOut(kind=c.kind, met=c.met, breached=c.breached, cancelled=c.cancelled, rate=c.rate)
        for c in found
    ]


@router.post("/analytics/traffic", response_model=TrafficOut, tags=["funnel"])
async def record_traffic(
    data: TrafficIn, session: Session, actor: Annotated[Actor, require("analytics.traffic.write")]
) -> TrafficOut:
    """A channel's visitors and inquiries of one store day (CRM-5); posting the same date and
    channel again replaces its counts (audited with the counts replaced). An unknown channel (the
    policy's `orders.channels`), a negative count or a bad date is a 422 naming the field."""
    await service.record_traffic(session, actor, [data])
    found = await service.traffic_of(session, data.date, data.channel)
    return TrafficOut(
        date=found.day,
        channel=found.channel,
        visitors=found.visitors,
        inquiries=found.inquiries,
        updated_at=found.updated_at,
    )


def _row(step: service.FunnelStep) -> FunnelRow:
    return FunnelRow(
        period=step.period.label,
        first=step.period.first,
        last=step.period.last,
        **step.counts,
        drop_offs=[DropOffOut(stage=d.stage, to=d.to, count=d.count, rate=d.rate) for d in step.drop_offs],
    )


@router.get("/crm/funnel", response_model=FunnelOut, tags=["funnel"])
async def funnel(
    session: Session,
    _: Annotated[Actor, require("customers.read")],
    first: Annotated[Day, Query(alias="from", description="the first store day")],
    last: Annotated[Day, Query(alias="to", description="the last store day, included")],
    channel: Annotated[str | None, Query(max_length=40, description="only this channel")] = None,
    period: PeriodKind = PeriodKind.DAY,
) -> FunnelOut:
    """CRM-5: visitors → inquiries → buyers (customers with an order paid in the period, by the
    order's channel) → repeaters (those buyers with at least `crm.repeat_orders_at_least` paid
    orders up to the period's end), per day, week or month and over the whole range, with the
    drop-off (count and rate) between consecutive stages."""
    found = await service.funnel(session, first, last, channel, period)
    return FunnelOut(
        first=first,
        last=last,
        channel=channel,
        period=period,
        periods=[_row(s) for s in found.steps],
        total=_row(found.total),
    )


@router.get("/analytics/metrics", response_model=MetricsOut, tags=["metrics"])
async def metric_set(
    session: Session,
    _: Annotated[Actor, require("analytics.read")],
    first: Annotated[Day | None, Query(alias="from", description="the first store day")] = None,
    last: Annotated[Day | None, Query(alias="to", description="the last store day, included")] = None,
    channel: Annotated[str | None, Query(max_length=40, description="only this channel")] = None,
    period: Annotated[PeriodKind | Literal["all"], Query()] = "all",
) -> MetricsOut:
    """ANA-1: the metric dictionary (docs/metrics.md) per period (`day`, ISO `week`, `month`, or
    one row `all`) over the store days `from`..`to` (both absent: all time), of `channel` when
    given. Money as yuan strings, rates as percent strings, days and turnover with 2 places;
    `value: null` where the metric is n/a. `from` without `to` (or the reverse), `to` before
    `from`, a period other than `all` without a range, or an unknown channel is a 422 naming it."""
    kind = None if period == "all" else PeriodKind(period)
    rows = await service.metric_rows(session, first, last, channel, kind)
    return MetricsOut(rows=[MetricRow.model_validate(metrics.as_json(r)) for r in rows])


@dataclass(frozen=True, slots=True)
class TopSellers:
    """The query of the top categories and SKUs: the store days `from`..`to` (both absent: all
    time), how many, and a channel."""

    first: Day | None
    last: Day | None
    limit: int
    channel: str | None


def top_sellers(
    first: Annotated[Day | None, Query(alias="from", description="the first store day")] = None,
    last: Annotated[Day | None, Query(alias="to", description="the last store day, included")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 10,
    channel: Annotated[str | None, Query(max_length=40, description="only this channel")] = None,
) -> TopSellers:
    return TopSellers(first, last, limit, channel)


Sellers = Annotated[TopSellers, Depends(top_sellers)]


@router.get("/analytics/categories", response_model=list[CategorySalesOut], tags=["metrics"])
async def category_sales(
    session: Session,
    _: Annotated[Actor, require("analytics.read")],
    asked: Sellers,
) -> list[CategorySalesOut]:
    """ANA-1: line sales (unit price × quantity − the line's discount) and orders per category of
    the orders counted in `from`..`to` (both absent: all time), largest first."""
    found = await service.category_sales(session, asked.first, asked.last, asked.limit, asked.channel)
    return [CategorySalesOut(category=c.category, sales=money.fmt(c.sales), orders=c.orders) for c in found]


@router.get("/analytics/skus", response_model=list[SkuSalesOut], tags=["metrics"])
async def sku_sales(
    session: Session,
    _: Annotated[Actor, require("analytics.read")],
    asked: Sellers,
) -> list[SkuSalesOut]:
    """ANA-1: line sales (unit price × quantity − the line's discount), units and orders per SKU of
    the orders counted in `from`..`to` (both absent: all time), largest first."""
    found = await service.sku_sales(session, asked.first, asked.last, asked.limit, asked.channel)
    return [
        SkuSalesOut(sku=s.sku, name=s.name, sales=money.fmt(s.sales), quantity=s.quantity, orders=s.orders)
        for s in found
    ]


@router.get("/analytics/pipeline", response_model=PipelineOut, tags=["metrics"])
async def pipeline(session: Session, _: Annotated[Actor, require("analytics.read")]) -> PipelineOut:
    """ANA-2: orders, after-sales cases and tickets per state, most first, each with how many are
    past a clock now and which (order and case numbers, ticket ids; the first 20)."""
    found = await service.pipeline(session)
    return PipelineOut(
        **{
            name: [StageOut.model_validate(s, from_attributes=True) for s in stages]
            for name, stages in found.items()
        }
    )


@router.get(
    "/reports/{kind}",
    response_model=ReportOut,
    tags=["reports"],
    responses={200: {"content": {MEDIA_TYPES[f]: {} for f in (Format.CSV, Format.XLSX, Format.HTML)}}},
)
async def report(
    request: Request,
    kind: ReportKind,
    session: Session,
    _: Annotated[Actor, require("analytics.read")],
    day: Annotated[
        Day | None,
        Query(alias="date", description="a day of the period; default: the last one that has ended"),
    ] = None,
    format: Format = Format.JSON,
    channel: Annotated[str | None, Query(max_length=40, description="only this channel")] = None,
    lang: Annotated[
        Literal["zh_CN", "en"] | None, Query(description="the texts' language; default: the console's")
    ] = None,
) -> Response:
    """ANA-4: the daily, weekly (ISO, Monday to Sunday) or monthly report of the period holding
    `date` (default: yesterday, last week, last month in the store's days), as a file to download
    (`Content-Disposition: attachment; filename="shopflow-monthly-2030-03.xlsx"`): `json` (this
    schema: the metric set of the period and of the same-length range before it, the changes,
    the trend, top categories and SKUs, the pipeline; the metrics' shapes as
    `/analytics/metrics`), `csv`, `xlsx` (native charts) or `html` (standalone, its charts drawn
    by ECharts inlined in it). A bad kind, date, format or channel is a 422 naming it."""
    made = await reports.download(session, kind, day, format, channel, lang or locale_of(request))
    return Response(made.body, media_type=made.media_type, headers={"Content-Disposition": made.disposition})
