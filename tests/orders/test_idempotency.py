"""Idempotency keys belong to their caller (ORD-1; issue 10, item 6): a key is scoped to the
token's user and channel, the same key with another body is refused, and no caller ever gets
another caller's order back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.rows import counts
from tests.builders.store import small_store

KEY = "checkout-7f3a"


@pytest.fixture
async def callers(db: Database) -> tuple[dict[str, str], dict[str, str]]:
    """Two sales users of one store."""
    await small_store(db)
    return await bearer(db, "sales"), await bearer(db, "sales")


def _customer(name: str, phone: str) -> dict[str, Any]:
    return {"name": name, "phone": phone, "email": None}


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], key: str = KEY
) -> httpx.Response:
    return await client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})


async def test_two_users_with_the_same_key_get_two_orders_and_never_the_others(
    client: httpx.AsyncClient, callers: tuple[dict[str, str], dict[str, str]]
) -> None:
    alice, bob = callers
    alices = order_body([("SKU-1", 1, "99.00")], customer=_customer("李雷", "13800138001"))
    bobs = order_body([("SKU-2", 2, "45.50")], customer=_customer("韩梅梅", "13900139002"))

    first = await _post(client, alice, alices)
    second = await _post(client, bob, bobs)
    alice_again = await _post(client, alice, alices)
    bob_again = await _post(client, bob, bobs)

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["customer"]["name"] == "韩梅梅"
    # Each replay is the caller's own order, never the other's.
    assert (alice_again.status_code, alice_again.json()["id"]) == (200, first.json()["id"])
    assert (bob_again.status_code, bob_again.json()["id"]) == (200, second.json()["id"])
    assert "李雷" not in bob_again.text and "13800138001" not in bob_again.text


async def test_the_same_key_on_another_channel_is_another_order(
    client: httpx.AsyncClient, callers: tuple[dict[str, str], dict[str, str]]
) -> None:
    alice, _ = callers

    web = await _post(client, alice, order_body([("SKU-1", 1, "99.00")]))
    imported = await _post(client, alice, order_body([("SKU-1", 1, "99.00")], channel="import"))

    assert (web.status_code, imported.status_code) == (201, 201)
    assert web.json()["id"] != imported.json()["id"]


async def test_the_same_key_with_another_body_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, callers: tuple[dict[str, str], dict[str, str]]
) -> None:
    alice, _ = callers
    first = await _post(client, alice, order_body([("SKU-1", 1, "99.00")]))
    after_first = await counts(db)

    reused = await _post(client, alice, order_body([("SKU-1", 3, "99.00")]))

    assert first.status_code == 201, first.text
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    problem = reused.json()
    assert problem["code"] == "idempotency_key_reused"
    assert [e["field"] for e in problem["errors"]] == ["Idempotency-Key"]
    assert "customer" not in problem
    assert await counts(db) == after_first
    # The same body, however its JSON is spaced, is still a replay.
    spaced = await client.post(
        "/api/v1/orders",
        content=json.dumps(order_body([("SKU-1", 1, "99.00")]), indent=2),
        headers={**alice, "Idempotency-Key": KEY, "content-type": "application/json"},
    )
    assert (spaced.status_code, spaced.json()["id"]) == (200, first.json()["id"])


async def test_another_callers_channel_order_number_is_a_409_without_their_order(
    client: httpx.AsyncClient, db: Database, callers: tuple[dict[str, str], dict[str, str]]
) -> None:
    alice, bob = callers
    body = order_body(
        [("SKU-3", 2, "12.00")],
        channel="import",
        channel_order_no="TM-2024-0001",
        customer=_customer("李雷", "13800138001"),
    )
    first = await client.post("/api/v1/orders", json=body, headers=alice)
    after_first = await counts(db)

    taken = await client.post("/api/v1/orders", json=body, headers=bob)

    assert first.status_code == 201, first.text
    assert taken.status_code == 409, taken.text
    assert taken.json()["code"] == "channel_order_no_taken"
    assert [e["field"] for e in taken.json()["errors"]] == ["channel_order_no"]
    assert "李雷" not in taken.text and str(first.json()["id"]) not in taken.json()["detail"]
    assert await counts(db) == after_first
