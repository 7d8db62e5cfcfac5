"""Captured payments to refund, the sandbox gateway's refund callbacks, and a gateway that fails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from shopflow.core.db import Database
from shopflow.payments import repository, sandbox
from shopflow.payments.api import REFUND_CALLBACK_PATH
from shopflow.payments.gateway import GatewayError, Refunded
from shopflow.payments.models import Refund
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.payments import pay, place_order, start_payment
from tests.conftest import SETTINGS

SKU = "SKU-R100"  # 100.00, free shipping: an order of one is captured as exactly 100.00


async def refund_store(db: Database, units: int = 50) -> None:
    """One SKU at 100.00 with `units` in stock in one warehouse."""
    await add_product(db, {SKU: 10000})
    await add_warehouse(db, "WH-R", 1)
    await receive(db, "WH-R", {SKU: units})


async def captured_payment(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[dict[str, Any], int]:
    """An order of one SKU-R100 paid in full (100.00 captured): the order and its payment id."""
    order = await place_order(client, headers, [(SKU, 1, "100.00")])
    payment = await start_payment(client, headers, order["id"])
    await pay(client, payment)
    return order, int(payment["payment_id"])


async def ask_refund(
    client: httpx.AsyncClient, headers: dict[str, str], payment_id: int, amount: str, key: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/payments/{payment_id}/refunds",
        json={"amount": amount, "reason": "customer asked"},
        headers={**headers, "Idempotency-Key": key},
    )


async def settle(
    client: httpx.AsyncClient, headers: dict[str, str], refund_id: int, outcome: str, deliveries: int = 1
) -> list[dict[str, Any]]:
    """Let the sandbox gateway settle a refund by signed callback; each delivery's reply."""
    reply = await client.post(
        f"/api/v1/sandbox/refunds/{refund_id}/complete",
        json={"outcome": outcome, "deliveries": deliveries},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    return list(reply.json()["deliveries"])


def signed_refund_callback(
    refund_id: int, key: str, outcome: str, amount_fen: int
) -> tuple[bytes, dict[str, str]]:
    body = sandbox.refund_callback_body(
        refund_id, sandbox.refund_reference(key), outcome, amount_fen, datetime.now(UTC)
    )
    return body, {
        "content-type": "application/json",
        sandbox.SIGNATURE_HEADER: sandbox.sign(body, SETTINGS.sandbox_key()),
    }


async def deliver_refund_callback(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(REFUND_CALLBACK_PATH, content=body, headers=headers)


async def ledger_matches(db: Database, payment_id: int) -> tuple[int, int]:
    """The payment's reserved total and the sum of its refunds that hold a reservation."""
    async with db.transaction() as session:
        payment = await repository.get(session, payment_id)
        assert payment is not None
        return payment.refund_reserved, await repository.reserved_by_ledger(session, payment_id)


class FlakyGateway:
    """A provider that knows refunds by key (as real ones do) and can time out after taking one."""

    def __init__(self, timeouts: int = 0) -> None:
        self.timeouts = timeouts
        self.refunds: dict[str, int] = {}  # key -> amount, the refunds the provider holds
        self.calls = 0

    name = "sandbox"

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        self.calls += 1
        self.refunds.setdefault(key, amount)  # the provider took it ...
        if self.timeouts:
            self.timeouts -= 1
            raise GatewayError("timed out after 10 s")  # ... but its answer never came
        return Refunded(sandbox.refund_reference(key), settled=False)


async def refunds_of(db: Database, payment_id: int) -> list[Refund]:
    """A payment's refunds, oldest first."""
    async with db.transaction() as session:
        stmt = select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
        return list((await session.scalars(stmt)).all())
