"""Shipping consumes reservations through the ledger (FUL-4, INV-1, INV-2)."""

from __future__ import annotations

import httpx

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import repository, service
from shopflow.inventory.models import ReservationState
from tests.builders.auth import bearer
from tests.builders.inventory import all_stock, ledger_sums
from tests.builders.orders import order_body
from tests.builders.store import small_store


async def test_shipping_one_warehouse_consumes_only_its_reservations(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # SKU-1: 10 in WH-A, 5 in WH-B
    headers = await bearer(db, "sales")
    order = (
        await client.post("/api/v1/orders", json=order_body([("SKU-1", 12, "99.00")]), headers=headers)
    ).json()

    async with db.transaction() as session:
        wh_a = await service.get_warehouse(session, "WH-A")
        wh_b = await service.get_warehouse(session, "WH-B")
        shipped = await service.ship_reserved(session, SYSTEM, order["id"], wh_a.id, "shipment:test")
    assert [r.quantity for r in shipped] == [10]

    stock = (await client.get("/api/v1/inventory/SKU-1", headers=headers)).json()
    assert [(w["warehouse"], w["on_hand"], w["reserved"]) for w in stock["warehouses"]] == [
        ("WH-A", 0, 0),
        ("WH-B", 5, 2),
    ]
    ledger = (await client.get("/api/v1/inventory/SKU-1/ledger", headers=headers)).json()["items"]
    assert (ledger[-1]["kind"], ledger[-1]["quantity"], ledger[-1]["balance_after"]) == ("shipment", -10, 0)
    async with db.transaction() as session:
        states = [(r.warehouse_id, r.state) for r in await repository.reservations_of(session, order["id"])]
        sums = await ledger_sums(session)
        rows = await all_stock(session)
        again = await service.ship_reserved(session, SYSTEM, order["id"], wh_a.id, "shipment:again")
    assert states == [(wh_a.id, ReservationState.CONSUMED), (wh_b.id, ReservationState.ACTIVE)]
    assert all(sums.get((row.sku_id, row.warehouse_id), 0) == row.on_hand for row in rows)
    assert again == []  # shipping twice takes nothing twice
