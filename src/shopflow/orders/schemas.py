from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import Input
from shopflow.loyalty.schemas import DiscountOut
from shopflow.orders.models import AftersalesStanding, HoldReason, OrderStatus, PaymentTerms


class CustomerIn(Input):
    name: str = Field(default="", max_length=80)
    phone: str = Field(default="", max_length=20)
    email: str | None = Field(default=None, max_length=200)


class AddressIn(Input):
    # Empty defaults: completeness is an intake rule (ORD-2) reported with every other error.
    name: str = Field(default="", max_length=80)
    phone: str = Field(default="", max_length=20)
    province: str = Field(default="", max_length=40)
    city: str = Field(default="", max_length=40)
    district: str = Field(default="", max_length=40)
    street: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=10)


class LineIn(Input):
    sku: str = Field(max_length=64)
    quantity: int
    unit_price: AmountText


class OrderIn(Input):
    channel: str = Field(min_length=1, max_length=40, examples=["own_store"])
    channel_order_no: str | None = Field(default=None, max_length=80)
    customer: CustomerIn
    shipping_address: AddressIn = AddressIn()
    lines: list[LineIn] = Field(max_length=200)
    buyer_ip: str | None = Field(default=None, max_length=64)
    # RSK-1: the buyer's device as the storefront identifies it, for the risk rules only; left out
    # of the request's digest (ORD-1), so a repeat is the same request whatever device sent it.
    device_id: str | None = Field(default=None, max_length=64, exclude=True)
    note: str | None = Field(default=None, max_length=1000)
    # LOY-4: coupon codes (any case); the best combination of them is applied.
    coupons: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default=[], max_length=10
    )
    # LOY-1: points the member redeems (the policy's value each, at most its share of the goods).
    points: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class LineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Amount
    discount: Amount
    line_total: Amount


class TotalsOut(BaseModel):
    subtotal: Amount
    shipping: Amount
    discount: Amount
    total: Amount


class OrderSummary(BaseModel):
    id: int
    order_no: str
    status: OrderStatus
    hold_reason: str | None
    channel: str
    channel_order_no: str | None
    totals: TotalsOut
    created_at: datetime


class OrderOut(OrderSummary):
    customer: CustomerIn
    shipping_address: AddressIn
    lines: list[LineOut]
    note: str | None
    confirmed_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    payment_terms: PaymentTerms | None  # a contract's order (CRM-6); net30/net60 on credit (ORD-5)
    payment_due_at: datetime | None
    discounts: list[DiscountOut]  # its discount lines: coupons it used (LOY-4), points redeemed (LOY-1)
    discount_note: str | None  # which coupons applied and why the others did not


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    reason: str | None


class ReservationOut(BaseModel):
    sku_id: int
    warehouse_id: int
    quantity: int
    state: str


class OrderDetail(OrderOut):
    history: list[HistoryEntry]
    reservations: list[ReservationOut]
    aftersales: AftersalesStanding  # issue 11, item 8
    refunded: Amount  # the settled refunds of its payments


class CancelIn(Input):
    reason: str = Field(min_length=1, max_length=200)


class HoldIn(Input):
    reason: HoldReason = HoldReason.MANUAL
