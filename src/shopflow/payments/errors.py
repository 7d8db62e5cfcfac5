from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound, Unauthorized


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class BadSignature(Unauthorized):
    code = "bad_signature"


class NoGateway(Conflict):
    code = "no_payment_gateway"


class RefundNotFound(NotFound):
    code = "refund_not_found"


class NotRefundable(Conflict):
    """More than the payment's captured - refunded - pending (PAY-3)."""

    code = "not_refundable"


class RefundKeyReused(Conflict):
    """An idempotency key already names a different refund."""

    code = "idempotency_key_reused"
