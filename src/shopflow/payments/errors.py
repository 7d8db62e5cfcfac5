from __future__ import annotations

from shopflow.core.errors import AppError, Conflict, Invalid, NotFound, Unauthorized


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class BadSignature(Unauthorized):
    code = "bad_signature"


class ForeignNotification(Invalid):
    """A genuine notification that is not about this store's app or merchant."""

    code = "foreign_notification"


class GatewayFailed(AppError):
    """The provider refused the request or did not answer."""

    status = 502
    code = "gateway_failed"
    title = "Bad gateway"


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
