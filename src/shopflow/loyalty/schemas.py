from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Input, Page, When
from shopflow.loyalty.models import CouponKind

# A code as people type it: letters, digits, - and _ (stored in upper case).
CodeText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
]
GroupText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class CouponIn(Input):
    code: CodeText
    name: str = Field(default="", max_length=120)
    kind: CouponKind
    # "10.00" yuan off (fixed), or "15" percent off (percent, at most two decimals).
    value: str = Field(max_length=20, examples=["10.00", "15"])
    min_spend: AmountText = 0
    limit_total: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    limit_per_customer: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    starts_at: When | None = None
    ends_at: When | None = None
    skus: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default=[], max_length=500
    )
    categories: list[Annotated[int, Field(ge=1)]] = Field(default=[], max_length=200)
    stacking_group: GroupText | None = None
    combines_with: list[GroupText] = Field(default=[], max_length=20)


class CouponOut(BaseModel):
    id: int
    code: str
    name: str
    kind: CouponKind
    value: str
    min_spend: Amount
    limit_total: int | None
    limit_per_customer: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    skus: list[str]
    categories: list[int]
    stacking_group: str | None
    combines_with: list[str]
    used: int  # uses held by orders not cancelled
    codes: int  # its own code and the generated ones
    created_at: datetime


class CodesIn(Input):
    count: Annotated[int, Field(ge=1)]


class CodesOut(BaseModel):
    coupon_id: int
    count: int
    codes: list[str]


class CheckLineIn(Input):
    sku: str = Field(max_length=64)
    quantity: Annotated[int, Field(ge=1)] = 1
    unit_price: AmountText | None = None  # None: the SKU's current price


class CheckIn(Input):
    code: str = Field(min_length=1, max_length=40)
    customer_phone: str = Field(default="", max_length=20)
    lines: list[CheckLineIn] = Field(min_length=1, max_length=200)


class LineDiscountOut(BaseModel):
    sku: str
    discount: Amount


class CheckOut(BaseModel):
    code: str
    valid: bool
    discount: Amount  # what it would take off (0 when not valid)
    reason: str | None  # why not
    lines: list[LineDiscountOut]


class UseOut(BaseModel):
    id: int
    code: str
    order_id: int
    discount: Amount
    used_at: datetime
    released_at: datetime | None


class DiscountOut(BaseModel):
    """A discount line of an order: what a coupon (LOY-4), the member's tier (LOY-2) or redeemed
    points (LOY-1) took off."""

    kind: str  # "coupon" | "tier" | "points"
    code: str | None = None  # the coupon's code; the tier's name (on the order's first answer)
    points: int | None = None  # the points redeemed
    amount: Amount


class PointEntryOut(BaseModel):
    id: int
    kind: str  # earn, reverse, burn, return, expire, adjust
    points: int  # signed
    order_id: int | None
    order_line_id: int | None
    quantity: int | None
    reason: str
    expires_at: datetime | None
    at: datetime


class MemberOut(BaseModel):
    customer_id: int
    tier: str
    agent: str | None  # their dedicated agent's username (LOY-2)
    balance: int  # the sum of the ledger
    ledger: Page[PointEntryOut]  # newest first


class AgentIn(Input):
    """LOY-2: a member's dedicated agent (an active customer-service agent's username), or null."""

    agent: str | None = Field(max_length=64)


class AdjustedOut(BaseModel):
    customer_id: int
    balance: int
    entry: PointEntryOut  # the adjustment as the ledger keeps it


class AdjustIn(Input):
    points: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]  # added (positive) or taken (negative)
    reason: str = Field(min_length=1, max_length=200)
