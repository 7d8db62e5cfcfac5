from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shopflow.core.schemas import Input, Int32
from shopflow.inventory.models import RECEIPT_REFERENCE_LENGTH


class WarehouseIn(Input):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=120)
    province: str = Field(min_length=1, max_length=40)
    priority: Int32


class WarehouseOut(WarehouseIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    active: bool


class ReceiptLineIn(Input):
    sku: str = Field(max_length=64)
    quantity: int  # its range is checked with the SKU and warehouse (`service.receipt_errors`)


class ReceiptIn(Input):
    warehouse: str = Field(max_length=32)
    reference: str = Field(min_length=1, max_length=RECEIPT_REFERENCE_LENGTH)
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)


class ReceiptOut(BaseModel):
    id: int
    warehouse: str
    reference: str
    lines: list[ReceiptLineIn]


class WarehouseStock(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    available: int


class Availability(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    warehouses: list[WarehouseStock]


class LedgerEntryOut(BaseModel):
    id: int
    at: datetime
    warehouse: str
    kind: str
    quantity: int
    balance_after: int
    reference: str
    actor_id: int | None
