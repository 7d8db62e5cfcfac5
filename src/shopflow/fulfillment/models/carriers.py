"""Carriers and the rule table choosing them (FUL-3), their tariffs and scorecards (FUL-7)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, UTCDateTime

TRACKING_PLACEHOLDER = "{tracking_no}"
GRAMS_PER_KG = 1000


class Carrier(Base):
    __tablename__ = "carriers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    tracking_url: Mapped[str] = mapped_column(String(300))  # with "{tracking_no}"
    push_secret: Mapped[str] = mapped_column(Sealed)  # HMAC key of its pushed events, encrypted at rest
    base_fee: Mapped[int] = mapped_column(BigInteger)  # fen, first kilogram (首重)
    per_kg_fee: Mapped[int] = mapped_column(BigInteger)  # fen, each further started kilogram (续重)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def link(self, tracking_no: str) -> str:
        return tracking_link(self.tracking_url, tracking_no)

    def cost(self, weight_g: int) -> int:
        return freight_cost(weight_g, self.base_fee, self.per_kg_fee)


class CarrierRule(Base):
    """A row of the rule table: the first matching rule by (priority, id) names the carrier.

    Empty conditions match anything; ranges include their minimum and exclude their maximum.
    """

    __tablename__ = "carrier_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    province: Mapped[str | None] = mapped_column(String(40))
    min_weight_g: Mapped[int | None] = mapped_column(Integer)
    max_weight_g: Mapped[int | None] = mapped_column(Integer)
    min_order_value: Mapped[int | None] = mapped_column(BigInteger)
    max_order_value: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def matches(self, parcel: Parcel) -> bool:
        return (
            (self.province is None or self.province == parcel.province)
            and _within(parcel.weight_g, self.min_weight_g, self.max_weight_g)
            and _within(parcel.order_value, self.min_order_value, self.max_order_value)
        )


@dataclass(frozen=True, slots=True)
class Parcel:
    """What a rule looks at: destination province, package weight, order value (goods, fen)."""

    province: str
    weight_g: int
    order_value: int


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


def choose_carrier(rules: Iterable[CarrierRule], active: set[int], parcel: Parcel) -> int | None:
    """FUL-3: the carrier of the first matching rule (by priority, then age) whose carrier is active."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        if rule.carrier_id in active and rule.matches(parcel):
            return rule.carrier_id
    return None


def freight_cost(weight_g: int, base_fee: int, per_kg_fee: int) -> int:
    """The expected charge: the first kilogram, then each further started kilogram."""
    extra_kg = math.ceil(max(0, weight_g - GRAMS_PER_KG) / GRAMS_PER_KG)
    return base_fee + extra_kg * per_kg_fee


def tracking_link(template: str, tracking_no: str) -> str:
    return template.replace(TRACKING_PLACEHOLDER, quote(tracking_no, safe=""))


# --- scorecards (FUL-7) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CarrierFigures:
    """What the database counts per carrier over parcels shipped in a period."""

    parcels: int
    due: int  # delivered, or past the promise without delivery: on-time is decided for these
    on_time: int  # delivered within the promise
    with_exception: int
    damaged: int
    cost_total: int  # fen: billed cost where billed, else the expected cost


@dataclass(frozen=True, slots=True)
class Scorecard:
    parcels: int
    on_time_rate: float | None
    exception_rate: float | None
    damage_rate: float | None
    average_cost: int | None  # fen


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def scorecard(figures: CarrierFigures) -> Scorecard:
    """FUL-7. On-time rate = delivered within the promise / parcels whose promise is decided
    (delivered, or undelivered past it); exception and damage rate = parcels with such a case /
    parcels; average cost = cost / parcels, rounded to the fen."""
    f = figures
    return Scorecard(
        parcels=f.parcels,
        on_time_rate=_rate(f.on_time, f.due),
        exception_rate=_rate(f.with_exception, f.parcels),
        damage_rate=_rate(f.damaged, f.parcels),
        average_cost=None if f.parcels == 0 else round(f.cost_total / f.parcels),
    )
