"""Campaigns (LOY-3): created with their window, channels and offers (validated by field, audited),
listed and read. Their figures (orders attributed through the coupons, ROI) are computed above
orders, in `shopflow.analytics.campaigns`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import audit, clock, money, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, NotFound
from shopflow.loyalty import campaign_repository as repository
from shopflow.loyalty.campaign_models import Campaign
from shopflow.loyalty.campaign_schemas import CampaignIn


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


async def create_campaign(session: AsyncSession, actor: Actor, data: CampaignIn) -> Campaign:
    """A campaign; every error at its field (422, nothing stored); audited (AUD-1)."""
    errors = []
    if data.ends_at <= data.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    known = policy.current().orders.channels
    unknown_channels = sorted(set(data.channels) - set(known))
    if unknown_channels:
        errors.append(
            FieldError(
                "channels", f"unknown channels: {', '.join(unknown_channels)}: one of {', '.join(known)}"
            )
        )
    codes = await repository.coupon_codes(session, data.coupon_ids)
    unknown_coupons = sorted(set(data.coupon_ids) - set(codes))
    if unknown_coupons:
        errors.append(FieldError("coupon_ids", f"unknown coupons: {', '.join(map(str, unknown_coupons))}"))
    unknown_rules = sorted(
        set(data.price_rule_ids) - await catalog.existing_rule_ids(session, data.price_rule_ids)
    )
    if unknown_rules:
        errors.append(
            FieldError("price_rule_ids", f"unknown price rules: {', '.join(map(str, unknown_rules))}")
        )
    if data.gift_sku is not None and not await catalog.sale_facts(session, [data.gift_sku]):
        errors.append(FieldError("gift_sku", f"unknown SKU: {data.gift_sku}"))
    if data.gift_min_spend is not None and data.gift_sku is None:
        errors.append(FieldError("gift_sku", "a minimum spend for a gift needs the gift's SKU"))
    if errors:
        raise Invalid("the campaign has errors", errors=errors)
    at = clock.now()
    campaign = Campaign(
        name=data.name,
        theme=data.theme,
        kind=data.kind,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        channels=sorted(set(data.channels)),
        coupon_ids=sorted(set(data.coupon_ids)),
        price_rule_ids=sorted(set(data.price_rule_ids)),
        gift_sku=data.gift_sku,
        gift_min_spend=data.gift_min_spend if data.gift_sku is None else (data.gift_min_spend or 0),
        budget=data.budget,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(campaign)
    await session.flush()
    forget_gifts()
    await audit.record(
        session, audit.row(actor, "campaign.created", "campaign", campaign.id, after=_trail(campaign), at=at)
    )
    return campaign


def _trail(campaign: Campaign) -> dict[str, object]:
    return {
        "name": campaign.name,
        "theme": campaign.theme,
        "kind": campaign.kind,
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "channels": campaign.channels,
        "coupon_ids": campaign.coupon_ids,
        "price_rule_ids": campaign.price_rule_ids,
        "gift_sku": campaign.gift_sku,
        "gift_min_spend": None if campaign.gift_min_spend is None else money.fmt(campaign.gift_min_spend),
        "budget": None if campaign.budget is None else money.fmt(campaign.budget),
    }


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await repository.get(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"no campaign {campaign_id}")
    return campaign


async def campaigns_page(session: AsyncSession, page: int, size: int) -> tuple[list[Campaign], int]:
    """Campaigns, the latest start first, and how many there are."""
    return await repository.page(session, (page - 1) * size, size)


# Order intake reads the gifts on offer from this process's copy, read again at most this often:
# a campaign is made far less often than an order, and the read cost every order a round trip.
# A campaign made here is seen at once; one made by another process within this time.
GIFTS_TTL_SECONDS = 10.0


@dataclass(slots=True)
class _Gifts:
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    read_at: float = float("-inf")
    until: datetime | None = None  # the copy holds the campaigns not ended at this time


_GIFTS = _Gifts()


def forget_gifts() -> None:
    """Read the gifts on offer afresh at the next order (after a campaign is made)."""
    _GIFTS.read_at, _GIFTS.until = float("-inf"), None


async def gift_for(session: AsyncSession, channel: str, at: datetime, goods: int) -> str | None:
    """LOY-3: the SKU an order in `channel` placed at `at` gets free, its goods worth `goods` (fen,
    after discounts): the gift of a campaign open then in that channel whose minimum spend the
    goods reach, the highest such minimum first; None when there is none."""
    now = time.monotonic()
    if now - _GIFTS.read_at >= GIFTS_TTL_SECONDS or _GIFTS.until is None or at < _GIFTS.until:
        _GIFTS.rows, _GIFTS.read_at, _GIFTS.until = await repository.gifts_not_ended(session, at), now, at
    for gift in _GIFTS.rows:
        in_channel = not gift["channels"] or channel in gift["channels"]
        if gift["starts_at"] <= at < gift["ends_at"] and goods >= gift["gift_min_spend"] and in_channel:
            return str(gift["gift_sku"])
    return None


async def coupon_codes(session: AsyncSession, coupon_ids: list[int]) -> dict[int, str]:
    return await repository.coupon_codes(session, coupon_ids)


async def coupon_ids_by_code(session: AsyncSession, codes: list[str]) -> dict[str, int]:
    """The coupons' ids by their own codes (as typed, any case); unknown codes are left out."""
    return await repository.coupon_ids_by_code(session, codes)
