"""The demo's coupons (LOY-4): a spring promotion and a shipping coupon that stack, a welcome coupon
for new buyers, one that has ended, and a flash coupon with a batch of single-use codes. Web orders
of the weeks of trading name them now and then, so the console shows coupons in use, stacked, and
given back by cancelled orders."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.audit import SYSTEM
from shopflow.demo.plan import Fate
from shopflow.loyalty import service as coupons
from shopflow.loyalty.models import CouponKind
from shopflow.loyalty.schemas import CouponIn

SEED = 17  # the coupons' own generator: the rest of the history stays the same
SHARE = 0.2  # of the web orders, those that name a coupon
# What the replay's orders name: coupons without limits or minimum spend, so every one applies.
NAMED = (["SPRING15"], ["FREESHIP6"], ["SPRING15", "FREESHIP6"])


async def open_offers(session: AsyncSession, start: datetime, now: datetime) -> None:
    """The coupons of the demo store, created the day before trading opens."""
    for data in (
        CouponIn(
            code="SPRING15",
            name="春季促销 15% off",
            kind=CouponKind.PERCENT,
            value="15",
            starts_at=start,
            ends_at=now + timedelta(days=30),
            stacking_group="store",
            combines_with=["shipping"],
        ),
        CouponIn(
            code="FREESHIP6",
            name="运费券 ¥6",
            kind=CouponKind.FIXED,
            value="6.00",
            stacking_group="shipping",
            combines_with=["store"],
        ),
        CouponIn(
            code="NEW10",
            name="新客立减 ¥10",
            kind=CouponKind.FIXED,
            value="10.00",
            min_spend="99.00",
            limit_per_customer=1,
            stacking_group="store",
        ),
        CouponIn(
            code="WINTER5",
            name="冬季券 (已结束)",
            kind=CouponKind.FIXED,
            value="5.00",
            starts_at=start - timedelta(days=60),
            ends_at=start - timedelta(days=7),
        ),
        CouponIn(
            code="FLASH100",
            name="限量闪购券",
            kind=CouponKind.FIXED,
            value="20.00",
            min_spend="199.00",
            limit_total=100,
            limit_per_customer=1,
        ),
    ):
        made = await coupons.create_coupon(session, SYSTEM, data)
        if made.code == "FLASH100":
            await coupons.add_codes(session, SYSTEM, made.id, 20)


def named(rng: random.Random, fate: Fate) -> list[str]:
    """The coupons a web order names: now and then, and always when its buyer will cancel it
    (so the demo shows uses given back)."""
    if fate.channel != "web" or (fate.cancel_after is None and rng.random() >= SHARE):
        return []
    return list(rng.choice(NAMED))
