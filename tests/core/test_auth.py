"""Roles through the API (STF-1, one table: shopflow.core.auth.PERMISSIONS) and the audit log (AUD-1)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from shopflow.core import audit, auth
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.auth import Role, User
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.store import small_store

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


async def place_order(client: httpx.AsyncClient, db: Database) -> int:
    reply = await client.post(
        "/api/v1/orders", json=order_body([("SKU-1", 2, "99.00")]), headers=await bearer(db, "sales")
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


async def cancel(client: httpx.AsyncClient, order_id: int, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order_id}/cancel", json={"reason": "customer changed mind"}, headers=headers
    )


def receipt(quantity: int = 7) -> dict[str, Any]:
    return {
        "warehouse": "WH-A",
        "reference": f"PO-{secrets.token_hex(4)}",
        "lines": [{"sku": "SKU-2", "quantity": quantity}],
    }


async def on_hand(client: httpx.AsyncClient, db: Database, sku: str) -> int:
    reply = await client.get(f"/api/v1/inventory/{sku}", headers=await bearer(db, "admin"))
    return int(reply.json()["on_hand"])


async def order_status(client: httpx.AsyncClient, db: Database, order_id: int) -> str:
    reply = await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "admin"))
    return str(reply.json()["status"])


def assert_problem(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status and body["code"] == code


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "missing_token"),
        ({"Authorization": "Bearer "}, "missing_token"),
        ({"Authorization": "Bearer sf_not-a-real-token"}, "invalid_token"),
    ],
)
async def test_a_request_without_a_valid_token_is_401_problem_json(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    for path in ("/api/v1/policy", "/api/v1/orders", "/api/v1/skus/SKU-1", "/api/v1/warehouses"):
        assert_problem(await client.get(path, headers=headers), 401, code)


async def test_a_write_without_a_token_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    reply = await client.post("/api/v1/inventory/receipts", json=receipt())
    assert_problem(reply, 401, "missing_token")
    assert await on_hand(client, db, "SKU-2") == 20


async def test_a_users_token_works_and_acts_as_that_user(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    headers = await bearer(db, "warehouse", username="wang.wei")
    reply = await client.post("/api/v1/inventory/receipts", json=receipt(), headers=headers)
    assert reply.status_code == 201, reply.text
    async with db.transaction() as session:
        user_id = await session.scalar(select(User.id).where(User.username == "wang.wei"))
        trail = await audit.trail(session, "receipt", reply.json()["id"])
    assert [(entry.actor_id, entry.actor_name, entry.action) for entry in trail] == [
        (user_id, "wang.wei", "inventory.received")
    ]


async def test_a_token_of_a_deactivated_user_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "sales", username="left.the.company")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.username == "left.the.company").values(active=False))
    assert_problem(await client.get("/api/v1/policy", headers=headers), 401, "invalid_token")


def test_an_unknown_role_is_refused() -> None:
    assert "intern" not in set(Role)
    assert not auth.allowed("intern", "orders.read")


# --- roles (STF-1) -----------------------------------------------------------------------------


async def test_warehouse_staff_cannot_cancel_an_order(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    order_id = await place_order(client, db)
    reply = await cancel(client, order_id, await bearer(db, "warehouse"))
    assert_problem(reply, 403, "forbidden")
    assert "orders.cancel" in reply.json()["detail"]
    assert await order_status(client, db, order_id) == "confirmed"


async def test_warehouse_staff_can_receive_stock(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    reply = await client.post(
        "/api/v1/inventory/receipts", json=receipt(7), headers=await bearer(db, "warehouse")
    )
    assert reply.status_code == 201, reply.text
    assert await on_hand(client, db, "SKU-2") == 27


async def test_customer_service_cannot_receive_stock(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    reply = await client.post(
        "/api/v1/inventory/receipts", json=receipt(7), headers=await bearer(db, "customer_service")
    )
    assert_problem(reply, 403, "forbidden")
    assert "inventory.receive" in reply.json()["detail"]
    assert await on_hand(client, db, "SKU-2") == 20


async def test_customer_service_can_cancel_an_order(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    order_id = await place_order(client, db)
    reply = await cancel(client, order_id, await bearer(db, "customer_service"))
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "cancelled"


async def test_admin_can_do_everything(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "admin")
    product = {
        "name": "测试商品",
        "skus": [
            {
                "code": "ADM-1",
                "name": "测试 ADM-1",
                "price": "50.00",
                "cost": "20.00",
                "weight_g": 100,
                "price_band": "profit",
            }
        ],
    }
    warehouse = {"code": "WH-X", "name": "仓库 X", "province": "上海", "priority": 1}
    stock = {"warehouse": "WH-X", "reference": "PO-ADM", "lines": [{"sku": "ADM-1", "quantity": 5}]}
    steps = [
        ("POST", "/api/v1/products", product, 201),
        ("POST", "/api/v1/warehouses", warehouse, 201),
        ("POST", "/api/v1/inventory/receipts", stock, 201),
        ("PATCH", "/api/v1/skus/ADM-1", {"price": "45.00"}, 200),
        ("POST", "/api/v1/orders", order_body([("ADM-1", 1, "45.00")]), 201),
        ("GET", "/api/v1/payments/receipts", None, 200),
        ("GET", "/api/v1/policy", None, 200),
    ]
    replies: dict[str, Any] = {}
    for method, path, body, status in steps:
        reply = await client.request(method, path, json=body, headers=headers)
        assert reply.status_code == status, (path, reply.text)
        replies[path] = reply.json()
    order_id = replies["/api/v1/orders"]["id"]
    assert (await cancel(client, order_id, headers)).status_code == 200
    assert await order_status(client, db, order_id) == "cancelled"


@pytest.mark.parametrize("role", list(Role))
async def test_receiving_stock_follows_the_permission_table(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await small_store(db)
    reply = await client.post("/api/v1/inventory/receipts", json=receipt(3), headers=await bearer(db, role))
    expected = 201 if auth.allowed(role, "inventory.receive") else 403
    assert reply.status_code == expected, reply.text
    assert await on_hand(client, db, "SKU-2") == (23 if expected == 201 else 20)


@pytest.mark.parametrize("role", list(Role))
async def test_cancelling_follows_the_permission_table(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await small_store(db)
    order_id = await place_order(client, db)
    reply = await cancel(client, order_id, await bearer(db, role))
    allowed = auth.allowed(role, "orders.cancel")
    assert reply.status_code == (200 if allowed else 403), reply.text
    assert await order_status(client, db, order_id) == ("cancelled" if allowed else "confirmed")


def test_the_permission_table_names_only_real_roles_and_spec_roles_have_their_rights() -> None:
    for roles in auth.PERMISSIONS.values():
        assert roles <= set(Role)
    assert not auth.allowed(Role.WAREHOUSE, "orders.cancel")
    assert auth.allowed(Role.WAREHOUSE, "inventory.receive")
    assert not auth.allowed(Role.CUSTOMER_SERVICE, "inventory.receive")
    assert auth.allowed(Role.CUSTOMER_SERVICE, "orders.cancel")
    assert all(auth.allowed(Role.ADMIN, permission) for permission in auth.PERMISSIONS)
    # Only an admin manages users.
    assert [role for role in Role if auth.allowed(role, "users.manage")] == [Role.ADMIN]


# --- the audit log is append-only (AUD-1) -------------------------------------------------------


async def _one_audit_row(db: Database) -> int:
    async with db.transaction() as session:
        await audit.record(session, audit.row(SYSTEM, "test.done", "test", "t-1", None, {"n": 1}))
        entry_id = await session.scalar(select(func.max(AuditEntry.id)))
    assert entry_id is not None
    return int(entry_id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor_name = 'someone else' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
    ],
)
async def test_the_database_refuses_to_change_or_delete_audit_rows(db: Database, statement: str) -> None:
    entry_id = await _one_audit_row(db)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            await session.execute(text(statement), {"id": entry_id})
    async with db.transaction() as session:
        entry = await session.get(AuditEntry, entry_id)
        assert entry is not None
        assert (entry.actor_name, entry.action, entry.after) == ("system", "test.done", {"n": 1})


async def test_the_orm_cannot_change_an_audit_row_either(db: Database) -> None:
    entry_id = await _one_audit_row(db)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            entry = await session.get(AuditEntry, entry_id)
            assert entry is not None
            entry.after = {"n": 2}
            await session.flush()
