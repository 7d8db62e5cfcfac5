from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import AwareWhen, Id, Input
from shopflow.payments.gateway import Channel
from shopflow.payments.models import CallbackResult, PaymentStatus, RefundCallbackResult, RefundStatus


class PaymentIn(Input):
    method: str = Field(min_length=1, max_length=30, examples=["alipay"])
    # How the buyer pays: Alipay's desktop page or mobile site; WeChat Pay's QR code or mobile
    # site, or its JSAPI payment inside WeChat (with `payer_openid`). When left out: Alipay's
    # page, WeChat Pay's QR code.
    channel: Channel | None = None
    payer_openid: str | None = Field(default=None, min_length=1, max_length=128)


class PaymentCreated(BaseModel):
    payment_id: int
    out_trade_no: str  # our payment number: what the provider echoes
    provider: str
    status: PaymentStatus
    amount: Amount
    pay_url: str | None  # the page the buyer opens
    qr_code: str | None  # or the content of the QR code the buyer scans (WeChat Pay Native)
    # or what the buyer's page inside WeChat passes to its payment call (WeChat Pay JSAPI):
    # appId, timeStamp, nonceStr, package, signType, paySign
    prepay: dict[str, str] | None


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    provider: str
    provider_reference: str | None
    out_trade_no: str
    method: str
    amount: Amount
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime


class CallbackIn(Input):
    event_id: str = Field(min_length=1, max_length=80)
    payment_id: Id
    outcome: Literal["success", "failure"]
    amount: AmountText
    occurred_at: AwareWhen
    reference: str | None = Field(default=None, max_length=80)  # the provider's number of the trade


class CallbackAck(BaseModel):
    event_id: str
    result: CallbackResult


class SandboxComplete(Input):
    outcome: Literal["success", "failure"]
    amount: AmountText | None = None
    # How many times the gateway delivers the same signed callback (a retrying gateway).
    deliveries: int = Field(default=1, ge=1, le=5)


class SandboxDelivery(BaseModel):
    status_code: int
    body: dict[str, object]


class SandboxResult(BaseModel):
    event_id: str
    deliveries: list[SandboxDelivery]


class ReceiptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    payment_id: int
    order_id: int
    method: str
    amount: Amount
    received_at: datetime


# --- refunds (PAY-3) -------------------------------------------------------------------------


class RefundIn(Input):
    amount: AmountText
    reason: str = Field(min_length=1, max_length=200)


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    payment_id: int
    order_id: int
    case_id: int | None
    amount: Amount
    status: RefundStatus
    idempotency_key: str
    provider_reference: str | None
    reason: str
    failure: str | None
    requested_at: datetime
    settled_at: datetime | None


class PaymentRefunds(BaseModel):
    """A payment's refund ledger and its totals: refundable = captured - refunded - pending."""

    payment_id: int
    captured: Amount
    refunded: Amount
    pending: Amount
    refundable: Amount
    items: list[RefundOut]


class RefundCallbackIn(Input):
    event_id: str = Field(min_length=1, max_length=80)
    refund_id: Id
    reference: str = Field(max_length=80)
    outcome: Literal["succeeded", "failed"]
    amount: AmountText
    occurred_at: AwareWhen


class RefundCallbackAck(BaseModel):
    event_id: str
    result: RefundCallbackResult


class SandboxRefundComplete(Input):
    outcome: Literal["succeeded", "failed"]
    amount: AmountText | None = None
    # How many times the gateway delivers the same signed callback (a retrying gateway).
    deliveries: int = Field(default=1, ge=1, le=5)
