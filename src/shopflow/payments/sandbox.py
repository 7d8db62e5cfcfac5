"""The built-in sandbox gateway (PAY-1): signs callbacks the way a real provider does."""

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
