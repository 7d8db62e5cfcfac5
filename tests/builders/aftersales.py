"""After-sales: delivered orders to open cases on, and cases through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shopflow.core import clock, money
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.loyalty import service as coupons
from shopflow.loyalty.schemas import CouponIn
from shopflow.orders.service import lifecycle
from shopflow.payments import sandbox
from shopflow.payments import service as payments
from shopflow.payments.models import CallbackResult
from shopflow.payments.schemas import CallbackIn
from tests.builders.lifecycle import place, ship
from tests.builders.store import small_store

CASES = "/api/v1/aftersales/cases"
# Two lines worth 99.00 + 2 x 45.50 = 190.00: free shipping (FUL-3).
TWO_LINES = [("SKU-1", 1, "99.00"), ("SKU-2", 2, "45.50")]


async def delivered_order(
    db: Database, lines: list[tuple[str, int, str]] | None = None, coupon: CouponIn | None = None
) -> int:
    """An order of the small store (SKU-1 x1 and SKU-2 x2 unless told) paid through the sandbox
    gateway (its money captured, so it can be refunded), shipped and delivered; naming `coupon`,
    created first, when given."""
    await small_store(db)
    if coupon is not None:
        async with db.transaction() as session:
            await coupons.create_coupon(session, SYSTEM, coupon)
    order_id = await place(db, lines or TWO_LINES, None if coupon is None else [coupon.code])
    async with db.transaction() as session:
        payment = await payments.start_payment(session, SYSTEM, order_id, "alipay")
        callback = CallbackIn(
            event_id=uuid.uuid4().hex,
            payment_id=payment.id,
            outcome="success",
            amount=money.fmt(payment.amount),
            occurred_at=clock.now(),
        )
        assert await payments.apply_callback(session, sandbox.PROVIDER, callback) == CallbackResult.APPLIED
    await ship(db, order_id)
    async with db.transaction() as session:
        await lifecycle.mark_delivered(session, SYSTEM, order_id)
    return order_id


def case_body(order_id: int, **overrides: Any) -> dict[str, Any]:
    """A no-reason return of one SKU-1 unless told otherwise."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "type": "return_refund",
        "reason": "no_reason",
        "lines": [{"sku": "SKU-1", "quantity": 1}],
    }
    return {**body, **overrides}


async def open_case(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    reply = await client.post(CASES, json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def act(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: int,
    action: str,
    body: dict[str, Any] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    """POST a case action and check its status; the answer."""
    reply = await client.post(f"{CASES}/{case_id}/{action}", json=body, headers=headers)
    assert reply.status_code == status, reply.text
    return dict(reply.json())
