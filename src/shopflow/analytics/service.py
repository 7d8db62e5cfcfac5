"""Monitoring use cases (ANA-3, SLA-1): alerts to see and acknowledge, the clocks of a subject."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, clock, sla
from shopflow.core.alerts import Alert, AlertState
from shopflow.core.audit import Actor


async def list_alerts(
    session: AsyncSession, state: AlertState | None, kind: str | None, page: int, page_size: int
) -> tuple[list[Alert], int]:
    """A page of alerts, newest first, and how many match."""
    return await alerts.page(session, state, (page - 1) * page_size, page_size, kind)


async def acknowledge(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    """`actor` has seen the alert and owns it (audited); a second acknowledgement is a 409."""
    return await alerts.acknowledge(session, actor, alert_id)


async def clocks_of(session: AsyncSession, subject: str) -> tuple[datetime, list[sla.SlaClock]]:
    """The subject's clocks, and the time to count their time left from."""
    return clock.now(), await sla.of_subject(session, subject)
