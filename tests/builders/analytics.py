"""The analytics tests' hand-built store (ANA-1, ANA-4): a few orders of March and April 2030 with a
refund, a cancellation, a guest and a complaint, every expected figure worked out by hand in the
tests that read it (tests/analytics/test_metrics.py, test_reports.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.service.models import Ticket
from tests.builders.auth import bearer
from tests.builders.orders import address
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.refunds import SKU, ask_refund, refund_store, settle
from tests.builders.tickets import open_ticket

# The store's zone is Asia/Shanghai (UTC+8). SKU-R100 sells at 100.00 and costs 50.00.
A, B, G, D = "13900000001", "13900000002", "13900000007", "13900000004"


def local(day: str, hour: int, minute: int = 0) -> datetime:
    """A store-local time (UTC+8) as UTC."""
    y, m, d = (int(p) for p in day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def order_at(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str, at: datetime, *, paid: bool = True
) -> dict[str, Any]:
    """An order of one SKU-R100 by the customer of `phone`, placed and (when `paid`) paid at `at`."""
    customer = {"name": f"客户{phone[-2:]}", "phone": phone}
    with clock.use(lambda: at):
        order = await place_order(
            client,
            headers,
            [(SKU, 1, "100.00")],
            customer=customer,
            shipping_address=address(name=customer["name"], phone=phone),
        )
        if paid:
            await pay(client, await start_payment(client, headers, order["id"]))
    return order


async def hand_built_store(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    """March 2030: A buys on 03-10 10:00; B buys on 03-12 10:00 and is refunded in full on 03-13;
    D's order of 03-15 is never paid and is cancelled. April: A buys again at 00:30 local on
    04-01 (still 03-31 in UTC: it counts in April), the guest G (a customer by phone) on 04-02
    and files a complaint, resolved in 2 hours. Every line keeps its cost of 50.00. The finance
    user's headers."""
    await refund_store(db)
    admin = await bearer(db, "admin")
    await order_at(client, admin, A, local("2030-03-10", 10))
    b = await order_at(client, admin, B, local("2030-03-12", 10))
    cancelled = await order_at(client, admin, D, local("2030-03-15", 10), paid=False)
    with clock.use(lambda: local("2030-03-15", 11)):
        reply = await client.post(
            f"/api/v1/orders/{cancelled['id']}/cancel", json={"reason": "不要了"}, headers=admin
        )
        assert reply.status_code == 200, reply.text
    with clock.use(lambda: local("2030-03-13", 10)):
        payment = (await client.get(f"/api/v1/orders/{b['id']}/payments", headers=admin)).json()
        refund = await ask_refund(client, admin, payment["items"][0]["id"], "100.00", "refund-b")
        assert refund.status_code in (200, 201), refund.text
        await settle(client, admin, refund.json()["id"], "succeeded")
    await order_at(client, admin, A, local("2030-04-01", 0, 30))
    g = await order_at(client, admin, G, local("2030-04-02", 9))
    with clock.use(lambda: local("2030-04-02", 12)):
        ticket = await open_ticket(
            db, type="complaint", phone=G, order_id=g["id"], subject="破损", body="杯子碎了"
        )
    async with db.transaction() as session:
        await session.execute(
            update(Ticket).where(Ticket.id == ticket.id).values(resolved_at=local("2030-04-02", 14))
        )
    return await bearer(db, "finance")
