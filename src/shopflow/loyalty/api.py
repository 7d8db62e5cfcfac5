from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page
from shopflow.loyalty import service
from shopflow.loyalty.models import Coupon, CouponKind
from shopflow.loyalty.schemas import (
    CheckIn,
    CheckOut,
    CodesIn,
    CodesOut,
    CouponIn,
    CouponOut,
    LineDiscountOut,
    UseOut,
)

router = APIRouter(tags=["coupons"], responses=problems(401, 403))
CouponId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def coupon_out(coupon: Coupon, tally: service.Tally) -> CouponOut:
    return CouponOut(
        id=coupon.id,
        code=coupon.code,
        name=coupon.name,
        kind=CouponKind(coupon.kind),
        value=service.shown_value(coupon),
        min_spend=coupon.min_spend,
        limit_total=coupon.limit_total,
        limit_per_customer=coupon.limit_per_customer,
        starts_at=coupon.starts_at,
        ends_at=coupon.ends_at,
        skus=coupon.skus,
        categories=coupon.categories,
        stacking_group=coupon.stacking_group,
        combines_with=coupon.combines_with,
        used=tally.used,
        codes=tally.codes,
        created_at=coupon.created_at,
    )


@router.post("/coupons", status_code=201, response_model=CouponOut, responses=problems(409))
async def create_coupon(
    data: CouponIn, session: Session, actor: Annotated[Actor, require("coupons.write")]
) -> CouponOut:
    """A coupon (LOY-4): `kind` fixed ("10.00" off) or percent ("15" percent off), with its
    minimum spend, limits, window, SKUs or categories and stacking rules; its code is stored in
    upper case and redeems it in any case."""
    return coupon_out(await service.create_coupon(session, actor, data), service.Tally(codes=1, used=0))


@router.get("/coupons", response_model=Page[CouponOut])
async def list_coupons(
    session: Session, pages: Pages, _: Annotated[Actor, require("coupons.read")]
) -> Page[CouponOut]:
    coupons, total, tallies = await service.coupons_page(session, pages.page, pages.page_size)
    return Page[CouponOut](**pages.of([coupon_out(c, tallies[c.id]) for c in coupons], total))


@router.post("/coupons/check", response_model=CheckOut, responses=problems(422))
async def check_coupon(
    data: CheckIn, session: Session, _: Annotated[Actor, require("coupons.read")]
) -> CheckOut:
    """What the coupon would take off this basket for the buyer of `customer_phone` (and from which
    lines), or why it would not (expired, minimum spend not met, limit reached, not for this SKU)."""
    checked = await service.check(session, data)
    choice = checked.choice
    return CheckOut(
        code=checked.code,
        valid=choice is not None,
        discount=0 if choice is None else choice.discount,
        reason=checked.reason,
        lines=[
            LineDiscountOut(sku=sku, discount=0 if choice is None else choice.line_discounts[i])
            for i, sku in enumerate(checked.skus)
        ],
    )


@router.get("/coupons/{coupon_id}", response_model=CouponOut, responses=problems(404))
async def get_coupon(
    coupon_id: CouponId, session: Session, _: Annotated[Actor, require("coupons.read")]
) -> CouponOut:
    coupon = await service.get_coupon(session, coupon_id)
    return coupon_out(coupon, await service.tally(session, coupon_id))


@router.post("/coupons/{coupon_id}/codes", status_code=201, response_model=CodesOut, responses=problems(404))
async def add_codes(
    coupon_id: CouponId, data: CodesIn, session: Session, actor: Annotated[Actor, require("coupons.write")]
) -> CodesOut:
    """`count` new unique codes of the coupon, each good for one use within the coupon's limits."""
    codes = await service.add_codes(session, actor, coupon_id, data.count)
    return CodesOut(coupon_id=coupon_id, count=len(codes), codes=codes)


@router.get("/coupons/{coupon_id}/uses", response_model=Page[UseOut], responses=problems(404))
async def coupon_uses(
    coupon_id: CouponId, session: Session, pages: Pages, _: Annotated[Actor, require("coupons.read")]
) -> Page[UseOut]:
    """The coupon's uses, newest first; a cancelled order's use shows when it was released."""
    uses, total = await service.uses_page(session, coupon_id, pages.page, pages.page_size)
    return Page[UseOut](
        **pages.of(
            [
                UseOut(
                    id=u.id,
                    code=u.code,
                    order_id=u.order_id,
                    discount=u.discount,
                    used_at=u.used_at,
                    released_at=u.released_at,
                )
                for u in uses
            ],
            total,
        )
    )
