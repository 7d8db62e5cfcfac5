from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from shopflow.core.schemas import Input, Int32
from shopflow.stockcontrol.models import CountKind, CountState, TransferState

MAX_TRANSFER_QUANTITY = 1_000_000_000  # as a receipt's line (`inventory.service`)


class CountIn(Input):
    warehouse: str = Field(max_length=32)
    kind: CountKind = CountKind.PARTIAL
    # A partial count of these SKUs; none named: the SKUs due by ABC class (INV-6).
    skus: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=5000
    )


class CountLineIn(Input):
    sku: str = Field(max_length=64)
    counted: Int32


class CountLinesIn(Input):
    lines: list[CountLineIn] = Field(min_length=1, max_length=5000)


class PostIn(Input):
    reason: str = Field(min_length=1, max_length=100)


class CountLineOut(BaseModel):
    sku: str
    snapshot: int  # on hand when the count started
    expected: int | None  # on hand when the line was keyed
    counted: int | None
    variance: int | None  # counted - expected: what posting adds to on hand


class CountOut(BaseModel):
    id: int
    warehouse: str
    kind: CountKind
    state: CountState
    period: str | None
    needs_manager: bool
    reason: str | None
    created_at: datetime
    approved_at: datetime | None
    posted_at: datetime | None
    counted_lines: int
    lines: list[CountLineOut]


class TransferLineIn(Input):
    sku: str = Field(max_length=64)
    quantity: int = Field(ge=1, le=MAX_TRANSFER_QUANTITY)


class TransferIn(Input):
    from_warehouse: str = Field(max_length=32)
    to_warehouse: str = Field(max_length=32)
    lines: list[TransferLineIn] = Field(min_length=1, max_length=500)
    note: str | None = Field(default=None, max_length=200)


class TransferLineOut(BaseModel):
    sku: str
    quantity: int


class TransferOut(BaseModel):
    id: int
    from_warehouse: str
    to_warehouse: str
    state: TransferState
    note: str | None
    in_transit: int  # units out of the source and not yet at the destination
    created_at: datetime
    shipped_at: datetime | None
    received_at: datetime | None
    lines: list[TransferLineOut]


class SuggestionOut(BaseModel):
    sku: str
    from_warehouse: str
    to_warehouse: str
    quantity: int
    demand_share: float  # the destination region's share of the SKU's recent sales
