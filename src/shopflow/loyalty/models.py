"""Coupons (LOY-4, ORD-2): the coupon, its codes, the ledger of its uses and each buyer's allowance,
and the pure rules that price an order's coupons and pick the best combination of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import combinations
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import money
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime


class CouponKind(StrEnum):
    FIXED = "fixed"  # an amount off (value in fen)
    PERCENT = "percent"  # a share off (value in basis points: 15% is 1500)


class Coupon(Base):
    """A coupon and its limits. For a coupon with a total limit, `used` is the reservation counter
    of its uses (one conditional UPDATE per order, `… WHERE used < limit_total`) and equals the
    count of its uses not released; a coupon without one keeps 0 there (nothing to reserve). The
    ledger is `coupon_uses`: what the API and console show as used."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("used >= 0", name="used_not_negative"),
        CheckConstraint("limit_total IS NULL OR used <= limit_total", name="used_within_limit"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # its own code (also in coupon_codes)
    name: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[str] = mapped_column(String(10))  # CouponKind
    value: Mapped[int] = mapped_column(BigInteger)  # fen, or basis points for a percentage
    min_spend: Mapped[int] = mapped_column(BigInteger, default=0)  # fen of the goods it applies to
    limit_total: Mapped[int | None] = mapped_column(Integer)
    limit_per_customer: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # exclusive
    skus: Mapped[list[str]] = mapped_column(JSONType, default=list)  # SKU codes; empty: every SKU
    categories: Mapped[list[int]] = mapped_column(JSONType, default=list)  # ids; empty: every one
    stacking_group: Mapped[str | None] = mapped_column(String(40))
    combines_with: Mapped[list[str]] = mapped_column(JSONType, default=list)
    used: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CouponCode(Base):
    """A code that redeems a coupon: the coupon's own (any number of uses, within the coupon's
    limits) or one of a generated batch (`max_uses` 1)."""

    __tablename__ = "coupon_codes"
    __table_args__ = (
        CheckConstraint("max_uses IS NULL OR used <= max_uses", name="used_within_max"),
        Index("ix_coupon_codes_coupon", "coupon_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class CouponUse(Base):
    """The ledger of uses: one row per coupon an order applied, reserved at intake in the order's
    transaction and released (never deleted) when the order is cancelled."""

    __tablename__ = "coupon_uses"
    __table_args__ = (
        Index("ux_coupon_uses_order_coupon", "order_id", "coupon_id", unique=True),
        Index("ix_coupon_uses_coupon", "coupon_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    code_id: Mapped[int] = mapped_column(ForeignKey("coupon_codes.id"))
    code: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_no: Mapped[str] = mapped_column(String(32))  # the order's number, as its uses list it
    buyer: Mapped[str] = mapped_column(String(64))  # the order's phone hash: who used it
    discount: Mapped[int] = mapped_column(BigInteger)  # fen taken off the order
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CouponAllowance(Base):
    """A buyer's uses of a coupon with a per-customer limit not released: reserved by one
    conditional upsert (`… WHERE used < limit`) and given back when the order is cancelled, so a
    cancelled order never consumes the allowance."""

    __tablename__ = "coupon_allowances"
    __table_args__ = (CheckConstraint("used >= 0", name="used_not_negative"),)

    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), primary_key=True)
    buyer: Mapped[str] = mapped_column(String(64), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)


# --- pricing: pure functions, no I/O ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """A coupon as a code redeems it."""

    coupon_id: int
    code_id: int
    code: str
    kind: CouponKind
    value: int
    min_spend: int
    limit_total: int | None
    limit_per_customer: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    skus: frozenset[str]
    categories: frozenset[int]
    group: str | None
    combines_with: frozenset[str]
    used: int
    code_max_uses: int | None
    code_used: int


@dataclass(frozen=True, slots=True)
class Goods:
    """An order line as coupons see it: its SKU, the categories it is filed under (its category
    and that one's parent) and its value in fen."""

    sku: str
    categories: frozenset[int]
    value: int


@dataclass(frozen=True, slots=True)
class Priced:
    """A coupon that applies: what it takes off and from which lines (by index, summing to
    `discount`)."""

    offer: Offer
    discount: int
    shares: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Skipped:
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Choice:
    """The combination applied and why each other coupon was not."""

    applied: tuple[Priced, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    line_discounts: tuple[int, ...] = field(default=())

    @property
    def discount(self) -> int:
        return sum(p.discount for p in self.applied)

    def explanation(self) -> str:
        return explained([(p.offer.code, p.discount) for p in self.applied], self.skipped)


def explained(applied: Sequence[tuple[str, int]], skipped: Sequence[Skipped] = ()) -> str:
    """Which coupons (code, fen off) an order applied, and why each other one not."""
    if not applied:
        return "no coupon applies"
    taken = ", ".join(f"{code} (−{money.fmt(fen)})" for code, fen in applied)
    parts = [f"applied {taken}: {money.fmt(sum(fen for _, fen in applied))} off in all"]
    parts += [f"{s.code} not applied: {s.reason}" for s in skipped]
    return "; ".join(parts)


def offer_error(offer: Offer, goods: Sequence[Goods], at: datetime, allowance_used: int) -> str | None:
    """Why `offer` cannot apply to `goods` at `at` for a buyer who has `allowance_used` of its
    per-customer uses (ORD-2), or None. The words a buyer reads: expired, minimum spend not met,
    limit reached, not for this SKU."""
    code = offer.code
    if offer.starts_at is not None and at < offer.starts_at:
        return f"coupon {code!r} is not valid yet: from {offer.starts_at:%Y-%m-%d %H:%M} UTC"
    if offer.ends_at is not None and at >= offer.ends_at:
        return f"coupon {code!r} has expired"
    if offer.limit_total is not None and offer.used >= offer.limit_total:
        return f"coupon {code!r}: limit reached ({offer.limit_total} uses)"
    if offer.code_max_uses is not None and offer.code_used >= offer.code_max_uses:
        return f"coupon {code!r}: limit reached (the code is used)"
    if offer.limit_per_customer is not None and allowance_used >= offer.limit_per_customer:
        return f"coupon {code!r}: limit reached ({offer.limit_per_customer} per customer)"
    eligible = eligible_value(offer, goods)
    if not any(applies_to(offer, g) for g in goods):
        return f"coupon {code!r} is not for this SKU"
    if eligible < offer.min_spend:
        return f"coupon {code!r}: minimum spend {money.fmt(offer.min_spend)} not met ({money.fmt(eligible)})"
    return None


def applies_to(offer: Offer, goods: Goods) -> bool:
    """Whether the coupon covers the line: any SKU and category when it names none."""
    if offer.skus and goods.sku not in offer.skus:
        return False
    return not offer.categories or bool(offer.categories & goods.categories)


def eligible_value(offer: Offer, goods: Sequence[Goods]) -> int:
    return sum(g.value for g in goods if applies_to(offer, g))


def percent_off(value: int, basis_points: int) -> int:
    """`basis_points`/100 percent of `value` fen, half a fen rounded up."""
    return (value * basis_points + 5_000) // 10_000


def compatible(a: Offer, b: Offer) -> tuple[bool, str]:
    """Whether two coupons combine: different coupons in different groups, each group named in
    the other's `combines_with` (a coupon without a group combines with none); with the reason."""
    if a.coupon_id == b.coupon_id:
        return False, f"it is the same coupon as {a.code}"
    if a.group is None or b.group is None:
        lone = a if a.group is None else b
        return False, f"{lone.code} combines with no other coupon"
    if a.group == b.group:
        return False, f"only one coupon of the group {a.group!r} applies ({a.code})"
    if b.group not in a.combines_with or a.group not in b.combines_with:
        return False, f"does not combine with {a.code} (group {a.group!r})"
    return True, ""


def price(offers: Sequence[Offer], goods: Sequence[Goods]) -> tuple[Priced, ...]:
    """The coupons applied one after another in the given order, each to what the earlier ones
    left of its lines, shared by largest remainder (`money.largest_remainder`, ASV-4); no line
    goes below zero."""
    left = [g.value for g in goods]
    priced = []
    for offer in offers:
        covered = [i for i, g in enumerate(goods) if applies_to(offer, g)]
        base = sum(goods[i].value for i in covered)
        wanted = offer.value if offer.kind == CouponKind.FIXED else percent_off(base, offer.value)
        room = [left[i] for i in covered]
        discount = min(wanted, sum(room))
        shares = [0] * len(goods)
        for i, share in zip(covered, money.largest_remainder(room, discount), strict=True):
            shares[i] = share
            left[i] -= share
        priced.append(Priced(offer, discount, tuple(shares)))
    return tuple(priced)


def choose(offers: Sequence[Offer], goods: Sequence[Goods]) -> Choice:
    """The best combination of valid coupons for the buyer (LOY-4): of every set whose coupons
    combine pairwise, the one taking most off; between equals the one of fewer coupons, then the
    one whose codes come first in alphabetical order. Within it coupons apply in code order."""
    ordered = sorted(offers, key=lambda o: o.code)
    best: tuple[tuple[int, int, tuple[str, ...]], tuple[Priced, ...]] | None = None
    for size in range(1, len(ordered) + 1):
        for subset in combinations(ordered, size):
            if not all(compatible(a, b)[0] for a, b in combinations(subset, 2)):
                continue
            priced = price(subset, goods)
            key = (-sum(p.discount for p in priced), size, tuple(o.code for o in subset))
            if best is None or key < best[0]:
                best = (key, priced)
    applied = () if best is None else best[1]
    chosen = [p.offer for p in applied]
    skipped = []
    for offer in ordered:
        if offer in chosen:
            continue
        reasons = [compatible(c, offer) for c in chosen]
        reason = next((why for ok, why in reasons if not ok), "the others take more off together")
        skipped.append(Skipped(offer.code, reason))
    per_line = tuple(sum(p.shares[i] for p in applied) for i in range(len(goods)))
    return Choice(applied, tuple(skipped), per_line)


def offer_from(row: Mapping[str, Any]) -> Offer:
    """An `Offer` from a repository row of a code joined with its coupon."""
    return Offer(
        coupon_id=row["coupon_id"],
        code_id=row["code_id"],
        code=row["code"],
        kind=CouponKind(row["kind"]),
        value=row["value"],
        min_spend=row["min_spend"],
        limit_total=row["limit_total"],
        limit_per_customer=row["limit_per_customer"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        skus=frozenset(row["skus"] or ()),
        categories=frozenset(row["categories"] or ()),
        group=row["stacking_group"],
        combines_with=frozenset(row["combines_with"] or ()),
        used=row["used"],
        code_max_uses=row["code_max_uses"],
        code_used=row["code_used"],
    )


# --- points (LOY-1) ------------------------------------------------------------------------------


class PointKind(StrEnum):
    EARN = "earn"  # on completion, per line, at the policy's rate
    REVERSE = "reverse"  # earned points of refunded units taken back
    BURN = "burn"  # redeemed at checkout
    RETURN = "return"  # redeemed points given back (the order cancelled or refunded)
    EXPIRE = "expire"  # credits past their date not spent
    ADJUST = "adjust"  # by hand, with a reason
    BIRTHDAY = "birthday"  # the policy's bonus with the birthday greeting


# Credits that expire: what a member earned or was given; a return only undoes a burn.
EXPIRING = (PointKind.EARN, PointKind.ADJUST, PointKind.BIRTHDAY)


class PointAccount(Base):
    """A member's balance: the reservation counter of their points, brought down only by one
    conditional UPDATE (`… WHERE balance >= n`); it always equals the sum of their entries."""

    __tablename__ = "point_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    # The expiry sweep has taken every credit expiring up to this moment into account.
    expired_through: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PointEntry(Base):
    """The points ledger (LOY-1): one signed row per earn, reversal, burn, return, expiry or
    adjustment, tied to an order (and line) or a reason."""

    __tablename__ = "point_entries"
    __table_args__ = (
        Index("ix_point_entries_customer", "customer_id", "id"),
        Index("ix_point_entries_order", "order_id"),
        Index("ix_point_entries_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(10))  # PointKind
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int | None] = mapped_column(Integer)  # units earned on, or refunded
    amount: Mapped[int | None] = mapped_column(BigInteger)  # fen a burn took off its order
    reason: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True, slots=True)
class LineValue:
    """An order line as points see it: its id, units, and value after its discounts (fen)."""

    line_id: int
    quantity: int
    net: int


def tier_cut(goods: int, percent: float) -> int:
    """LOY-2: a tier's discount of `percent` on `goods` fen (after coupons), in whole fen."""
    return int(Decimal(goods) * Decimal(str(percent)) / 100)


def points_for(net: int, per_yuan: float) -> int:
    """LOY-1: whole points for `net` fen paid (1 per yuan by default), fractions dropped."""
    return int(net * per_yuan) // 100


def share_by_line(lines: Sequence[LineValue], total: int) -> list[int]:
    """`total` points (earned or burned by the order) shared by its lines by their value, to the
    point (largest remainder), so a refund of a line finds its part."""
    return money.largest_remainder([line.net for line in lines], total)


def on_top(values: Sequence[int], shares: Sequence[int], amount: int) -> list[int]:
    """Lines' discount `shares` (fen) with `amount` fen more shared by what the earlier discounts
    left of each line (largest remainder): a tier's discount after the coupons, points last."""
    left = [value - share for value, share in zip(values, shares, strict=True)]
    return [share + extra for share, extra in zip(shares, money.largest_remainder(left, amount), strict=True)]


def taken_back(points: int, units: int, refunded: int, already: int) -> int:
    """How many more of a line's `points` (earned, or burned, on `units` units) a refund of
    `refunded` units in all takes back or gives back, `already` having been: in proportion,
    whole points, all of them when every unit is refunded."""
    return points * min(refunded, units) // units - already if units else 0


def redeemable(value_fen: int, goods_left: int, max_share_percent: float) -> int:
    """The most points an order with `goods_left` fen of goods (after coupons) may redeem."""
    return int(goods_left * max_share_percent) // 100 // value_fen if value_fen else 0


def expiring(credits_due: int, debits: int, expired: int) -> int:
    """Points to expire now (FIFO: spending uses the oldest credits first): of the credits whose
    date has passed (`credits_due`), what spending (`debits`, net of returns) has not used, less
    what has expired already; never negative."""
    return max(0, credits_due - debits - expired)
