from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shopflow.aftersales.models import CaseState, CaseType, Reason
from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import MAX_INT32, Id, Input
from shopflow.orders.models import AftersalesStanding


class CaseLineIn(Input):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=MAX_INT32)


class CaseIn(Input):
    order_id: Id
    type: CaseType
    reason: Reason
    opened: bool = False
    lines: list[CaseLineIn] = Field(default=[], max_length=200)
    amount: AmountText | None = None  # a compensation's amount (ASV-5)
    note: str | None = Field(default=None, max_length=2000)


class RejectIn(Input):
    reason: str = Field(min_length=1, max_length=200)


class ReturnShipmentIn(Input):
    carrier: str = Field(min_length=1, max_length=40)
    tracking_no: str = Field(min_length=1, max_length=64)


class InspectLineIn(Input):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=MAX_INT32)
    result: Literal["restock", "write_off"]
    warehouse: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, max_length=80)


class InspectIn(Input):
    lines: list[InspectLineIn] = Field(min_length=1, max_length=200)


class EligibilityOut(BaseModel):
    rule: str
    deadline: datetime
    sentence: str


class RefundOut(BaseModel):
    items: Amount
    discount_share: Amount
    shipping: Amount
    return_shipping: Amount
    total: Amount


class CaseLineOut(BaseModel):
    sku: str
    quantity: int
    unit_price: Amount
    discount_share: Amount
    restocked: int
    written_off: int


class ReturnEventOut(BaseModel):
    """A carrier's tracking event of the return (FUL-5's vocabulary: picked_up … delivered)."""

    status: str
    occurred_at: datetime
    location: str | None
    description: str | None


class ReturnShipmentOut(BaseModel):
    carrier: str
    tracking_no: str
    created_at: datetime
    received_at: datetime | None
    events: list[ReturnEventOut] = []


class CaseOut(BaseModel):
    id: int
    case_no: str
    order_id: Id
    type: CaseType
    reason: Reason
    opened: bool
    state: CaseState
    eligibility: EligibilityOut
    refund: RefundOut
    refunded: Amount
    amount: Amount | None
    lines: list[CaseLineOut]
    note: str | None
    reject_reason: str | None
    replacement_order_id: int | None
    return_shipment: ReturnShipmentOut | None = None
    created_at: datetime
    updated_at: datetime


class OrderAftersalesOut(BaseModel):
    """ORD-7/ASV: the order's after-sales standing and the money its cases refunded."""

    order_id: int
    aftersales: AftersalesStanding
    refunded: Amount
