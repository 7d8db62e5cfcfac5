"""Every query of campaigns' own tables (LOY-3). Their figures read orders and are queried above
orders, in `shopflow.analytics.campaigns`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.loyalty.campaign_models import Campaign
from shopflow.loyalty.models import Coupon


async def get(session: AsyncSession, campaign_id: int) -> Campaign | None:
    return await session.get(Campaign, campaign_id)


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[Campaign], int]:
    """Campaigns, the latest start first, and how many there are."""
    total = await session.scalar(select(func.count()).select_from(Campaign))
    stmt = (
        select(Campaign).order_by(Campaign.starts_at.desc(), Campaign.id.desc()).offset(offset).limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def gifts_not_ended(session: AsyncSession, at: datetime) -> list[Mapping[str, Any]]:
    """The gifts of the campaigns not ended at `at` (SKU, minimum spend, channels, window), the
    highest minimum first, then the first made."""
    stmt = (
        select(Campaign.gift_sku, Campaign.gift_min_spend, Campaign.channels)
        .add_columns(Campaign.starts_at, Campaign.ends_at)
        .where(Campaign.gift_sku.is_not(None), Campaign.ends_at > at)
        .order_by(Campaign.gift_min_spend.desc(), Campaign.id)
    )
    return [row._mapping for row in await session.execute(stmt)]


async def coupon_codes(session: AsyncSession, coupon_ids: Iterable[int]) -> dict[int, str]:
    """The code of each of the coupons that exist, by id."""
    wanted = set(coupon_ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Coupon.id, Coupon.code).where(Coupon.id.in_(wanted)))
    return {int(i): str(code) for i, code in rows.all()}


async def coupon_ids_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, int]:
    """The id of each coupon among `codes` (their own codes, upper case) that exists."""
    wanted = {code.strip().upper() for code in codes}
    if not wanted:
        return {}
    rows = await session.execute(select(Coupon.code, Coupon.id).where(Coupon.code.in_(wanted)))
    return {str(code): int(i) for code, i in rows.all()}
