"""Products and their listing status, SKUs and price changes (CAT-1, CAT-2, CAT-4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.db import Base, BigId, UTCDateTime


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
