"""Orders and payments driven through the HTTP API, and callbacks signed like the sandbox gateway's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from shopflow.core import clock, money
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.payments import sandbox, service
from shopflow.payments.api import CALLBACK_PATH
from shopflow.payments.models import Payment, PaymentCallback
from shopflow.payments.schemas import CallbackIn
from tests.builders.orders import order_body
from tests.conftest import SETTINGS


async def place_order(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    lines: list[tuple[str, int, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A placed order (201) as the API returns it; one SKU-1 at 99.00 unless told otherwise."""
    reply = await client.post(
        "/api/v1/orders", json=order_body(lines or [("SKU-1", 1, "99.00")], **overrides), headers=headers
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def start_payment(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: int, method: str = "alipay"
) -> dict[str, Any]:
    reply = await client.post(f"/api/v1/orders/{order_id}/payments", json={"method": method}, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def gateway(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    payment_id: int,
    outcome: str,
    amount: str | None = None,
    deliveries: int = 1,
) -> dict[str, Any]:
    """Let the sandbox gateway sign and deliver a callback; its record of each delivery. `headers`
    of a role with `payments.sandbox.complete` (admin)."""
    body: dict[str, Any] = {"outcome": outcome, "deliveries": deliveries}
    if amount is not None:
        body["amount"] = amount
    reply = await client.post(f"/api/v1/sandbox/payments/{payment_id}/complete", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def paid_order(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    lines: list[tuple[str, int, str]],
    *,
    at: datetime,
    method: str = "alipay",
) -> dict[str, Any]:
    """An order placed and paid in full through the sandbox gateway, all at `at`."""
    with clock.use(lambda: at):
        order = await place_order(client, headers, lines)
        payment = await start_payment(client, headers, order["id"], method=method)
        await pay(client, payment)
    return order


async def pay(client: httpx.AsyncClient, payment: dict[str, Any]) -> dict[str, Any]:
    """The customer paid `payment` (as `start_payment` returned it): the gateway's signed success
    callback, delivered; its acknowledgement."""
    reply = await deliver(
        client, *signed_callback(payment["payment_id"], "success", money.parse(payment["amount"]))
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def signed_callback(payment_id: int, outcome: str, amount_fen: int) -> tuple[bytes, dict[str, str]]:
    """A callback body and headers exactly as the sandbox gateway signs them."""
    body = sandbox.callback_body(payment_id, outcome, amount_fen, datetime.now(UTC))
    return body, {
        "content-type": "application/json",
        sandbox.SIGNATURE_HEADER: sandbox.sign(body, SETTINGS.sandbox_key()),
    }


async def deliver(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(CALLBACK_PATH, content=body, headers=headers)


async def callbacks(db: Database, payment_id: int) -> list[PaymentCallback]:
    async with db.transaction() as session:
        stmt = (
            select(PaymentCallback)
            .where(PaymentCallback.payment_id == payment_id)
            .order_by(PaymentCallback.id)
        )
        return list((await session.scalars(stmt)).all())


async def open_payment(db: Database, order_id: int) -> Payment:
    """A pending payment of the order, opened by the payments service (no HTTP)."""
    async with db.transaction() as session:
        return await service.start_payment(session, SYSTEM, order_id, "alipay")


def success_callback(payment: Payment) -> CallbackIn:
    """The gateway's success callback for the whole `payment`, as verified by the callback route."""
    body = sandbox.callback_body(payment.id, "success", payment.amount, clock.now())
    return CallbackIn.model_validate_json(body)
