"""FUL-1: waves take paid orders by their ship-by deadline, which a hold pushes back; a diamond
member's orders first (LOY-2)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select, update

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.crm.models import Customer, Tier
from shopflow.orders.models import Order
from tests.builders import fulfillment as ful
from tests.builders.auth import bearer
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.store import small_store

START = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


async def test_the_earliest_ship_by_deadline_is_picked_first_and_a_hold_pushes_it_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    service_desk = await bearer(db, "customer_service")
    fake = FakeClock(START)
    with clock.use(fake):
        first, second, third = [await place_order(client, team.sales) for _ in range(3)]
        for order in (first, second, third):  # paid an hour apart, in placing order
            payment = await start_payment(client, team.sales, order["id"])
            await pay(client, payment)
            fake.advance(hours=1)
        # The first waits on hold for 3 hours: its 48-hour clock waits with it.
        await client.post(f"/api/v1/orders/{first['id']}/hold", json={}, headers=service_desk)
        fake.advance(hours=3)
        await client.post(f"/api/v1/orders/{first['id']}/release", json={}, headers=service_desk)

        built = await client.post("/api/v1/waves", json={"max_orders": 2}, headers=team.warehouse)

        [wave] = built.json()
        detail = (await client.get(f"/api/v1/waves/{wave['id']}", headers=team.warehouse)).json()
        assert [t["order_id"] for t in detail["tasks"]] == [second["id"], third["id"]]
        statuses = [
            (await client.get(f"/api/v1/orders/{o['id']}", headers=team.sales)).json()["status"]
            for o in (first, second, third)
        ]
        assert statuses == ["paid", "picking", "picking"]

        rest = await ful.build_waves(client, team.warehouse)
        nothing = await ful.build_waves(client, team.warehouse)

    assert [w["orders"] for w in rest] == [1]
    assert nothing == []


async def _tier_of_the_phone(db: Database, order_id: int, tier: Tier) -> None:
    async with db.transaction() as session:
        customer_id = select(Order.customer_id).where(Order.id == order_id).scalar_subquery()
        await session.execute(update(Customer).where(Customer.id == customer_id).values(tier=tier))


async def test_a_diamond_members_order_is_picked_before_earlier_ones_of_other_customers(
    client: httpx.AsyncClient, db: Database
) -> None:
    """LOY-2: the diamond tier's orders go into waves first, whatever their ship-by deadline; a
    gold member's order waits its turn as everyone's does."""
    await small_store(db)
    team = await ful.crew(db)
    diamond = {"name": "李四", "phone": "13900139000"}
    gold = {"name": "王五", "phone": "13700137000"}
    walk_in = {"name": "张三", "phone": "13800138000"}  # no tier yet
    for customer, tier in ((diamond, Tier.DIAMOND), (gold, Tier.GOLD)):  # their profiles, tiers set
        await _tier_of_the_phone(db, (await place_order(client, team.sales, customer=customer))["id"], tier)
    fake = FakeClock(START)
    with clock.use(fake):
        placed = [
            await place_order(client, team.sales, customer=customer) for customer in (gold, walk_in, diamond)
        ]
        for order in placed:  # paid an hour apart: the diamond member's last
            await pay(client, await start_payment(client, team.sales, order["id"]))
            fake.advance(hours=1)
        built = await client.post("/api/v1/waves", json={"max_orders": 2}, headers=team.warehouse)

    [wave] = built.json()
    detail = (await client.get(f"/api/v1/waves/{wave['id']}", headers=team.warehouse)).json()
    gold_order, _, diamond_order = placed
    assert [t["order_id"] for t in detail["tasks"]] == [diamond_order["id"], gold_order["id"]]
