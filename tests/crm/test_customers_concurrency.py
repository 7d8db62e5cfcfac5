"""Concurrent orders of a phone no customer has yet (CRM-1): exactly one customer, every order
linked to it. Real commits on PostgreSQL; every transaction has begun, with its own snapshot,
before any of them looks the phone up."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database, create_engine
from shopflow.crm.models import Customer, CustomerPhone
from shopflow.orders.models import Order
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake
from tests.builders.orders import order_body
from tests.builders.refunds import SKU, refund_store
from tests.conftest import IS_POSTGRES, TEST_URL

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="row locks: SQLite runs one writer at a time")

ORDERS = 20


async def test_twenty_concurrent_orders_of_a_new_phone_make_exactly_one_customer(committed: Database) -> None:
    await refund_store(committed, units=ORDERS)
    engine = create_engine(TEST_URL, pool_size=ORDERS)
    many = Database(engine)
    started = asyncio.Barrier(ORDERS)
    data = OrderIn.model_validate(order_body([(SKU, 1, "100.00")]))

    async def one() -> int:
        async with many.transaction() as session:
            await session.execute(text("SELECT 1"))  # the transaction has begun
            await started.wait()
            return (await intake.place_order(session, SYSTEM, data, None)).order.id

    try:
        order_ids = await asyncio.gather(*(one() for _ in range(ORDERS)))
    finally:
        await engine.dispose()

    async with committed.transaction() as session:
        customers = list((await session.scalars(select(Customer))).all())
        phones = int(await session.scalar(select(func.count()).select_from(CustomerPhone)) or 0)
        linked = set((await session.scalars(select(Order.customer_id).where(Order.id.in_(order_ids)))).all())
    assert len(set(order_ids)) == ORDERS
    assert len(customers) == 1 and phones == 1
    assert linked == {customers[0].id}
    assert customers[0].name == "张三"
