from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Input

Code = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# A quantity of a purchase: whole units, at least one, at most what an INTEGER holds.
Units = Field(ge=1, le=2**31 - 1)


class SupplierItemIn(Input):
    sku: str = Field(max_length=64)
    lead_time_days: int = Field(ge=0, le=365)
    pack_size: int = Field(ge=1, le=1_000_000)
    moq: int = Field(ge=1, le=1_000_000_000)
    unit_cost: AmountText


class SupplierIn(Input):
    code: str = Code
    name: str = Field(min_length=1, max_length=120)
    items: list[SupplierItemIn] = Field(default_factory=list, max_length=1000)


class SupplierItemOut(BaseModel):
    sku: str
    lead_time_days: int
    pack_size: int
    moq: int
    unit_cost: Amount


class SupplierOut(BaseModel):
    id: int
    code: str
    name: str
    active: bool
    items: list[SupplierItemOut]


class PoLineIn(Input):
    sku: str = Field(max_length=64)
    quantity: int = Units
    unit_cost: AmountText | None = None  # the supplier's price when left out


class PurchaseOrderIn(Input):
    supplier: str = Field(max_length=32)
    warehouse: str = Field(max_length=32)
    lines: list[PoLineIn] = Field(min_length=1, max_length=500)
    expected_on: date | None = None  # today plus the longest lead time of its lines when left out
    note: str = Field(default="", max_length=200)
    source: str = Field(default="manual", pattern="^(manual|suggestion|shortage)$")


class ConfirmIn(Input):
    expected_on: date | None = None  # the date the supplier confirmed, when it differs


class PoLineOut(BaseModel):
    sku: str
    quantity: int
    received: int
    unit_cost: Amount


class PurchaseOrderOut(BaseModel):
    id: int
    number: str
    supplier: str
    warehouse: str
    status: str
    source: str
    expected_on: date
    note: str
    created_at: datetime
    lines: list[PoLineOut]
    released_orders: int = 0  # a receipt's answer: orders held for stock it released (INV-5)


class PoReceiptLineIn(Input):
    sku: str = Field(max_length=64)
    quantity: int  # from 1 to what is still to come (checked against the order)


class PoReceiptIn(Input):
    reference: str = Field(min_length=1, max_length=60)
    lines: list[PoReceiptLineIn] = Field(min_length=1, max_length=500)


class SuggestionOut(BaseModel):
    sku: str
    name: str
    supplier: str
    available: int
    on_order: int
    safety_stock: int
    demand: float  # forecast units over lead time + review period
    lead_time_days: int
    pack_size: int
    moq: int
    unit_cost: Amount
    quantity: int


class DayUnits(BaseModel):
    day: date
    units: float


class BacktestOut(BaseModel):
    mape: float | None
    wape: float | None
    naive_mape: float | None
    naive_wape: float | None


class ForecastOut(BaseModel):
    sku: str
    abc: str
    computed_at: datetime
    history: list[DayUnits]
    forecast: list[DayUnits]
    backtest: BacktestOut
