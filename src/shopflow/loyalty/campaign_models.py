"""Campaigns (LOY-3): a theme with a window, the channels it runs in and its offers (coupons, price
rules, a gift over a minimum spend), and the pure rules of its figures: attribution window and ROI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime


class CampaignKind(StrEnum):
    PROMOTION = "promotion"  # 促销
    HOLIDAY = "holiday"  # 节日
    NEW_PRODUCT = "new_product"  # 新品


class Campaign(Base):
    """A campaign and its offers. Orders are attributed to it through its coupons (`coupon_ids`)
    and its price rules (`price_rule_ids`, CAT-3), and through its gift (a SKU order intake adds
    free to an order whose goods after discounts reach `gift_min_spend`, while in stock)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
        CheckConstraint("gift_min_spend IS NULL OR gift_min_spend >= 0", name="gift_min_spend_not_negative"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget_not_negative"),
        Index("ix_campaigns_window", "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    theme: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))  # CampaignKind
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)  # exclusive
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)  # empty: every channel
    coupon_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    price_rule_ids: Mapped[list[int]] = mapped_column(JSONType, default=list, server_default="[]")
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    gift_min_spend: Mapped[int | None] = mapped_column(BigInteger)  # fen
    budget: Mapped[int | None] = mapped_column(BigInteger)  # fen: the cost estimated beforehand
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` lies in the window [starts_at, ends_at)."""
        return self.starts_at <= at < self.ends_at

    def has_started(self, at: datetime) -> bool:
        return self.starts_at <= at


def roi(margin: int, cost: int) -> Decimal | None:
    """ROI = (gross margin − cost) / cost, to four decimals (half even); None when the cost is 0."""
    if cost == 0:
        return None
    return (Decimal(margin - cost) / Decimal(cost)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Day:
    """One day (the store's zone) of a campaign's attributed orders."""

    day: str  # ISO date
    orders: int
    sales: int  # fen
    discounts: int  # fen
    margin: int  # fen


@dataclass(frozen=True, slots=True)
class Metrics:
    """A campaign's figures over its window so far (LOY-3)."""

    orders: int
    sales: int
    discounts: int
    coupon_uses: int
    new_members: int
    gross_margin: int
    gift_cost: int
    days: list[Day]

    @property
    def cost(self) -> int:
        return self.discounts + self.gift_cost

    @property
    def roi(self) -> Decimal | None:
        return roi(self.gross_margin, self.cost)
