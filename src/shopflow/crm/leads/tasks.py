"""What the worker does for leads: a late clock alerts the lead's owner and their manager by
name (CRM-3), and the conversion sweep links new orders to their phone's open lead (CRM-4)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, auth, policy, sla
from shopflow.core.roles import USER_OWNER
from shopflow.crm.leads import service
from shopflow.crm.leads.models import LeadClock, lead_of_subject


async def alert_owners(session: AsyncSession, found: sla.SlaClock) -> None:
    """A lead's clock breached: one alert to its owner and one to the owner's manager, each
    once per run of the clock; a lead without an owner alerts the policy's owner of the kind."""
    lead = await service.get_lead(session, lead_of_subject(found.subject))
    kind = sla.breach_kind(found.kind)
    message = (
        f"lead {lead.id} (grade {lead.grade}): {found.kind} deadline {found.deadline.isoformat()} passed"
    )
    key = f"sla:{found.id}:{found.started_at.isoformat()}"
    owners: list[str] = []
    if lead.owner_id is not None:
        owner = await auth.get_user(session, lead.owner_id)
        owners.append(f"{USER_OWNER}{owner.username}")
        if owner.manager_id is not None:
            manager = await auth.get_user(session, owner.manager_id)
            owners.append(f"{USER_OWNER}{manager.username}")
    if not owners:
        owners.append(policy.current().alerts.owner_of(kind))
    rows = [{**alerts.row(kind, found.subject, message, f"{key}:{who}"), "owner": who} for who in owners]
    await alerts.raise_many(session, rows)


BREACH_ACTIONS: dict[str, sla.BreachAction] = {
    LeadClock.FIRST_CONTACT: alert_owners,
    LeadClock.FOLLOW_UP: alert_owners,
}
# Their alerts are raised by `alert_owners`, addressed by name, not by the sweep's role owner.
QUIET_KINDS = frozenset(BREACH_ACTIONS)


async def conversions(session: AsyncSession) -> int:
    return await service.convert_from_orders(session)
