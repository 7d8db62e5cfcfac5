from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shopflow.catalog.models import ListingStatus, PriceBand
from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Input, Int32


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


class SkuDetail(SkuOut):
    price_history: list[PriceChangeOut]


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
