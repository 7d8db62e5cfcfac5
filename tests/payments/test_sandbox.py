"""No payment without money (PAY-1): the sandbox gateway exists only when SHOPFLOW_SANDBOX=true,
and letting it complete a payment is `payments.sandbox.complete`, admin only by default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shopflow.app import create_app
from shopflow.core.auth import PERMISSIONS
from shopflow.core.db import Database
from shopflow.core.roles import Role
from shopflow.payments.api import CALLBACK_PATH
from tests.builders.auth import bearer
from tests.builders.payments import deliver, place_order, signed_callback, start_payment
from tests.builders.rows import counts
from tests.builders.server import start, stop
from tests.builders.store import small_store
from tests.conftest import SETTINGS

SANDBOX_PATHS = ("/api/v1/sandbox/payments/{payment_id}/complete", CALLBACK_PATH)


@pytest.fixture
async def without_sandbox(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app as a server without SHOPFLOW_SANDBOX serves it."""
    app = create_app(db=db, settings=SETTINGS.model_copy(update={"sandbox": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_without_the_setting_there_is_no_sandbox_route_and_no_payment_starts(
    client: httpx.AsyncClient, without_sandbox: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales, admin = await bearer(db, "sales"), await bearer(db, "admin")
    order = await place_order(client, sales)
    payment = await start_payment(client, sales, order["id"])  # opened while the sandbox was on
    before = await counts(db)

    paths = (await without_sandbox.get("/openapi.json")).json()["paths"]
    assert not set(SANDBOX_PATHS) & set(paths)
    assert "/api/v1/orders/{order_id}/payments" in paths
    complete = await without_sandbox.post(
        f"/api/v1/sandbox/payments/{payment['payment_id']}/complete",
        json={"outcome": "success"},
        headers=admin,
    )
    assert complete.status_code == 404
    callback = await deliver(without_sandbox, *signed_callback(payment["payment_id"], "success", 9900))
    assert callback.status_code == 404
    started = await without_sandbox.post(
        f"/api/v1/orders/{order['id']}/payments", json={"method": "alipay"}, headers=sales
    )
    assert started.status_code == 409, started.text
    assert started.json()["code"] == "no_payment_gateway"
    assert "SHOPFLOW_SANDBOX=true" in started.json()["detail"]

    assert await counts(db) == before
    shown = await without_sandbox.get(f"/api/v1/orders/{order['id']}", headers=sales)
    assert shown.json()["status"] == "confirmed"


def test_only_admin_may_complete_a_sandbox_payment_by_default() -> None:
    assert PERMISSIONS["payments.sandbox.complete"] == frozenset()


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.ADMIN}))
async def test_every_other_role_is_refused_with_403_and_the_order_stays_unpaid(
    client: httpx.AsyncClient, db: Database, role: Role
) -> None:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(client, sales)
    payment = await start_payment(client, sales, order["id"])
    caller = await bearer(db, role)
    before = await counts(db)

    reply = await client.post(
        f"/api/v1/sandbox/payments/{payment['payment_id']}/complete",
        json={"outcome": "success"},
        headers=caller,
    )

    assert reply.status_code == 403, reply.text
    assert reply.json()["code"] == "forbidden"
    assert "payments.sandbox.complete" in reply.json()["detail"]
    assert await counts(db) == before
    shown = await client.get(f"/api/v1/orders/{order['id']}", headers=sales)
    assert (shown.json()["status"], shown.json()["paid_at"]) == ("confirmed", None)


async def test_admin_completes_a_sandbox_payment(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(client, sales)
    payment = await start_payment(client, sales, order["id"])

    reply = await client.post(
        f"/api/v1/sandbox/payments/{payment['payment_id']}/complete",
        json={"outcome": "success"},
        headers=await bearer(db, "admin"),
    )

    assert reply.status_code == 200, reply.text
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=sales)).json()["status"] == "paid"


@pytest.mark.parametrize("sandbox", [False, True], ids=["off", "on"])
def test_a_server_says_at_start_up_whether_the_sandbox_is_on(tmp_path: Path, sandbox: bool) -> None:
    server = start(tmp_path, sandbox=sandbox)
    try:
        paths = httpx.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]
        output = server.output()
    finally:
        stop(server.process)
    if sandbox:
        assert "sandbox payments on (SHOPFLOW_SANDBOX=true): no real money moves" in output
        assert set(SANDBOX_PATHS) <= set(paths)
    else:
        assert "sandbox payments off: set SHOPFLOW_SANDBOX=true" in output
        assert not set(SANDBOX_PATHS) & set(paths)
