"""Member tiers (LOY-2): silver, gold and diamond by a member's net spend (payments less refunds)
over the policy's rolling window, reviewed when an order completes, when a refund settles, and
once a day for every customer (the care sweep's walk, which also catches spend leaving the
window). A change is audited and told to the member through the outbox."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, events, money, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.loyalty_policy import TierRule
from shopflow.crm import repository
from shopflow.crm.models import Tier

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
        changed[customer_id] = reached
    return changed
