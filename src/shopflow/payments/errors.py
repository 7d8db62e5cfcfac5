from __future__ import annotations

from shopflow.core.errors import Conflict, NotFound, Unauthorized


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class BadSignature(Unauthorized):
    code = "bad_signature"


class NoGateway(Conflict):
    code = "no_payment_gateway"
