"""Warehouses, receipts, availability and the movement ledger through the HTTP API (INV-1..3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.inventory.models import LedgerEntry, Reservation, ReservationState, Stock
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse
from tests.builders.orders import order_body
from tests.builders.store import small_store


def receipt(reference: str, lines: list[tuple[str, Any]], warehouse: str = "WH-A") -> dict[str, Any]:
    return {
        "warehouse": warehouse,
        "reference": reference,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    }


async def bare_store(db: Database) -> None:
    """Two warehouses and three SKUs, no stock yet."""
    await add_product(db, {"SKU-1": 9900, "SKU-2": 4550, "SKU-3": 1200})
    await add_warehouse(db, "WH-A", 1)
    await add_warehouse(db, "WH-B", 2, province="广东")


async def stock(client: httpx.AsyncClient, headers: dict[str, str], sku: str) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/inventory/{sku}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def ledger(
    client: httpx.AsyncClient, headers: dict[str, str], sku: str, **params: int
) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/inventory/{sku}/ledger", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def ledger_rows(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


# --- warehouses ------------------------------------------------------------------------------


async def test_a_warehouse_is_created_and_listed_by_priority(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "operations")
    for code, priority in (("GZ01", 2), ("SH01", 1)):
        body = {"code": code, "name": f"仓 {code}", "province": "上海", "priority": priority}
        reply = await client.post("/api/v1/warehouses", json=body, headers=headers)
        assert reply.status_code == 201, reply.text
        assert reply.json() | {"id": 0} == body | {"id": 0, "active": True}

    listed = (await client.get("/api/v1/warehouses", headers=headers)).json()
    assert [w["code"] for w in listed["items"]] == ["SH01", "GZ01"]


async def test_a_duplicate_warehouse_code_is_409_and_keeps_the_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    first = {"code": "SH01", "name": "华东仓", "province": "上海", "priority": 1}
    assert (await client.post("/api/v1/warehouses", json=first, headers=headers)).status_code == 201

    again = {**first, "name": "另一个仓", "priority": 5}
    reply = await client.post("/api/v1/warehouses", json=again, headers=headers)

    assert reply.status_code == 409, reply.text
    assert reply.json()["code"] == "duplicate_warehouse"
    assert [e["field"] for e in reply.json()["errors"]] == ["code"]
    listed = (await client.get("/api/v1/warehouses", headers=headers)).json()
    assert [(w["code"], w["name"]) for w in listed["items"]] == [("SH01", "华东仓")]


# --- receipts --------------------------------------------------------------------------------


async def test_a_receipt_adds_on_hand_with_one_ledger_row_per_line(
    client: httpx.AsyncClient, db: Database
) -> None:
    await bare_store(db)
    headers = await bearer(db, "warehouse")

    reply = await client.post(
        "/api/v1/inventory/receipts",
        json=receipt("PO-1001", [("SKU-1", 40), ("SKU-2", 15)]),
        headers=headers,
    )

    assert reply.status_code == 201, reply.text
    assert reply.json()["reference"] == "PO-1001" and reply.json()["warehouse"] == "WH-A"
    sku1 = await stock(client, headers, "SKU-1")
    assert (sku1["on_hand"], sku1["reserved"], sku1["available"]) == (40, 0, 40)
    assert (await stock(client, headers, "SKU-2"))["on_hand"] == 15
    page = await ledger(client, headers, "SKU-1")
    assert page["total"] == 1
    [row] = page["items"]
    assert (row["warehouse"], row["kind"], row["quantity"], row["balance_after"]) == (
        "WH-A",
        "receipt",
        40,
        40,
    )
    assert "PO-1001" in row["reference"]
    assert await ledger_rows(db) == 2


async def test_receipts_accumulate_and_the_ledger_pages(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    headers = await bearer(db, "warehouse")
    for n, (warehouse, quantity) in enumerate([("WH-A", 10), ("WH-B", 5), ("WH-A", 7)], start=1):
        body = receipt(f"PO-{n}", [("SKU-3", quantity)], warehouse)
        assert (
            await client.post("/api/v1/inventory/receipts", json=body, headers=headers)
        ).status_code == 201

    first = await ledger(client, headers, "SKU-3", page=1, page_size=2)
    second = await ledger(client, headers, "SKU-3", page=2, page_size=2)
    beyond = await ledger(client, headers, "SKU-3", page=3, page_size=2)

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    assert (second["total"], second["page"], second["page_size"]) == (3, 2, 2)
    rows = first["items"] + second["items"]
    assert [(r["warehouse"], r["quantity"], r["balance_after"]) for r in rows] == [
        ("WH-A", 10, 10),
        ("WH-B", 5, 5),
        ("WH-A", 7, 17),
    ]
    assert beyond["items"] == [] and beyond["total"] == 3
    figures = await stock(client, headers, "SKU-3")
    assert figures["on_hand"] == 22
    assert [(w["warehouse"], w["on_hand"]) for w in figures["warehouses"]] == [("WH-A", 17), ("WH-B", 5)]


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        (("NOPE-1", 5), "lines[1].sku"),
        (("SKU-2", 0), "lines[1].quantity"),
        (("SKU-2", -3), "lines[1].quantity"),
    ],
)
async def test_a_receipt_with_one_bad_line_is_422_and_books_nothing(
    client: httpx.AsyncClient, db: Database, bad_line: tuple[str, int], field: str
) -> None:
    await small_store(db)
    headers = await bearer(db, "warehouse")
    before = {sku: await stock(client, headers, sku) for sku in ("SKU-1", "SKU-2", "SKU-3")}
    rows_before = await ledger_rows(db)

    body = receipt("PO-2001", [("SKU-1", 10), bad_line, ("SKU-3", 4)])
    reply = await client.post("/api/v1/inventory/receipts", json=body, headers=headers)

    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert {sku: await stock(client, headers, sku) for sku in before} == before
    assert await ledger_rows(db) == rows_before
    # Nothing was booked, so the corrected receipt goes through under the same reference.
    fixed = receipt("PO-2001", [("SKU-1", 10), ("SKU-2", 6), ("SKU-3", 4)])
    assert (await client.post("/api/v1/inventory/receipts", json=fixed, headers=headers)).status_code == 201
    assert (await stock(client, headers, "SKU-1"))["on_hand"] == before["SKU-1"]["on_hand"] + 10


async def test_every_bad_line_is_named_at_once(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    body = receipt("PO-3001", [("NOPE-1", 1), ("SKU-1", 0), ("SKU-2", 3)], warehouse="WH-NONE")
    reply = await client.post("/api/v1/inventory/receipts", json=body, headers=await bearer(db, "warehouse"))
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["warehouse", "lines[0].sku", "lines[1].quantity"]
    assert await ledger_rows(db) == 0


@pytest.mark.parametrize("quantity", ["many", 2.5, None, 10**20])
async def test_a_quantity_that_is_not_a_sensible_whole_number_is_422(
    client: httpx.AsyncClient, db: Database, quantity: object
) -> None:
    await bare_store(db)
    body = receipt("PO-4001", [("SKU-1", 1), ("SKU-2", quantity)])
    reply = await client.post("/api/v1/inventory/receipts", json=body, headers=await bearer(db, "warehouse"))
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["lines[1].quantity"]
    assert await ledger_rows(db) == 0


async def test_an_empty_receipt_is_422(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    reply = await client.post(
        "/api/v1/inventory/receipts", json=receipt("PO-5001", []), headers=await bearer(db, "warehouse")
    )
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["lines"]


async def test_the_same_reference_twice_into_one_warehouse_is_409_and_books_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    await bare_store(db)
    headers = await bearer(db, "warehouse")
    body = receipt("PO-6001", [("SKU-1", 25)])
    assert (await client.post("/api/v1/inventory/receipts", json=body, headers=headers)).status_code == 201

    again = await client.post("/api/v1/inventory/receipts", json=body, headers=headers)

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "duplicate_receipt"
    assert [e["field"] for e in again.json()["errors"]] == ["reference"]
    assert (await stock(client, headers, "SKU-1"))["on_hand"] == 25
    assert (await ledger(client, headers, "SKU-1"))["total"] == 1


async def test_the_same_reference_may_be_booked_into_another_warehouse(
    client: httpx.AsyncClient, db: Database
) -> None:
    await bare_store(db)
    headers = await bearer(db, "warehouse")
    for warehouse in ("WH-A", "WH-B"):
        body = receipt("PO-7001", [("SKU-1", 5)], warehouse)
        assert (
            await client.post("/api/v1/inventory/receipts", json=body, headers=headers)
        ).status_code == 201
    assert (await stock(client, headers, "SKU-1"))["on_hand"] == 10


async def test_two_lines_of_one_sku_add_up(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    headers = await bearer(db, "warehouse")
    body = receipt("PO-8001", [("SKU-1", 5), ("SKU-1", 7)])
    assert (await client.post("/api/v1/inventory/receipts", json=body, headers=headers)).status_code == 201
    assert (await stock(client, headers, "SKU-1"))["on_hand"] == 12
    assert sum(r["quantity"] for r in (await ledger(client, headers, "SKU-1"))["items"]) == 12


# --- availability ----------------------------------------------------------------------------


async def test_availability_is_given_per_warehouse_in_priority_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # SKU-1: WH-A 10, WH-B 5
    headers = await bearer(db, "sales")
    placed = await client.post("/api/v1/orders", json=order_body([("SKU-1", 4, "99.00")]), headers=headers)
    assert placed.status_code == 201, placed.text

    figures = await stock(client, headers, "SKU-1")

    assert figures["sku"] == "SKU-1"
    assert (figures["on_hand"], figures["reserved"], figures["available"]) == (15, 4, 11)
    assert figures["warehouses"] == [
        {"warehouse": "WH-A", "on_hand": 10, "reserved": 4, "available": 6},
        {"warehouse": "WH-B", "on_hand": 5, "reserved": 0, "available": 5},
    ]


async def test_a_sku_never_received_has_no_stock(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    figures = await stock(client, await bearer(db, "sales"), "SKU-2")
    assert (figures["on_hand"], figures["reserved"], figures["available"], figures["warehouses"]) == (
        0,
        0,
        0,
        [],
    )


async def test_an_unknown_sku_is_404_for_stock_and_ledger(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "sales")
    for path in ("/api/v1/inventory/NOPE-1", "/api/v1/inventory/NOPE-1/ledger"):
        reply = await client.get(path, headers=headers)
        assert reply.status_code == 404 and reply.json()["code"] == "sku_not_found"


# --- INV-1: on hand always equals the sum of the ledger -----------------------------------


async def test_on_hand_equals_the_ledger_sum_after_receipts_and_orders(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales = await bearer(db, "sales")
    service = await bearer(db, "customer_service")
    warehouse = await bearer(db, "warehouse")
    steps: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("POST", "/api/v1/orders", order_body([("SKU-1", 12, "99.00"), ("SKU-2", 3, "45.50")]), sales),
        (
            "POST",
            "/api/v1/inventory/receipts",
            receipt("PO-A", [("SKU-1", 8), ("SKU-3", 2)], "WH-B"),
            warehouse,
        ),
        ("POST", "/api/v1/orders", order_body([("SKU-3", 31, "12.00")]), sales),
        ("POST", "/api/v1/orders", order_body([("SKU-2", 20, "45.50")]), sales),
        ("POST", "/api/v1/inventory/receipts", receipt("PO-B", [("SKU-2", 9)], "WH-B"), warehouse),
        ("POST", "/api/v1/orders", order_body([("SKU-2", 5, "45.50"), ("SKU-1", 1, "99.00")]), sales),
    ]
    orders = []
    for method, path, body, headers in steps:
        reply = await client.request(method, path, json=body, headers=headers)
        assert reply.status_code == 201, reply.text
        if path == "/api/v1/orders":
            orders.append(reply.json())
    assert [o["status"] for o in orders] == ["confirmed", "confirmed", "on_hold", "confirmed"]
    cancelled = await client.post(
        f"/api/v1/orders/{orders[0]['id']}/cancel", json={"reason": "客户取消"}, headers=service
    )
    assert cancelled.status_code == 200, cancelled.text

    async with db.transaction() as session:
        totals = select(
            LedgerEntry.sku_id, LedgerEntry.warehouse_id, func.sum(LedgerEntry.quantity)
        ).group_by(LedgerEntry.sku_id, LedgerEntry.warehouse_id)
        sums = {(s, w): int(q) for s, w, q in (await session.execute(totals)).all()}
        rows = list(await session.scalars(select(Stock)))
        active = select(Reservation).where(Reservation.state == ReservationState.ACTIVE)
        held: dict[int, int] = defaultdict(int)
        for reservation in await session.scalars(active):
            held[reservation.stock_id] += reservation.quantity

    assert len(rows) == 5  # SKU-1 in WH-A/WH-B, SKU-2 in WH-A/WH-B, SKU-3 in WH-B
    assert {(r.sku_id, r.warehouse_id): r.on_hand for r in rows} == sums
    assert {r.id: r.reserved for r in rows if r.reserved} == dict(held)
    # The API shows the figures the ledger adds up to: receipts only, orders merely reserve.
    figures = {sku: await stock(client, sales, sku) for sku in ("SKU-1", "SKU-2", "SKU-3")}
    assert {sku: f["on_hand"] for sku, f in figures.items()} == {"SKU-1": 23, "SKU-2": 29, "SKU-3": 32}
    # Still held: order 2 (SKU-3 x31) and order 4 (SKU-2 x5, SKU-1 x1); order 1 was cancelled and
    # order 3 waits on hold with nothing reserved.
    assert {sku: f["reserved"] for sku, f in figures.items()} == {"SKU-1": 1, "SKU-2": 5, "SKU-3": 31}
