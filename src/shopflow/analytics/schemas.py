from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from shopflow.analytics.models import FIRST_DAY, LAST_DAY
from shopflow.core.alerts import AlertFilter, AlertState
from shopflow.core.schemas import Id, Input, Int32
from shopflow.core.sla.models import ClockState

Kind = Annotated[str, Field(max_length=60)]
# An age in minutes: at most a century, so now minus it stays a date.
Minutes = Annotated[int, Field(ge=1, le=100 * 366 * 24 * 60, description="raised at least this long ago")]
Owner = Annotated[str, Field(max_length=80, description='a role ("operations") or "user:<username>"')]


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    owner: str  # a role ("operations") or one user ("user:alice")
    state: AlertState
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None  # the user who acknowledged it
    resolved_at: datetime | None
    resolved_by: int | None  # the user who resolved it; null when its cause ended
    resolution_note: str | None


class ResolveIn(Input):
    note: str = Field(min_length=1, max_length=500, description="why the alert needs nothing more")


class AlertFilterIn(Input):
    kind: Kind | None = None
    owner: Owner | None = None
    state: AlertState | None = None
    older_than_minutes: Minutes | None = None

    def chosen(self) -> AlertFilter:
        return AlertFilter(self.kind, self.owner, self.state, self.older_than_minutes)


class BulkAcknowledgeIn(Input):
    """Either the alerts' ids or a filter: every open alert matching it."""

    ids: list[Id] | None = Field(default=None, min_length=1, max_length=500)
    filter: AlertFilterIn | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter")
        return self


class BulkAcknowledged(BaseModel):
    acknowledged: int  # how many open alerts were acknowledged now


class ClockOut(BaseModel):
    kind: str
    state: ClockState
    owner_id: int | None
    started_at: datetime
    deadline: datetime
    # Negative when overdue, frozen while paused, null once met, breached or cancelled.
    seconds_left: float | None
    paused_at: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None


class SubjectClocks(BaseModel):
    subject: str
    at: datetime  # the time `seconds_left` is counted from
    clocks: list[ClockOut]


class ComplianceOut(BaseModel):
    kind: str
    met: int = Field(description="stopped by the deadline")
    breached: int = Field(description="breached, stopped after the deadline, or running past it")
    cancelled: int = Field(description="the subject ended early: left out of the rate")
    rate: float | None = Field(description="met / (met + breached); null when nothing is decided")


Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


class TrafficIn(Input):
    """A channel's counts of one store day (CRM-5); posted again, they replace the day's counts."""

    date: Day
    channel: str = Field(min_length=1, max_length=40, examples=["web"])
    visitors: Int32
    inquiries: Int32


class TrafficOut(BaseModel):
    date: date
    channel: str
    visitors: int
    inquiries: int
    updated_at: datetime


class DropOffOut(BaseModel):
    stage: str
    to: str
    count: int  # how many fewer reached `to` (negative when more did)
    rate: float | None  # count / the stage's number; null when the stage had nobody


class FunnelRow(BaseModel):
    period: str  # "2026-12-07", "2026-W50", "2026-12", or "total"
    first: date
    last: date
    visitors: int
    inquiries: int
    buyers: int
    repeaters: int
    drop_offs: list[DropOffOut]


class FunnelOut(BaseModel):
    first: date
    last: date
    channel: str | None
    period: str
    periods: list[FunnelRow]
    total: FunnelRow


class MetricValue(BaseModel):
    """One metric of a period (docs/metrics.md): counts as integers, money as yuan strings, rates
    as percent strings, days and turnover as strings with 2 places; null where n/a."""

    value: int | str | None
    numerator: int | str | None
    denominator: int | str | None


class MetricRow(BaseModel):
    period: str  # "2017-03-05", "2017-W09", "2017-03" or "all"
    metrics: dict[str, MetricValue]


class MetricsOut(BaseModel):
    rows: list[MetricRow]


class CategorySalesOut(BaseModel):
    category: str | None  # "Parent / Child"; null: products without a category
    sales: str  # yuan, 2 places
    orders: int


class SkuSalesOut(BaseModel):
    sku: str  # the SKU's code
    name: str
    sales: str  # yuan, 2 places
    quantity: int  # units sold
    orders: int


class StageOut(BaseModel):
    state: str
    count: int
    late: int  # past a clock now
    late_items: list[str]  # their numbers (ticket ids), the first 20


class PipelineOut(BaseModel):
    orders: list[StageOut]
    cases: list[StageOut]
    tickets: list[StageOut]


class ReportOut(BaseModel):
    """A report (ANA-4) in the API's shapes: the period's metric set (`current`, period `all`),
    the same-length range just before it (`previous`), each metric's change (percent of the value
    before, or percentage points for a rate; 2 places, null where n/a), the trend per day, week
    or month, the top categories and SKUs, and the pipeline as it stood when it was made."""

    kind: str  # daily, weekly, monthly
    period: str  # "2030-03-05", "2030-W10", "2030-03"
    first: date
    last: date
    channel: str | None
    previous_first: date
    previous_last: date
    made_at: datetime
    current: MetricRow
    previous: MetricRow
    changes: dict[str, str | None]
    trend_period: str  # day, week, month
    trend: list[MetricRow]
    categories: list[CategorySalesOut]
    skus: list[SkuSalesOut]
    pipeline: PipelineOut
