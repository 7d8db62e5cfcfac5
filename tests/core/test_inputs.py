"""No input makes a 500 (issue 10, item 5): each input a database or Python would refuse is a 4xx
problem+json naming the field, and nothing is written (every table counted before and after)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.core.schemas import MAX_INT32, MAX_INT64
from shopflow.fulfillment.service.tracking import SIGNATURE_HEADER as CARRIER_SIGNATURE
from shopflow.payments import sandbox
from shopflow.payments.api import CALLBACK_PATH
from shopflow.schema import metadata
from tests.builders.auth import bearer
from tests.builders.fulfillment import add_carrier, event
from tests.builders.orders import order_body
from tests.builders.payments import place_order, start_payment
from tests.builders.store import small_store
from tests.conftest import SETTINGS, make_app

PROBLEM = "application/problem+json"
TOO_BIG_ID = MAX_INT64 + 1


@pytest.fixture
async def admin(db: Database) -> dict[str, str]:
    await small_store(db)
    return await bearer(db, "admin")


async def rows(db: Database) -> dict[str, int]:
    """Rows per table, of every table."""
    async with db.transaction() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }


async def refused(
    db: Database,
    send: Callable[[], Awaitable[httpx.Response]],
    status: int,
    field: str,
    code: str | None = None,
) -> dict[str, Any]:
    """Send the request (`send()`), assert a `status` problem naming `field` and no row written."""
    before = await rows(db)
    reply = await send()
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    problem = dict(reply.json())
    assert field in [error["field"] for error in problem["errors"]], problem
    if code is not None:
        assert problem["code"] == code
    assert await rows(db) == before
    return problem


# --- a NUL character (PostgreSQL refuses 0x00 in text) ---------------------------------------


NUL = "Mug\x00"


def _sku(code: str, **overrides: Any) -> dict[str, Any]:
    sku = {
        "code": code,
        "name": "杯子",
        "price": "9.90",
        "cost": "3.00",
        "weight_g": 300,
        "price_band": "profit",
    }
    return {**sku, **overrides}


@pytest.mark.parametrize(
    ("method", "path", "request_args", "field"),
    [
        ("POST", "/api/v1/products", {"json": {"name": NUL, "skus": [_sku("SKU-NUL")]}}, "name"),
        (
            "POST",
            "/api/v1/orders",
            {"json": order_body([("SKU-1", 1, "99.00")], customer={"name": NUL, "phone": "13800138000"})},
            "customer.name",
        ),
        (
            "POST",
            "/api/v1/pick-tasks/1/pack",
            {"json": {"weight_g": 500, "materials": ["box", NUL]}},
            "materials",
        ),
        ("GET", "/api/v1/orders", {"params": {"q": NUL}}, "q"),
        ("GET", "/api/v1/skus/SKU%001", {}, "path"),
        (
            "POST",
            "/api/v1/carriers/SF/freight-bills?reference=B-1",
            {"content": "waybill,amount\nSF\x001,9.00"},
            "body",
        ),
    ],
    ids=["body", "nested body", "list in a body", "query", "path", "CSV body"],
)
async def test_a_nul_character_anywhere_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    db: Database,
    admin: dict[str, str],
    method: str,
    path: str,
    request_args: dict[str, Any],
    field: str,
) -> None:
    problem = await refused(
        db, lambda: client.request(method, path, headers=admin, **request_args), 422, field, "invalid"
    )

    assert "NUL" in next(e["message"] for e in problem["errors"] if e["field"] == field)


# --- integers beyond their column -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/warehouses",
            {"code": "WH-Z", "name": "Z", "province": "上海", "priority": MAX_INT32 + 1},
            "priority",
        ),
        (
            "/api/v1/products",
            {"name": "Mug", "skus": [_sku("SKU-W", weight_g=MAX_INT32 + 1)]},
            "skus[0].weight_g",
        ),
        (
            "/api/v1/products",
            {"name": "Mug", "skus": [_sku("SKU-S", safety_stock=MAX_INT32 + 1)]},
            "skus[0].safety_stock",
        ),
    ],
)
async def test_an_integer_beyond_its_column_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    db: Database,
    admin: dict[str, str],
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    await refused(db, lambda: client.post(path, json=body, headers=admin), 422, field, "invalid")


# --- ids and page numbers of 2^63 and more -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/v1/orders/{TOO_BIG_ID}", "order_id"),
        ("POST", f"/api/v1/orders/{TOO_BIG_ID}/release", "order_id"),
        ("GET", f"/api/v1/payments/{TOO_BIG_ID}", "payment_id"),
        ("GET", f"/api/v1/orders?page={TOO_BIG_ID}", "page"),
        ("GET", f"/api/v1/shipments?order_id={TOO_BIG_ID}", "order_id"),
    ],
)
async def test_an_id_or_page_of_2_to_the_63_is_a_422_naming_it(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], method: str, path: str, field: str
) -> None:
    await refused(db, lambda: client.request(method, path, headers=admin), 422, field, "invalid")


# --- times that leave the calendar once converted to UTC ---------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_a_time_outside_the_calendar_in_utc_is_a_422_naming_it(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], at: str
) -> None:
    await refused(
        db,
        lambda: client.get("/api/v1/orders", params={"created_from": at}, headers=admin),
        422,
        "created_from",
        "invalid",
    )
    await refused(
        db,
        lambda: client.get("/api/v1/alerts", params={"since": at}, headers=admin),
        422,
        "since",
        "invalid",
    )


# --- a receipt reference that overflows the ledger's once prefixed ---------------------------


async def test_a_receipt_reference_too_long_for_the_ledger_is_a_422_naming_it(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    receipt = {"warehouse": "WH-A", "reference": "R" * 120, "lines": [{"sku": "SKU-1", "quantity": 1}]}

    await refused(
        db, lambda: client.post("/api/v1/inventory/receipts", json=receipt, headers=admin), 422, "reference"
    )

    # The longest reference allowed fits the ledger with the largest receipt id.
    receipt["reference"] = "R" * 92
    assert (await client.post("/api/v1/inventory/receipts", json=receipt, headers=admin)).status_code == 201


# --- signatures that are not ASCII, on the two public endpoints ------------------------------


async def test_a_non_ascii_payment_callback_signature_is_a_401_naming_the_header(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    order = await place_order(client, admin)
    payment = await start_payment(client, admin, order["id"])
    body = sandbox.callback_body(payment["payment_id"], "success", 9900, datetime.now(UTC))
    headers = {"content-type": "application/json", sandbox.SIGNATURE_HEADER: "签名".encode()}

    await refused(
        db,
        lambda: client.post(CALLBACK_PATH, content=body, headers=headers),
        401,
        sandbox.SIGNATURE_HEADER,
        "bad_signature",
    )


async def test_a_non_ascii_carrier_push_signature_is_a_401_naming_the_header(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    await add_carrier(client, admin, "SF")
    body = json.dumps({"events": [event("SF1234567890", "in_transit", datetime.now(UTC))]}).encode()
    headers = {"content-type": "application/json", CARRIER_SIGNATURE: "é".encode("latin-1")}

    await refused(
        db,
        lambda: client.post("/api/v1/carriers/SF/events", content=body, headers=headers),
        401,
        CARRIER_SIGNATURE,
        "bad_signature",
    )


async def test_a_signed_callback_for_a_payment_id_out_of_range_is_a_422_naming_it(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    payload = {
        "event_id": "evt-1",
        "payment_id": TOO_BIG_ID,
        "outcome": "success",
        "amount": "99.00",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        sandbox.SIGNATURE_HEADER: sandbox.sign(body, SETTINGS.sandbox_key()),
    }

    await refused(db, lambda: client.post(CALLBACK_PATH, content=body, headers=headers), 422, "payment_id")


# --- lengths: every string has a maximum, and the body a cap --------------------------------


async def test_a_customer_name_longer_than_its_maximum_is_a_422_naming_it(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    body = order_body([("SKU-1", 1, "99.00")], customer={"name": "张" * 81, "phone": "13800138000"})

    await refused(db, lambda: client.post("/api/v1/orders", json=body, headers=admin), 422, "customer.name")


async def test_a_body_over_the_cap_is_a_413_whether_its_length_is_announced_or_not(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    cap = SETTINGS.max_body_bytes
    name = "x" * (cap + 1)
    body = json.dumps(order_body([("SKU-1", 1, "99.00")], note=name)).encode()
    headers = {**admin, "content-type": "application/json"}

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    for content in (body, chunked()):
        before = await rows(db)
        reply = await client.post("/api/v1/orders", content=content, headers=headers)
        assert reply.status_code == 413, reply.text
        assert reply.headers["content-type"].startswith(PROBLEM)
        assert reply.json()["code"] == "body_too_large"
        assert await rows(db) == before


async def test_an_unauthenticated_post_is_a_401_before_its_body_is_read(db: Database) -> None:
    read = []

    async def body() -> AsyncIterator[bytes]:
        read.append(True)
        yield b'{"channel": "web"}'

    transport = httpx.ASGITransport(app=make_app(db))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            reply = await client.post("/api/v1/orders", content=body(), headers=headers)

            assert reply.status_code == 401, reply.text
            assert read == []
        # A public endpoint's body is read: it is checked by its signature.
        callback = await client.post(
            CALLBACK_PATH, content=body(), headers={"content-type": "application/json"}
        )
    assert callback.status_code == 401 and read == [True]
