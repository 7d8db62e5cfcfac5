from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shopflow.catalog.models import ListingStatus, PriceBand, PriceRuleKind, PriceRuleState
from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Id, Input, Int32, When


class SkuIn(Input):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    price: AmountText
    cost: AmountText
    weight_g: Int32
    price_band: PriceBand
    barcode: str | None = Field(default=None, max_length=64)
    safety_stock: Int32 | None = None


CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class ProductIn(Input):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    # The category path: a top-level category and optionally its subcategory (found or created).
    category: list[CategoryName] | None = Field(default=None, min_length=1, max_length=2)
    skus: list[SkuIn] = Field(min_length=1, max_length=200)
    # CAT-4: published at once when its title and description use no banned word (else a draft,
    # its words named); false: a draft either way.
    publish: bool = True


class ProductPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class PublishIn(Input):
    # CAT-4: a manager's reason to publish a listing that uses banned words.
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class CategoryIn(Input):
    # The category path to file a product under (found or created); None: no category.
    category: list[CategoryName] | None = Field(default=None, min_length=1, max_length=2)


class SkuPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    price: AmountText | None = None
    cost: AmountText | None = None
    sellable: bool | None = None
    reason: str = Field(default="", max_length=200)


class HitOut(BaseModel):
    field: str  # "name" or "description"
    word: str
    position: int  # the character offset in the field, from 0


class PriceChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    old_price: Amount
    new_price: Amount
    changed_by: int | None
    changed_at: datetime
    reason: str


class SkuOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    product_id: int
    price: Amount
    cost: Amount
    weight_g: int
    price_band: PriceBand
    barcode: str | None
    sellable: bool
    safety_stock: int | None


class PendingPriceOut(BaseModel):
    """CAT-2: a price change waiting for a supervisor; the old price holds until approved."""

    approval_id: int
    new_price: Amount
    reasons: list[str]
    requested_by: str
    requested_at: datetime


class SkuDetail(SkuOut):
    price_history: list[PriceChangeOut]
    pending_price_change: PendingPriceOut | None = None


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    category_id: int | None
    status: ListingStatus
    published_at: datetime | None
    override_reason: str | None
    hits: list[HitOut]  # CAT-4: the banned words its title and description use now
    skus: list[SkuOut]


class PriceRuleIn(Input):
    """CAT-3: a promotion (a window) or a markdown (a window, and on hand above `stock_above` for
    `stock_days`) for one SKU or one category (with its subcategories)."""

    name: str = Field(min_length=1, max_length=120)
    kind: PriceRuleKind = PriceRuleKind.PROMOTION
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    category: Id | None = None  # a category's id: it covers its subcategories' SKUs too
    price: AmountText | None = None  # a fixed price (a SKU's rule only)
    percent: str | None = Field(default=None, max_length=10, examples=["10", "12.5"])  # off the list
    floor: AmountText | None = None  # never under it; None: the SKU's band floor
    starts_at: When
    ends_at: When | None = None
    stock_above: Int32 | None = None  # a markdown: units on hand it must stay above
    stock_days: Annotated[int, Field(ge=1, le=3650)] | None = None  # … for this many days


class DecisionIn(Input):
    note: str = Field(default="", max_length=500)


class PriceRuleOut(BaseModel):
    id: int
    name: str
    kind: PriceRuleKind
    state: PriceRuleState
    sku: str | None
    category: int | None
    category_path: str | None
    price: Amount | None
    percent: str | None
    floor: Amount | None
    starts_at: datetime
    ends_at: datetime | None
    stock_above: int | None
    stock_days: int | None
    above_since: datetime | None
    marked_from: datetime | None  # a markdown: in force from then (while stock stays above)
    in_force: bool  # now
    reasons: list[str]  # CAT-2: why it waited for approval
    approval_id: int | None
    created_at: datetime


class EffectivePriceOut(BaseModel):
    sku: str
    at: datetime
    list_price: Amount
    price: Amount
    rule_id: int | None
    rule: str | None  # the rule's name
    reason: str
