"""What the worker does for the service desk: a breached clock escalates its ticket to a
supervisor (SLA-2, SVC-3; the sweep raises the breach's one alert, ANA-3); the surveys due are
sent (SVC-6), the day's greetings and periodic call-backs made (SVC-8), and old conversation
texts and audit rows purged (SVC-9, AUD-1)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import sla
from shopflow.service import care, retention, service, surveys
from shopflow.service.models import TicketClock, ticket_of_subject


async def escalate(session: AsyncSession, found: sla.SlaClock) -> None:
    await service.escalate_on_breach(session, ticket_of_subject(found.subject), found.kind)


BREACH_ACTIONS: dict[str, sla.BreachAction] = {kind: escalate for kind in TicketClock}


async def surveys_due(session: AsyncSession) -> int:
    return await surveys.schedule(session)


async def greetings(session: AsyncSession) -> int:
    return await care.greet(session)


async def retention_purge(session: AsyncSession) -> int:
    return await retention.purge(session)
