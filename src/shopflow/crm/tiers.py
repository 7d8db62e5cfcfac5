"""Member tiers (LOY-2): silver, gold and diamond by a member's net spend (payments less refunds)
over the policy's rolling window, reviewed when an order completes, when a refund settles, and
once a day for every customer (the care sweep's walk, which also catches spend leaving the
window). A change is audited and told to the member through the outbox. A member reaching a tier
with a dedicated agent gets one (the customer-service agent with the fewest such members), whom
the service desk gives their tickets."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, auth, clock, events, money, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.auth import User
from shopflow.core.errors import FieldError, Invalid, NotFound
from shopflow.core.loyalty_policy import TierRule
from shopflow.core.roles import Role
from shopflow.crm import repository
from shopflow.crm.models import Customer, Tier

TIER_EVENT = "member.tier_changed"


def tier_for(spend: int, tiers: Collection[TierRule]) -> Tier:
    """The highest tier whose minimum `spend` (fen) reaches; none below the first (pure)."""
    reached = [t for t in tiers if spend >= t.min_spend]
    return Tier(max(reached, key=lambda t: t.min_spend).name) if reached else Tier.NONE


async def review(session: AsyncSession, customer_ids: Collection[int]) -> dict[int, Tier]:
    """The customers' tiers set from their net spend in the window: each change written, audited
    (`customer.tier_changed`, from, to, spend) and queued for the member (`member.tier_changed`),
    except a customer's first tier when it is the one every customer has (minimum 0): nobody is
    told they joined the entry tier; the changes, by customer."""
    if not customer_ids:
        return {}
    rules = policy.current().loyalty
    at = clock.now()
    current = await repository.tiers_of(session, customer_ids)
    spend = await repository.spend_since(session, current, at - timedelta(days=rules.tier_window_days))
    entry = next((Tier(t.name) for t in rules.tiers if t.min_spend == 0), None)
    changed: dict[int, Tier] = {}
    for customer_id, tier in current.items():
        reached = tier_for(spend.get(customer_id, 0), rules.tiers)
        if reached == tier:
            continue
        await repository.set_tier(session, customer_id, reached, at)
        facts = {"customer_id": customer_id, "from": tier, "to": reached}
        trail = {**facts, "spend": money.fmt(spend.get(customer_id, 0))}
        audit.queue(
            session, audit.row(SYSTEM, "customer.tier_changed", "customer", customer_id, None, trail, at)
        )
        if not (tier == Tier.NONE and reached == entry):
            events.queue(session, TIER_EVENT, f"customer:{customer_id}", facts)
        if rules.has_dedicated_agent(reached):
            await _give_agent(session, customer_id, at)
        changed[customer_id] = reached
    return changed


# The role whose people serve members as their dedicated agent (the service desk's agents).
AGENT_ROLE = Role.CUSTOMER_SERVICE


async def _give_agent(session: AsyncSession, customer_id: int, at: datetime) -> None:
    """A member reaching a tier with dedicated agents gets the agent with the fewest members,
    unless they have one already (LOY-2)."""
    _, agent_id = await repository.tier_and_agent(session, customer_id)
    if agent_id is None and (chosen := await repository.agent_with_fewest_members(session, AGENT_ROLE)):
        await _set_agent(session, SYSTEM, customer_id, None, chosen, at)


async def _set_agent(
    session: AsyncSession, actor: Actor, customer_id: int, before: int | None, after: int | None, at: datetime
) -> None:
    await repository.set_agent(session, customer_id, after, at)
    audit.queue(
        session,
        audit.row(
            actor,
            "customer.agent_assigned",
            "customer",
            customer_id,
            {"agent_id": before},
            {"agent_id": after},
            at,
        ),
    )


async def _agent(session: AsyncSession, username: str) -> User:
    try:
        user = await auth.find_user(session, username)
    except NotFound:
        raise Invalid("no such user", errors=[FieldError("agent", f"no user {username!r}")]) from None
    if not user.active or user.role != AGENT_ROLE:
        raise Invalid(
            "not an agent",
            errors=[FieldError("agent", f"{username!r} is not an active customer-service agent")],
        )
    return user


async def assign_agent(session: AsyncSession, actor: Actor, customer_id: int, username: str | None) -> None:
    """LOY-2: the member's dedicated agent set by hand (an active customer-service agent, else 422
    naming `agent`), or removed (None); audited."""
    agent_id = None if username is None else (await _agent(session, username)).id
    _, before = await repository.tier_and_agent(session, customer_id)
    if before != agent_id:
        await _set_agent(session, actor, customer_id, before, agent_id, clock.now())


async def agent_name(session: AsyncSession, customer: Customer) -> str | None:
    """The username of the member's dedicated agent (LOY-2), if they have one."""
    return None if customer.agent_id is None else (await auth.get_user(session, customer.agent_id)).username


async def dedicated_agent(session: AsyncSession, customer_id: int) -> User | None:
    """LOY-2: the agent a member's new ticket goes to: theirs, while their tier has dedicated
    agents and the agent is active and on duty (else None: the desk's usual assignment)."""
    tier, agent_id = await repository.tier_and_agent(session, customer_id)
    if agent_id is None or not policy.current().loyalty.has_dedicated_agent(tier):
        return None
    agent = await auth.get_user(session, agent_id)
    return agent if agent.active and agent.on_duty else None
