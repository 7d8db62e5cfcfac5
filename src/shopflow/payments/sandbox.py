"""The built-in sandbox gateway (PAY-1, PAY-3): takes refunds and signs callbacks the way a real
provider does."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shopflow.core import money
from shopflow.core.errors import FieldError, Invalid, field_error
from shopflow.payments.errors import BadSignature
from shopflow.payments.gateway import Event, EventKind, Order, Refunded, Started
from shopflow.payments.models import payment_number
from shopflow.payments.schemas import CallbackIn

PROVIDER = "sandbox"
SIGNATURE_HEADER = "X-Sandbox-Signature"


def sign(body: bytes, key: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, key: bytes) -> bool:
    """Whether `signature` (any text a header carries, ASCII or not) signs `body`."""
    return signature is not None and hmac.compare_digest(sign(body, key).encode(), signature.encode())


def callback_body(payment_id: int, outcome: str, amount: int, at: datetime) -> bytes:
    payload: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "payment_id": payment_id,
        "outcome": outcome,
        "amount": money.fmt(amount),
        "occurred_at": at.isoformat(),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class Sandbox:
    """The sandbox gateway as a provider: its cashier is Shopflow's own sandbox route; it accepts
    every refund and knows a refund by its idempotency key, so a retry under the same key is the
    same refund at the gateway; its callbacks are signed with the sandbox key."""

    name = PROVIDER
    channels = ("page", "wap", "native", "h5", "jsapi")

    def __init__(self, key: bytes, public_url: str) -> None:
        self.key = key
        self.base = public_url.rstrip("/")

    async def start(self, order: Order) -> Started:
        return Started(pay_url=f"{self.base}/api/v1/sandbox/payments/{order.payment_id}/complete")

    async def query(self, out_trade_no: str) -> Event | None:
        return None  # the sandbox's signed callbacks are its only word

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        return Refunded(refund_reference(key), settled=False)  # its callback settles it

    def parse(self, headers: Mapping[str, str], body: bytes) -> Event:
        if not verify(body, headers.get(SIGNATURE_HEADER), self.key):
            raise BadSignature(
                "callback signature does not verify; nothing was changed",
                errors=[FieldError(SIGNATURE_HEADER, "does not verify")],
            )
        try:
            data = CallbackIn.model_validate_json(body)
        except ValidationError as exc:
            raise Invalid("malformed callback", errors=[field_error(e) for e in exc.errors()]) from None
        return Event(
            kind=EventKind.PAID if data.outcome == "success" else EventKind.CLOSED,
            event_id=data.event_id,
            out_trade_no=payment_number(data.payment_id),
            reference="",
            amount=data.amount,
            at=data.occurred_at,
        )


def refund_reference(key: str) -> str:
    return "sbr_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def refund_callback_body(refund_id: int, reference: str, outcome: str, amount: int, at: datetime) -> bytes:
    payload: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "refund_id": refund_id,
        "reference": reference,
        "outcome": outcome,
        "amount": money.fmt(amount),
        "occurred_at": at.isoformat(),
    }
    return json.dumps(payload, separators=(",", ":")).encode()
