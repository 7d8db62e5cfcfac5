from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import MAX_INT32, Id, Input
from shopflow.crm.quotes.models import QuoteState
from shopflow.orders.models import PaymentTerms

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1[0-9]{10}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Part = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class BuyerIn(Input):
    name: Name
    phone: Phone


class ShipToIn(Input):
    name: Name
    phone: Phone
    province: Part
    city: Part
    district: Part
    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]


class QuoteLineIn(Input):
    sku: str = Field(min_length=1, max_length=64)
    spec: str = Field(default="", max_length=200)
    quantity: int = Field(ge=1, le=MAX_INT32)
    unit_price: AmountText
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=2)


class QuoteIn(Input):
    """A B2B quotation (CRM-6): for a customer and/or a lead, delivered to `ship_to`."""

    customer_id: Id | None = None
    lead_id: Id | None = None
    buyer: BuyerIn
    ship_to: ShipToIn
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=200)
    delivery_date: date
    payment_terms: PaymentTerms
    aftersales_terms: str = Field(default="", max_length=2000)
    note: str | None = Field(default=None, max_length=2000)


class DecisionIn(Input):
    note: str = Field(default="", max_length=1000)


class QuoteLineOut(BaseModel):
    sku: str
    name: str
    spec: str
    quantity: int
    unit_price: Amount
    discount_percent: float
    list_price: Amount
    price_band: str
    net_unit_price: Amount
    line_total: Amount


class QuoteSummary(BaseModel):
    id: int
    state: QuoteState
    customer_id: int | None
    lead_id: int | None
    buyer: str  # the buyer's name, masked for roles without personal data
    payment_terms: PaymentTerms
    total: Amount
    expires_at: datetime | None
    created_at: datetime


class QuoteOut(QuoteSummary):
    phone: str
    lines: list[QuoteLineOut]
    delivery_date: date
    aftersales_terms: str
    note: str | None
    subtotal: Amount
    discount: Amount
    reasons: list[str]
    approval_id: int | None
    decision_note: str | None
    contract_id: int | None
    submitted_at: datetime | None
    approved_at: datetime | None
    sent_at: datetime | None
    answered_at: datetime | None


class ContractLineOut(BaseModel):
    sku: str
    name: str
    spec: str
    quantity: int
    unit_price: Amount
    discount_percent: float
    net_unit_price: Amount
    line_total: Amount


class ContractOut(BaseModel):
    id: int
    contract_no: str
    quote_id: int
    order_id: int | None
    customer_id: int | None
    buyer: str
    lines: list[ContractLineOut]
    delivery_date: date
    payment_terms: PaymentTerms
    payment_due_at: datetime | None
    aftersales_terms: str
    subtotal: Amount
    discount: Amount
    total: Amount
    created_at: datetime
