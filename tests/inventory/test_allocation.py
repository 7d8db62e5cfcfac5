"""INV-3 through intake: the policy's strategy picks the warehouse of each reservation, and the
reservation says why (the destination province reaches `nearest` from the order's address)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import policy
from shopflow.core.db import Database
from shopflow.core.policy import Allocation, Inventory, Policy
from shopflow.inventory.models import Reservation, Warehouse
from tests.builders.auth import bearer
from tests.builders.orders import address, order_body
from tests.builders.store import small_store


async def reserved(db: Database, order_id: int) -> list[tuple[str, int, str | None]]:
    """(warehouse, units, reason) of each of the order's reservations."""
    async with db.transaction() as session:
        stmt = (
            select(Warehouse.code, Reservation.quantity, Reservation.reason)
            .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
            .where(Reservation.order_id == order_id)
            .order_by(Warehouse.code)
        )
        return [(code, units, reason) for code, units, reason in (await session.execute(stmt)).all()]


@pytest.mark.parametrize(
    ("strategy", "province", "units", "expected"),
    [
        (Allocation.PRIORITY, "广东省", 1, [("WH-A", 1, "priority")]),
        (Allocation.NEAREST, "广东省", 1, [("WH-B", 1, "nearest")]),
        (Allocation.NEAREST, "浙江省", 1, [("WH-A", 1, "nearest")]),
        (Allocation.NEAREST, "广东省", 12, [("WH-A", 7, "nearest_split"), ("WH-B", 5, "nearest_split")]),
        (
            Allocation.WHOLE_ORDER,
            "广东省",
            12,
            [("WH-A", 10, "whole_order_split"), ("WH-B", 2, "whole_order_split")],
        ),
    ],
)
async def test_the_strategy_chooses_the_warehouse_and_the_reservation_records_why(
    client: httpx.AsyncClient,
    db: Database,
    strategy: Allocation,
    province: str,
    units: int,
    expected: list[tuple[str, int, str]],
) -> None:
    await small_store(db)  # SKU-1: WH-A (上海) 10, WH-B (广东) 5
    policy.install(Policy(inventory=Inventory(allocation=strategy)))
    body = order_body([("SKU-1", units, "99.00")], shipping_address=address(province=province))
    reply = await client.post("/api/v1/orders", json=body, headers=await bearer(db, "sales"))
    assert reply.status_code == 201 and reply.json()["status"] == "confirmed", reply.text
    assert await reserved(db, reply.json()["id"]) == expected
