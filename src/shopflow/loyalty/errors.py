from __future__ import annotations

from shopflow.core.errors import Conflict, FieldError, Invalid, NotFound

COUPON_FIELD = "coupon"  # ORD-2: an order's coupon errors name this field


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class CouponCodeTaken(Conflict):
    code = "coupon_code_taken"


class CouponInvalid(Invalid):
    """ORD-2: a coupon an order names cannot apply (expired, minimum spend not met, limit reached,
    not for this SKU, unknown); nothing of the order is stored."""

    code = "coupon_invalid"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(
            "; ".join(reasons) + "; nothing was stored",
            errors=[FieldError(COUPON_FIELD, reason) for reason in reasons],
        )
