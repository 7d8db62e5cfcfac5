"""A report: its kind, the period holding the day asked for, and what it shows, read from the
metric dictionary through `analytics.service` (the summary and the pipeline): no number of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import service
from shopflow.analytics.models import Period, PeriodKind, period_of
from shopflow.analytics.pipeline import Stage
from shopflow.analytics.summary import Summary
from shopflow.core import clock

# The outbox event of a scheduled report whose period has ended (`analytics.tasks`); its subject
# is `report:<kind>:<period>`, and the notify relay emails the report to the policy's recipients.
REPORT_EVENT = "report.ready"


class Kind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"  # an ISO week, Monday to Sunday
    MONTHLY = "monthly"


PERIODS = {Kind.DAILY: PeriodKind.DAY, Kind.WEEKLY: PeriodKind.WEEK, Kind.MONTHLY: PeriodKind.MONTH}


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"
    JSON = "json"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.HTML: "text/html; charset=utf-8",
    Format.JSON: "application/json",
}


@dataclass(frozen=True, slots=True)
class Report:
    kind: Kind
    period: Period
    summary: Summary
    pipeline: dict[str, list[Stage]]  # as it stands when the report is made (ANA-2)
    made_at: datetime


def period_for(kind: Kind, day: date) -> Period:
    """The period a report of `kind` covers: the day, its ISO week or its month."""
    return period_of(day, PERIODS[kind])


def last_complete(kind: Kind, today: date) -> Period:
    """The latest period of `kind` that has ended before `today`: yesterday, last week, last month."""
    return period_for(kind, period_for(kind, today).first - timedelta(days=1))


def filename(kind: Kind, period: Period, fmt: Format) -> str:
    """`shopflow-monthly-2030-03.xlsx`, `shopflow-weekly-2030-W10.csv`, `shopflow-daily-2030-03-05.html`."""
    return f"shopflow-{kind}-{period.label}.{fmt}"


async def build(session: AsyncSession, kind: Kind, day: date, channel: str | None = None) -> Report:
    """The report of `kind` over the period holding `day` (of `channel` when given); a bad channel
    or a day out of range is a 422 naming it."""
    period = period_for(kind, day)
    summary = await service.summary(session, period.first, period.last, channel)
    return Report(kind, period, summary, await service.pipeline(session), clock.now())
