"""INV-6 under real concurrency (issue 18's proof): a count is posted while orders reserve the same
SKU at once, against a real server (two processes on PostgreSQL), real commits. Whatever the
interleaving, on-hand equals the ledger's sum, reserved never exceeds on-hand, and the posted
variance is counted - expected; a post that would leave reserved above on-hand is refused whole."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.inventory.models import LedgerEntry, Movement, Reservation, ReservationState, Stock
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.server import Server, start, stop
from tests.conftest import IS_POSTGRES

WORKERS = 2 if IS_POSTGRES else 1
SKU, UNITS, ORDERS = "SKU-COUNT", 60, 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("server"), None, WORKERS)
    yield running
    stop(running.process)


async def _figures(db: Database) -> tuple[int, int, int, int, int]:
    """On hand, reserved, the ledger's sum, units actively reserved and the count's ledger rows' sum."""
    async with db.transaction() as session:
        on_hand, reserved = (await session.execute(select(Stock.on_hand, Stock.reserved))).one()
        ledger = await session.scalar(select(func.sum(LedgerEntry.quantity)))
        held = await session.scalar(
            select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                Reservation.state == ReservationState.ACTIVE
            )
        )
        counted = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.quantity), 0)).where(LedgerEntry.kind == Movement.COUNT)
        )
    return on_hand, reserved, int(ledger or 0), int(held or 0), int(counted or 0)


@pytest.mark.parametrize("counted", [55, 30])
async def test_a_count_posted_while_fifty_orders_reserve_keeps_every_invariant(
    committed: Database, server: Server, counted: int
) -> None:
    await add_product(committed, {SKU: 1000})
    await add_warehouse(committed, "WH-A", 1)
    await receive(committed, "WH-A", {SKU: UNITS})
    manager, sales = await bearer(committed, "manager"), await bearer(committed, "sales")
    limits = httpx.Limits(max_connections=ORDERS + 1, max_keepalive_connections=ORDERS + 1)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        made = await client.post("/api/v1/counts", json={"warehouse": "WH-A", "skus": [SKU]}, headers=manager)
        path = f"/api/v1/counts/{made.json()['id']}"
        keyed = await client.post(
            f"{path}/lines", json={"lines": [{"sku": SKU, "counted": counted}]}, headers=manager
        )
        assert keyed.json()["lines"][0]["variance"] == counted - UNITS
        assert (await client.post(f"{path}/approve", headers=manager)).status_code == 200
        body = order_body([(SKU, 1, "10.00")])
        calls = [client.post("/api/v1/orders", json=body, headers=sales) for _ in range(ORDERS)]
        calls.insert(
            ORDERS // 2, client.post(f"{path}/post", json={"reason": "cycle count"}, headers=manager)
        )
        replies = await asyncio.gather(*calls)
    assert not [r for r in replies if r.status_code >= 500], server.output()[-4000:]
    posted = replies[ORDERS // 2]
    orders = [r.json() for i, r in enumerate(replies) if i != ORDERS // 2]
    outcomes = Counter(order["status"] for order in orders)
    on_hand, reserved, ledger, held, variance = await _figures(committed)
    assert on_hand == ledger  # INV-1
    assert reserved == held == outcomes["confirmed"] <= on_hand  # INV-2
    assert outcomes["confirmed"] + outcomes["on_hold"] == ORDERS
    if posted.status_code == 200:
        assert (on_hand, variance) == (counted, counted - UNITS)
        assert outcomes["confirmed"] == min(ORDERS, counted)
    else:  # 30 counted while more than 30 were already reserved: refused, nothing posted
        assert (posted.status_code, posted.json()["code"]) == (409, "below_reserved")
        assert counted < ORDERS and (on_hand, variance) == (UNITS, 0)


async def test_a_transfer_shipped_while_fifty_orders_reserve_never_sells_what_is_in_transit(
    committed: Database, server: Server
) -> None:
    await add_product(committed, {SKU: 1000})
    await add_warehouse(committed, "WH-A", 1)
    await add_warehouse(committed, "WH-B", 2, province="广东")
    await receive(committed, "WH-A", {SKU: UNITS})
    manager, sales = await bearer(committed, "manager"), await bearer(committed, "sales")
    limits = httpx.Limits(max_connections=ORDERS + 1, max_keepalive_connections=ORDERS + 1)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        lines = [{"sku": SKU, "quantity": 30}]
        made = await client.post(
            "/api/v1/transfers",
            json={"from_warehouse": "WH-A", "to_warehouse": "WH-B", "lines": lines},
            headers=manager,
        )
        path = f"/api/v1/transfers/{made.json()['id']}"
        body = order_body([(SKU, 1, "10.00")])
        calls = [client.post("/api/v1/orders", json=body, headers=sales) for _ in range(ORDERS)]
        calls.insert(ORDERS // 2, client.post(f"{path}/ship", headers=manager))
        replies = await asyncio.gather(*calls)
        assert not [r for r in replies if r.status_code >= 500], server.output()[-4000:]
        shipped = replies[ORDERS // 2]
        confirmed = sum(
            1 for i, r in enumerate(replies) if i != ORDERS // 2 and r.json()["status"] == "confirmed"
        )
        async with committed.transaction() as session:
            rows = (await session.execute(select(Stock.warehouse_id, Stock.on_hand, Stock.reserved))).all()
            ledger = await session.scalar(select(func.sum(LedgerEntry.quantity)))
        on_hand, reserved = sum(row.on_hand for row in rows), sum(row.reserved for row in rows)
        assert all(0 <= row.reserved <= row.on_hand for row in rows)  # INV-2
        assert reserved == confirmed
        if shipped.status_code == 200:  # 30 on the road: available nowhere, so 30 orders confirmed
            assert (on_hand, ledger, confirmed) == (UNITS - 30, UNITS - 30, UNITS - 30)
            received = await client.post(f"{path}/receive", headers=manager)
            assert received.json()["in_transit"] == 0
        else:  # more than 30 already reserved: refused, nothing moved
            assert (shipped.status_code, shipped.json()["code"]) == (409, "below_reserved")
            assert (on_hand, ledger, confirmed) == (UNITS, UNITS, ORDERS)
