"""Order intake and lifecycle through the HTTP API (ORD-1..4, INV-2)."""

from __future__ import annotations

import httpx

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.store import small_store


async def test_valid_order_with_stock_is_confirmed_and_reserved(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    headers = await bearer(db, "sales")

    reply = await client.post(
        "/api/v1/orders", json=order_body([("SKU-1", 12, "99.00"), ("SKU-3", 1, "12.00")]), headers=headers
    )

    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert order["status"] == "confirmed"
    assert order["totals"] == {
        "subtotal": "1200.00",
        "shipping": "0.00",
        "discount": "0.00",
        "total": "1200.00",
    }
    stock = (await client.get("/api/v1/inventory/SKU-1", headers=headers)).json()
    # 12 units: 10 from WH-A (priority 1), then 2 from WH-B (INV-3 split).
    assert stock["reserved"] == 12 and stock["available"] == 3
    assert [(w["warehouse"], w["reserved"]) for w in stock["warehouses"]] == [("WH-A", 10), ("WH-B", 2)]


async def test_small_order_pays_shipping_below_free_threshold(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    headers = await bearer(db, "sales")
    reply = await client.post("/api/v1/orders", json=order_body([("SKU-3", 2, "12.00")]), headers=headers)
    assert reply.json()["totals"] == {
        "subtotal": "24.00",
        "shipping": "10.00",
        "discount": "0.00",
        "total": "34.00",
    }


async def test_money_sent_as_a_bare_number_is_refused_not_misread(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    headers = await bearer(db, "sales")
    body = order_body([("SKU-1", 1, "99.00")])
    body["lines"][0]["unit_price"] = 99  # yuan or fen? Ambiguous, so refused.

    reply = await client.post("/api/v1/orders", json=body, headers=headers)

    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["lines[0].unit_price"]
    stock = (await client.get("/api/v1/inventory/SKU-1", headers=headers)).json()
    assert stock["reserved"] == 0
