"""What the worker does for the service desk: a breached clock escalates its ticket to a
supervisor (SLA-2, SVC-3; the sweep raises the breach's one alert, ANA-3); after a change of a
clock's duration or basis in the policy, the open clocks are planned again (SLA-1); the surveys
due are sent (SVC-6), the day's greetings and periodic call-backs made (SVC-8), and old
conversation texts and audit rows purged (SVC-9, AUD-1)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import policy, sla
from shopflow.service import care, retention, service, surveys
from shopflow.service.models import (
    TicketClock,
    clock_basis,
    clock_duration,
    clock_source,
    ticket_of_subject,
)


async def escalate(session: AsyncSession, found: sla.SlaClock) -> None:
    await service.escalate_on_breach(session, ticket_of_subject(found.subject), found.kind)


BREACH_ACTIONS: dict[str, sla.BreachAction] = {kind: escalate for kind in TicketClock}


async def surveys_due(session: AsyncSession) -> int:
    return await surveys.schedule(session)


async def greetings(session: AsyncSession) -> int:
    return await care.greet(session)


async def retention_purge(session: AsyncSession) -> int:
    return await retention.purge(session)


async def rebudget(session: AsyncSession, limit: int = sla.BATCH) -> int:
    """The worker's sweep after the policy changed a ticket clock's duration or basis (SLA-1):
    each open ticket clock planned under other settings (`clock_source`) gets its ticket's current
    duration in its current basis, keeping the time it has used; audited `sla.recomputed`. How
    many clocks it planned again (none while the settings stand: one indexed query)."""
    source = clock_source(policy.current())
    found = await sla.stale(session, list(TicketClock), source, limit)
    if not found:
        return 0
    tickets = await service.by_ids(session, [ticket_of_subject(c.subject) for c in found])
    rules = policy.current().service
    plans = []
    for stale in found:
        ticket = tickets[ticket_of_subject(stale.subject)]
        kind = TicketClock(stale.kind)
        plans.append((stale, clock_duration(kind, ticket.channel, rules), clock_basis(kind, ticket.channel)))
    await sla.rebudget(session, plans, source)
    return len(found)
