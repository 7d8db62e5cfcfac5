from __future__ import annotations

from shopflow.core.errors import Conflict, FieldError, Invalid, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"


class OutOfStock(Conflict):
    code = "out_of_stock"


class IdempotencyKeyReused(Invalid):
    """ORD-1: a caller's key names one request; sent again with another body, it is a mistake."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was used for a different order; nothing was stored",
            errors=[FieldError("Idempotency-Key", "already used with a different request body")],
        )


class ChannelOrderTaken(Conflict):
    """Another caller stored the channel's order under this number: it is not shown to this one."""

    code = "channel_order_no_taken"

    def __init__(self) -> None:
        super().__init__(
            "another caller stored an order with this channel order number; nothing was stored",
            errors=[FieldError("channel_order_no", "already stored by another caller")],
        )
