"""Products and their listing status, SKUs, price changes and price rules (CAT-1…CAT-4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class PriceBand(StrEnum):
    TRAFFIC = "traffic"  # 引流款
    PROFIT = "profit"  # 利润款
    IMAGE = "image"  # 形象款


class ListingStatus(StrEnum):
    """A product's listing (CAT-4): a draft is not for sale; publishing checks the banned words."""

    DRAFT = "draft"
    PUBLISHED = "published"


class Category(Base):
    """A node of the two-level category tree: a top-level category (no parent) or one of its
    subcategories; a name is unique under its parent."""

    __tablename__ = "categories"
    __table_args__ = (
        Index("ux_categories_parent_name", "parent_id", "name", unique=True),
        Index(
            "ux_categories_top_name",
            "name",
            unique=True,
            postgresql_where=text("parent_id IS NULL"),
            sqlite_where=text("parent_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    name: Mapped[str] = mapped_column(String(120))


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'published'"))  # ListingStatus
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # CAT-4: why a manager published it despite banned words (None: published clean, or a draft).
    override_reason: Mapped[str | None] = mapped_column(String(200))
    skus: Mapped[list[Sku]] = relationship(back_populates="product", order_by="Sku.id")


class Sku(Base):
    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("cost >= 0", name="cost_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[int] = mapped_column(BigInteger)  # fen
    cost: Mapped[int] = mapped_column(BigInteger)  # fen
    weight_g: Mapped[int] = mapped_column(Integer)
    barcode: Mapped[str | None] = mapped_column(String(64))
    price_band: Mapped[str] = mapped_column(String(20))
    sellable: Mapped[bool] = mapped_column(Boolean, default=True)
    safety_stock: Mapped[int | None] = mapped_column(Integer)  # INV-4; None: policy default
    product: Mapped[Product] = relationship(back_populates="skus")


class PriceChange(Base):
    """CAT-2: who changed a price, when, from what to what."""

    __tablename__ = "price_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    old_price: Mapped[int] = mapped_column(BigInteger)
    new_price: Mapped[int] = mapped_column(BigInteger)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class PriceRuleKind(StrEnum):
    """CAT-3: a scheduled promotional price, or a markdown triggered by stock."""

    PROMOTION = "promotion"  # 促销价
    MARKDOWN = "markdown"  # 库存降价


class PriceRuleState(StrEnum):
    """CAT-2: a rule beyond the band's floor or the creator's authority waits for a supervisor."""

    PENDING = "pending"  # 待审批: not in force
    ACTIVE = "active"  # in force within its window (a markdown: once triggered)
    REJECTED = "rejected"  # never in force


_R = PriceRuleState
RULE_TRANSITIONS: dict[PriceRuleState, frozenset[PriceRuleState]] = {
    _R.PENDING: frozenset({_R.ACTIVE, _R.REJECTED}),
    _R.ACTIVE: frozenset(),
    _R.REJECTED: frozenset(),
}
BASIS_POINTS = 10_000


class PriceRule(Base):
    """CAT-3: for one SKU or one category (and its subcategories), a fixed price (a SKU's only) or
    a percent off, in force from `starts_at` until `ends_at` (None: open), never under `floor`
    (None: each SKU's band floor). A markdown is in force only from `marked_from`: the worker sets
    it `stock_days` after the SKU's on-hand went above `stock_above` (`above_since`) and clears
    both when it falls to it or below."""

    __tablename__ = "price_rules"
    __table_args__ = (
        CheckConstraint("(sku_id IS NULL) <> (category_id IS NULL)", name="sku_or_category"),
        CheckConstraint("(price IS NULL) <> (percent_bp IS NULL)", name="price_or_percent"),
        CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp < 10000)", name="percent_range"
        ),
        # What sale_facts looks up per SKU: only rules that may be in force are indexed.
        Index(
            "ix_price_rules_sku_active",
            "sku_id",
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        Index(
            "ix_price_rules_category_active",
            "category_id",
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        Index("ix_price_rules_starts", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # PriceRuleKind
    state: Mapped[str] = mapped_column(String(16))  # PriceRuleState
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    price: Mapped[int | None] = mapped_column(BigInteger)  # fen: a fixed price (a SKU's rule)
    percent_bp: Mapped[int | None] = mapped_column(Integer)  # off the list price, 1/100 percent
    floor: Mapped[int | None] = mapped_column(BigInteger)  # fen; None: the SKU's band floor
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stock_above: Mapped[int | None] = mapped_column(BigInteger)  # a markdown's threshold (on hand)
    stock_days: Mapped[int | None] = mapped_column(Integer)  # how long above before it applies
    above_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_from: Mapped[datetime | None] = mapped_column(UTCDateTime)  # above_since + stock_days
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)  # why it needed approval
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def move_to(self, target: PriceRuleState) -> PriceRuleState:
        previous = PriceRuleState(self.state)
        if target not in RULE_TRANSITIONS[previous]:
            raise InvalidTransition("price rule", previous, target)
        self.state = target
        return previous

    def in_force(self, at: datetime) -> bool:
        """Active, within its window and (a markdown) triggered: sale_facts' SQL says the same."""
        return (
            self.state == PriceRuleState.ACTIVE
            and self.starts_at <= at
            and (self.ends_at is None or at < self.ends_at)
            and (
                self.kind == PriceRuleKind.PROMOTION
                or (self.marked_from is not None and self.marked_from <= at)
            )
        )


def band_floor(list_price: int, floor_percent: float) -> int:
    """The lowest price a SKU's band allows without approval (rounded up to the fen), as quotes."""
    return -(-list_price * round(floor_percent * 100) // BASIS_POINTS)


def rule_price(list_price: int, price: int | None, percent_bp: int | None) -> int:
    """What a rule asks before its floor: its fixed price, or the list price less its percent
    (rounded half up to the fen)."""
    if price is not None:
        return price
    assert percent_bp is not None
    return (list_price * (BASIS_POINTS - percent_bp) + BASIS_POINTS // 2) // BASIS_POINTS


def floored(list_price: int, band_floor_price: int, rule: PriceRule) -> int:
    """A rule's price for a SKU: never under its floor (its own, else the band's)."""
    floor = band_floor_price if rule.floor is None else rule.floor
    return max(rule_price(list_price, rule.price, rule.percent_bp), floor)


def effective_price(
    list_price: int, band_floor_price: int, rules: list[PriceRule]
) -> tuple[int, PriceRule | None]:
    """CAT-3: the lowest price among the rules in force (each never under its floor), never above
    the list price; with the rule that gives it (the lowest id on a tie; None: the list price)."""
    best: tuple[int, PriceRule | None] = (list_price, None)
    for rule in sorted(rules, key=lambda r: r.id):
        price = floored(list_price, band_floor_price, rule)
        if price < best[0]:
            best = (price, rule)
    return best


def off_list_percent(list_price: int, price: int) -> float:
    """How far below the list price `price` is, in percent (rounded up to 1/100 percent)."""
    if list_price <= 0 or price >= list_price:
        return 0.0
    return -(-(list_price - price) * BASIS_POINTS // list_price) / 100


def discount_reasons(
    list_price: int, price: int, floor_price: int, floor_percent: float, role: str, authority: float
) -> list[str]:
    """CAT-2: why a price needs a supervisor: under its band's floor, or further off the list
    price than the role may grant."""
    reasons = []
    if price < floor_price:
        reasons.append(
            f"{price / 100:.2f} is below the band's floor {floor_price / 100:.2f}"
            f" ({floor_percent:g}% of {list_price / 100:.2f})"
        )
    off = off_list_percent(list_price, price)
    if off > authority:
        reasons.append(f"{off:g}% off the list price exceeds the {role} authority of {authority:g}%")
    return reasons
