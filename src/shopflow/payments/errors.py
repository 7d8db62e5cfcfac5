from __future__ import annotations

from shopflow.core.errors import NotFound, Unauthorized


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class BadSignature(Unauthorized):
    code = "bad_signature"
