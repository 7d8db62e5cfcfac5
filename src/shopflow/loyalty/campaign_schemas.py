"""Campaigns (LOY-3) in and out of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Id, Input, When
from shopflow.loyalty.campaign_models import CampaignKind

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class CampaignIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    theme: str = Field(default="", max_length=200)
    kind: CampaignKind
    starts_at: When
    ends_at: When  # exclusive
    channels: list[Word] = Field(default=[], max_length=50)  # empty: every channel
    coupon_ids: list[Id] = Field(default=[], max_length=100)
    price_rule_ids: list[Id] = Field(default=[], max_length=100)  # CAT-3's rules it runs
    gift_sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = (
        None
    )
    gift_min_spend: AmountText | None = None
    budget: AmountText | None = None


class CampaignOut(BaseModel):
    id: int
    name: str
    theme: str
    kind: CampaignKind
    starts_at: datetime
    ends_at: datetime
    channels: list[str]
    coupon_ids: list[int]
    price_rule_ids: list[int]
    gift_sku: str | None
    gift_min_spend: Amount | None
    budget: Amount | None
    created_at: datetime


class DayOut(BaseModel):
    day: str  # the store's date
    orders: int
    sales: Amount
    discounts: Amount
    gross_margin: Amount


class MetricsOut(BaseModel):
    campaign_id: int
    state: str  # scheduled, running, ended
    as_of: datetime
    orders: int
    sales: Amount
    discounts: Amount
    coupon_uses: int
    new_members: int
    gross_margin: Amount
    gift_cost: Amount
    cost: Amount
    roi: str | None  # (gross margin − cost) / cost, four decimals; null when the cost is 0
    days: list[DayOut]
