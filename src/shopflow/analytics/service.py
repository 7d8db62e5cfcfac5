"""Monitoring use cases (ANA-3, SLA-1, SLA-3): alerts to see, acknowledge and resolve, the clocks
of a subject, compliance per clock kind."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, clock, sla
from shopflow.core.alerts import Alert, AlertFilter
from shopflow.core.audit import Actor


async def list_alerts(
    session: AsyncSession, chosen: AlertFilter, page: int, page_size: int
) -> tuple[list[Alert], int]:
    """A page of alerts, newest first, and how many match."""
    return await alerts.page(session, chosen, (page - 1) * page_size, page_size)


async def acknowledge(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    """`actor` has seen the alert and owns it (audited); a second acknowledgement is a 409."""
    return await alerts.acknowledge(session, actor, alert_id)


async def acknowledge_many(
    session: AsyncSession, actor: Actor, *, ids: Collection[int] = (), chosen: AlertFilter | None = None
) -> int:
    """Acknowledge the open alerts among `ids`, or all matching `chosen`; how many."""
    return await alerts.acknowledge_many(session, actor, ids=ids, chosen=chosen)


async def resolve(session: AsyncSession, actor: Actor, alert_id: int, note: str) -> Alert:
    """Close the alert by hand with a note (audited)."""
    return await alerts.resolve(session, actor, alert_id, note)


async def clocks_of(session: AsyncSession, subject: str) -> tuple[datetime, list[sla.SlaClock]]:
    """The subject's clocks, and the time to count their time left from."""
    return clock.now(), await sla.of_subject(session, subject)


async def compliance(session: AsyncSession, due_from: datetime, due_to: datetime) -> list[sla.Compliance]:
    """SLA-3 per clock kind over the clocks due in [from, to); cancelled clocks are left out."""
    return await sla.compliance(session, due_from, due_to, clock.now())
