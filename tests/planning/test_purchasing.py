"""INV-5 through the API: suppliers, purchase orders `draft → submitted → confirmed →
partially_received → received | cancelled`, receipts booked through the ledger releasing the
orders held for a stock shortage by payment time until the stock runs out, and ORD-4's request
and notice for a held order. Bad input is a field-named 4xx and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow import worker
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.inventory.models import LedgerEntry
from shopflow.notify.render import Facts, render
from shopflow.payments import sandbox
from shopflow.payments import service as payments
from shopflow.planning.models import PurchaseOrder, Supplier
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse
from tests.builders.lifecycle import order, place
from tests.builders.payments import open_payment, success_callback

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)  # a Friday
ONE = [("SKU-1", 1, "99.00")]


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def bare_store(db: Database) -> None:
    """SKU-1 (99.00) and SKU-2, one warehouse, no stock."""
    await add_product(db, {"SKU-1": 9900, "SKU-2": 100})
    await add_warehouse(db, "WH-A", 1)


def supplier_body(code: str = "SUP-1", **item: Any) -> dict[str, Any]:
    terms = {"sku": "SKU-1", "lead_time_days": 5, "pack_size": 6, "moq": 12, "unit_cost": "40.00", **item}
    return {"code": code, "name": "华东供应商", "items": [terms]}


def po_body(quantity: int = 12, **extra: Any) -> dict[str, Any]:
    return {
        "supplier": "SUP-1",
        "warehouse": "WH-A",
        "lines": [{"sku": "SKU-1", "quantity": quantity}],
        **extra,
    }


async def ready(client: httpx.AsyncClient, headers: dict[str, str], units: int = 12) -> int:
    """A confirmed purchase order of `units` of SKU-1; its id."""
    created = await client.post("/api/v1/purchase-orders", json=po_body(units), headers=headers)
    assert created.status_code == 201, created.text
    po_id = int(created.json()["id"])
    for step in ("submit", "confirm"):
        moved = await client.post(f"/api/v1/purchase-orders/{po_id}/{step}", headers=headers)
        assert moved.status_code == 200, moved.text
    return po_id


async def counted(db: Database, model: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def events(db: Database, name: str) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.event == name).order_by(OutboxEvent.id)
        return [e.payload for e in await session.scalars(stmt)]


async def pay(db: Database, order_id: int) -> None:
    payment = await open_payment(db, order_id)
    async with db.transaction() as session:
        await payments.apply_callback(session, sandbox.PROVIDER, success_callback(payment))


async def test_suppliers_are_created_and_listed_with_their_terms(
    client: httpx.AsyncClient, db: Database
) -> None:
    await bare_store(db)
    headers = await bearer(db, "purchasing")
    created = await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)
    assert created.status_code == 201, created.text
    listed = (await client.get("/api/v1/suppliers", headers=headers)).json()
    assert listed["total"] == 1
    [item] = listed["items"][0]["items"]
    assert item == {"sku": "SKU-1", "lead_time_days": 5, "pack_size": 6, "moq": 12, "unit_cost": "40.00"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (supplier_body(sku="NOPE"), 422, "items[0].sku"),
        (supplier_body(pack_size=0), 422, "items[0].pack_size"),
        (supplier_body(unit_cost=40), 422, "items[0].unit_cost"),
        (supplier_body(code=""), 422, "code"),
    ],
)
async def test_a_bad_supplier_is_refused_by_field_and_nothing_is_saved(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], status: int, field: str
) -> None:
    await bare_store(db)
    reply = await client.post("/api/v1/suppliers", json=body, headers=await bearer(db, "purchasing"))
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in reply.json()["errors"]]
    assert await counted(db, Supplier) == 0


async def test_a_supplier_code_is_taken_once(client: httpx.AsyncClient, db: Database) -> None:
    await bare_store(db)
    headers = await bearer(db, "purchasing")
    assert (await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)).status_code == 201
    again = await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)
    assert again.status_code == 409 and again.json()["errors"] == [
        {"field": "code", "message": "already exists"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**po_body(), "supplier": "NOPE"}, "supplier"),
        ({**po_body(), "warehouse": "NOPE"}, "warehouse"),
        (po_body(0), "lines[0].quantity"),
        ({**po_body(), "lines": [{"sku": "SKU-2", "quantity": 3}]}, "lines[0].sku"),
        (po_body(expected_on="2030-02-01"), "expected_on"),
        ({**po_body(), "lines": []}, "lines"),
    ],
)
async def test_a_bad_purchase_order_is_refused_by_field_and_nothing_is_saved(
    client: httpx.AsyncClient, db: Database, now: FakeClock, body: dict[str, Any], field: str
) -> None:
    await bare_store(db)
    headers = await bearer(db, "purchasing")
    await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)
    reply = await client.post("/api/v1/purchase-orders", json=body, headers=headers)
    assert reply.status_code == 422, reply.text
    assert field in [error["field"] for error in reply.json()["errors"]]
    assert await counted(db, PurchaseOrder) == 0


async def test_a_purchase_order_moves_only_forward_and_a_receipt_must_fit_what_is_still_to_come(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await bare_store(db)
    headers = await bearer(db, "purchasing")
    await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)
    created = (await client.post("/api/v1/purchase-orders", json=po_body(), headers=headers)).json()
    assert (created["status"], created["expected_on"], created["lines"][0]["unit_cost"]) == (
        "draft",
        "2030-03-06",  # today + the supplier's 5 days
        "40.00",
    )
    po = f"/api/v1/purchase-orders/{created['id']}"
    early = await client.post(
        f"{po}/receipts",
        json={"reference": "D1", "lines": [{"sku": "SKU-1", "quantity": 1}]},
        headers=headers,
    )
    assert early.status_code == 409 and early.json()["code"] == "invalid_transition"
    assert (await client.post(f"{po}/confirm", headers=headers)).status_code == 409  # not submitted
    assert (await client.post(f"{po}/submit", headers=headers)).json()["status"] == "submitted"
    confirmed = await client.post(f"{po}/confirm", json={"expected_on": "2030-03-10"}, headers=headers)
    assert (confirmed.json()["status"], confirmed.json()["expected_on"]) == ("confirmed", "2030-03-10")

    warehouse = await bearer(db, "warehouse")
    too_many = {"reference": "D1", "lines": [{"sku": "SKU-1", "quantity": 13}]}
    refused = await client.post(f"{po}/receipts", json=too_many, headers=warehouse)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "lines[0].quantity"
    other = {"reference": "D1", "lines": [{"sku": "SKU-9", "quantity": 1}]}
    assert (await client.post(f"{po}/receipts", json=other, headers=warehouse)).status_code == 422
    assert await counted(db, LedgerEntry) == 0

    part = {"reference": "D1", "lines": [{"sku": "SKU-1", "quantity": 5}]}
    got = await client.post(f"{po}/receipts", json=part, headers=warehouse)
    assert got.status_code == 201, got.text
    assert (got.json()["status"], got.json()["lines"][0]["received"]) == ("partially_received", 5)
    again = await client.post(f"{po}/receipts", json=part, headers=warehouse)  # the same delivery twice
    assert again.status_code == 409
    assert (await client.post(f"{po}/cancel", headers=headers)).status_code == 409
    rest = {"reference": "D2", "lines": [{"sku": "SKU-1", "quantity": 7}]}
    assert (await client.post(f"{po}/receipts", json=rest, headers=warehouse)).json()["status"] == "received"
    stock = (await client.get("/api/v1/inventory/SKU-1", headers=headers)).json()
    assert stock["on_hand"] == 12
    listed = (await client.get("/api/v1/purchase-orders?status=received", headers=headers)).json()
    assert [p["number"] for p in listed["items"]] == [created["number"]]

    cancelled = await client.post("/api/v1/purchase-orders", json=po_body(), headers=headers)
    gone = await client.post(f"/api/v1/purchase-orders/{cancelled.json()['id']}/cancel", headers=headers)
    assert gone.json()["status"] == "cancelled"
    assert (await client.post("/api/v1/purchase-orders/999999/submit", headers=headers)).status_code == 404
    assert (await client.post("/api/v1/purchase-orders/0/submit", headers=headers)).status_code == 422


async def test_a_receipt_releases_held_orders_by_payment_time_until_the_stock_runs_out(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await bare_store(db)
    headers = await bearer(db, "purchasing")
    await client.post("/api/v1/suppliers", json=supplier_body(), headers=headers)
    unpaid, paid_last, paid_first = [await place(db, ONE) for _ in range(3)]
    assert [(await order(db, o)).status for o in (unpaid, paid_last, paid_first)] == ["on_hold"] * 3
    now.advance(minutes=5)
    await pay(db, paid_first)  # placed last, paid first
    now.advance(minutes=5)
    await pay(db, paid_last)

    # ORD-4: the worker puts the shortfall on a purchase order and tells each customer when.
    async with db.transaction() as session:
        assert await worker.SWEEPS["planning.shortages"](session) == 3
    async with db.transaction() as session:
        assert await worker.SWEEPS["planning.shortages"](session) == 0  # once
    notices = await events(db, "order.backordered")
    assert sorted(n["order_id"] for n in notices) == sorted([unpaid, paid_last, paid_first])
    days = {datetime.fromisoformat(n["ship_by"]).astimezone(clock.store_zone()).date() for n in notices}
    assert days == {date(2030, 3, 8)}  # 5 days' lead + 2 of handling
    drafts = (await client.get("/api/v1/purchase-orders?status=draft", headers=headers)).json()["items"]
    assert [(p["source"], p["lines"][0]["quantity"]) for p in drafts] == [("shortage", 12)]  # the minimum

    po_id = await ready(client, headers)
    delivery = {"reference": "D1", "lines": [{"sku": "SKU-1", "quantity": 2}]}
    got = await client.post(f"/api/v1/purchase-orders/{po_id}/receipts", json=delivery, headers=headers)
    assert got.status_code == 201, got.text
    assert got.json()["released_orders"] == 2
    assert [(await order(db, o)).status for o in (unpaid, paid_last, paid_first)] == [
        "on_hold",
        "paid",
        "paid",
    ]
    assert {p["order_id"] for p in await events(db, "order.paid")} >= {paid_first, paid_last}


@pytest.mark.parametrize(("language", "words"), [("en", "expect to ship it by"), ("zh_CN", "预计")])
def test_the_backorder_notice_names_the_ship_date_in_each_language(language: str, words: str) -> None:
    facts = Facts(
        store="小店",
        customer_name="张三",
        order_no="SF-1",
        total=9900,
        timezone="Asia/Shanghai",
        ship_by=datetime(2030, 3, 8, 15, 59, tzinfo=UTC),
    )
    notice = render(language, "order.backordered", facts)
    assert words in notice.text and "2030-03-08 23:59" in notice.sms and "2030-03-08" in notice.html
