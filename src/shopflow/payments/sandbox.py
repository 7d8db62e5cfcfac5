"""The built-in sandbox gateway (PAY-1, PAY-3): takes refunds and signs callbacks the way a real
provider does."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from shopflow.core import money

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


class SandboxRefunds:
    """The sandbox gateway's refund desk: it accepts every refund and knows a refund by its
    idempotency key, so a retry under the same key is the same refund at the gateway."""

    async def submit(self, key: str, payment_id: int, amount: int) -> str:
        return refund_reference(key)


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
