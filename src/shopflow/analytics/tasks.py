"""The worker's analytics sweep (ANA-4): once a report's period has ended and the policy's hour
of the store's next day has come, the report is told to the outbox (`report.ready`), which the
notify relay emails to the policy's recipients (`analytics.report_*`).

Each (kind, period) is queued once: an audit row `report.scheduled` (entity `report`, id
`<kind>:<period>`) says it was, read before queuing again. Two workers racing past that read
queue it twice; the relay's deliveries then share their idempotency ids (the period and the
address), a unique key, so each recipient still gets one email."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics.reports.mail import recipients
from shopflow.analytics.reports.report import REPORT_EVENT, Kind, last_complete
from shopflow.core import audit, clock, events, policy
from shopflow.core.audit import SYSTEM


async def scheduled_reports(session: AsyncSession) -> int:
    """Queue the reports due and not yet queued (the last period of each kind the policy sends),
    unless the policy's recipients reach nobody (no address yet: queued once one is given); how
    many."""
    rules = policy.current().analytics
    now = clock.now()
    queued = 0
    for kind in sorted(Kind(k) for k in rules.report_kinds):
        period = last_complete(kind, clock.today())
        due = clock.local_midnight(period.last + timedelta(days=1)) + timedelta(hours=rules.report_hour)
        key = f"{kind}:{period.label}"
        if now < due or await audit.trail(session, "report", key) or not await recipients(session):
            continue
        payload = {
            "kind": kind,
            "period": period.label,
            "first": period.first.isoformat(),
            "last": period.last.isoformat(),
        }
        await events.record(session, REPORT_EVENT, f"report:{key}", payload)
        await audit.record(session, audit.row(SYSTEM, "report.scheduled", "report", key, None, payload, now))
        queued += 1
    return queued
