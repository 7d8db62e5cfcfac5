"""The policy's members-and-marketing section (LOY-1, LOY-2, LOY-4): points, tiers and coupons."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from shopflow.core.money import AmountText
from shopflow.core.sections import Percent, Positive, Section


class TierRule(Section):
    """LOY-2: a member tier, reached at a rolling 12-month net spend, with its benefits: a discount
    at intake, orders picked before others', a dedicated service agent."""

    name: Literal["silver", "gold", "diamond"]
    min_spend: AmountText  # net spend (payments less refunds) within `tier_window_days`
    discount_percent: Percent = 0.0
    picked_first: bool = False  # its members' orders go into waves before the others' (FUL-1)
    dedicated_agent: bool = False  # its members' tickets go to the agent assigned to them (SVC-1)


def _ascending(tiers: tuple[TierRule, ...]) -> tuple[TierRule, ...]:
    spends = [t.min_spend for t in tiers]
    if spends != sorted(set(spends)) or len({t.name for t in tiers}) != len(tiers):
        raise ValueError("tiers are named once each, their min_spend rising")
    return tiers


# (†) LOY-2's tiers: every member silver from the first yuan, gold from ¥2,000 and diamond from
# ¥10,000 spent in the last 12 months, with 0%, 2% and 5% off at checkout; diamond members' orders
# are picked first and their tickets go to their dedicated agent.
DEFAULT_TIERS = (
    TierRule(name="silver", min_spend="0.00", discount_percent=0.0),
    TierRule(name="gold", min_spend="2000.00", discount_percent=2.0),
    TierRule(
        name="diamond", min_spend="10000.00", discount_percent=5.0, picked_first=True, dedicated_agent=True
    ),
)


class Loyalty(Section):
    tiers: Annotated[tuple[TierRule, ...], AfterValidator(_ascending)] = DEFAULT_TIERS  # LOY-2
    tier_window_days: Positive = 365  # LOY-2: the rolling window of a member's net spend
    points_per_yuan: Annotated[float, Field(ge=0)] = 1.0  # LOY-1: earned on completion, after discounts
    point_value_fen: Positive = 1  # LOY-1 (†): what one point takes off at checkout (100 points, ¥1)
    points_max_share_percent: Percent = 50.0  # LOY-1 (†): the most of an order's goods points pay
    # LOY-1 (†): credits expire at the end of this many years after the year they were earned in
    # (1: points of 2026 expire when 2027 ends); 0: never.
    points_expire_years: Annotated[int, Field(ge=0, le=10)] = 1
    # LOY-1 (†): points a member gets with their birthday greeting (SVC-8), once a year; 0: none.
    birthday_bonus_points: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    # LOY-4 (†): the most coupons one order may name (the best combination of them is chosen).
    coupons_per_order: Annotated[int, Field(gt=0, le=10)] = 5
    # LOY-4 (†): how many codes one batch may generate, and the random part's length of each.
    coupon_batch_max: Annotated[int, Field(gt=0, le=1_000_000)] = 100_000
    coupon_code_length: Annotated[int, Field(ge=8, le=20)] = 10

    def picked_first(self, tier: str | None) -> bool:
        """LOY-2: whether a member of `tier` has their orders picked before others'."""
        return any(t.picked_first for t in self.tiers if t.name == tier)

    def has_dedicated_agent(self, tier: str | None) -> bool:
        """LOY-2: whether a member of `tier` has their tickets routed to their own agent."""
        return any(t.dedicated_agent for t in self.tiers if t.name == tier)
