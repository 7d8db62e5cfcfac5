"""The demo's price rules (CAT-3, CAT-2) and campaigns (LOY-3), made when the weeks of trading are
over (so the replayed orders keep their list prices): a holiday promotion scheduled for next week,
a clearance price awaiting a manager's approval, a stock-triggered markdown waiting for its days;
a spring campaign running since trading opened (its coupons' orders give it live figures and an
ROI), the holiday campaign scheduled with the promotion, and a winter one that has ended."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import pricing
from shopflow.catalog.models import PriceRuleKind
from shopflow.catalog.schemas import PriceRuleIn
from shopflow.core.audit import Actor
from shopflow.demo.store import Store
from shopflow.loyalty import campaigns
from shopflow.loyalty.campaign_models import CampaignKind
from shopflow.loyalty.campaign_schemas import CampaignIn

MANAGER = Actor(user_id=None, name="manager", role="manager")
OPERATIONS = Actor(user_id=None, name="operations", role="operations")  # no discount authority


async def open_campaigns(session: AsyncSession, store: Store, start: datetime, now: datetime) -> None:
    """The rules and campaigns of the module's docstring."""
    first, second, third = store.plentiful[:3]
    holiday = await pricing.create_rule(
        session,
        MANAGER,
        PriceRuleIn(
            name="双十二 限时价",
            sku=first.code,
            percent="12",
            starts_at=now + timedelta(days=5),
            ends_at=now + timedelta(days=8),
        ),
    )
    await pricing.create_rule(  # beyond an operations user's authority: pending (CAT-2)
        session,
        OPERATIONS,
        PriceRuleIn(name="清仓 7 折", sku=second.code, percent="30", starts_at=now + timedelta(days=1)),
    )
    await pricing.create_rule(  # in force once on hand has stayed above 150 for 90 days
        session,
        MANAGER,
        PriceRuleIn(
            name="积压降价 9 折",
            kind=PriceRuleKind.MARKDOWN,
            sku=third.code,
            percent="10",
            starts_at=now,
            stock_above=150,
            stock_days=90,
        ),
    )
    codes = await campaigns.coupon_ids_by_code(session, ["SPRING15", "FREESHIP6", "FLASH100", "WINTER5"])
    for data in (
        CampaignIn(
            name="春季焕新",
            theme="春季全店 85 折，叠加运费券",
            kind=CampaignKind.PROMOTION,
            starts_at=start,
            ends_at=now + timedelta(days=30),
            channels=["web"],
            coupon_ids=[codes["SPRING15"], codes["FREESHIP6"]],
            budget="3000.00",
        ),
        CampaignIn(
            name="双十二",
            theme="年终大促：限时价与闪购券，满 299 赠品",
            kind=CampaignKind.HOLIDAY,
            starts_at=now + timedelta(days=5),
            ends_at=now + timedelta(days=8),
            coupon_ids=[codes["FLASH100"]],
            price_rule_ids=[holiday.id],
            gift_sku=third.code,
            gift_min_spend="299.00",
            budget="8000.00",
        ),
        CampaignIn(
            name="冬季清仓",
            kind=CampaignKind.PROMOTION,
            starts_at=start - timedelta(days=60),
            ends_at=start - timedelta(days=7),
            coupon_ids=[codes["WINTER5"]],
        ),
    ):
        await campaigns.create_campaign(session, MANAGER, data)
