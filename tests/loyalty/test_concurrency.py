"""LOY-4, LOY-1 and ORD-2 under real concurrency (issue 16's proof): many orders at once against a
real server (two processes on PostgreSQL), real commits. A coupon's limit and a member's points
are reserved by one conditional UPDATE in each order's transaction, so no interleaving takes more
uses than the limit or more points than the balance; a cancelled order's use and points come back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.core.money import parse
from shopflow.loyalty.models import Coupon, CouponAllowance, CouponUse, PointAccount, PointEntry
from shopflow.orders.models import Order
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.server import Server, start, stop
from tests.conftest import IS_POSTGRES

WORKERS = 2 if IS_POSTGRES else 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("server"), None, WORKERS)
    yield running
    stop(running.process)


async def _store(db: Database, units: int) -> tuple[dict[str, str], dict[str, str]]:
    await add_product(db, {"TEA-1": 3000})
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"TEA-1": units})
    return await bearer(db, "operations"), await bearer(db, "sales")


async def _post_all(
    server: Server, bodies: list[dict[str, Any]], headers: dict[str, str]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        replies = await asyncio.gather(
            *(client.post("/api/v1/orders", json=b, headers=headers) for b in bodies)
        )
    failed = [r for r in replies if r.status_code >= 500]
    assert not failed, f"{len(failed)} server errors: {failed[0].text!r}\n{server.output()[-4000:]}"
    return list(replies)


def _buyer(n: int) -> dict[str, str]:
    return {"name": f"买家{n}", "phone": f"139{n:08d}"}


async def _ledger(db: Database) -> tuple[int, int, int]:
    """The coupon's counter, its uses not released and the orders stored."""
    async with db.transaction() as session:
        used = await session.scalar(select(Coupon.used))
        held = await session.scalar(
            select(func.count()).select_from(CouponUse).where(CouponUse.released_at.is_(None))
        )
        orders = await session.scalar(select(func.count()).select_from(Order))
    return int(used or 0), int(held or 0), int(orders or 0)


async def test_two_hundred_concurrent_orders_on_a_coupon_limited_to_fifty_take_exactly_fifty(
    committed: Database, server: Server
) -> None:
    ops, sales = await _store(committed, 200)
    async with httpx.AsyncClient(base_url=server.url) as client:
        made = await client.post(
            "/api/v1/coupons",
            json={"code": "FIFTY", "kind": "fixed", "value": "5.00", "limit_total": 50},
            headers=ops,
        )
        assert made.status_code == 201, made.text
    bodies = [order_body([("TEA-1", 1, "30.00")], customer=_buyer(n), coupons=["FIFTY"]) for n in range(200)]

    replies = await _post_all(server, bodies, sales)

    assert Counter(r.status_code for r in replies) == {201: 50, 422: 150}
    refused = {r.json()["errors"][0]["message"] for r in replies if r.status_code == 422}
    assert refused == {"coupon 'FIFTY': limit reached (50 uses)"}
    totals = [r.json()["totals"] for r in replies if r.status_code == 201]
    assert {(t["subtotal"], t["discount"]) for t in totals} == {("30.00", "5.00")}
    assert all(parse(t["total"]) == 3000 + parse(t["shipping"]) - 500 for t in totals)
    # The counter, the ledger and the orders agree: nothing of a refused order is stored.
    assert await _ledger(committed) == (50, 50, 50)

    # A cancelled order's use comes back, and the next buyer gets it.
    order_id = next(r.json()["id"] for r in replies if r.status_code == 201)
    async with httpx.AsyncClient(base_url=server.url) as client:
        cancelled = await client.post(
            f"/api/v1/orders/{order_id}/cancel", json={"reason": "test"}, headers=ops
        )
        assert cancelled.status_code == 200, cancelled.text
        assert await _ledger(committed) == (49, 49, 50)
        late = await client.post("/api/v1/orders", json=bodies[199], headers=sales)
        assert late.status_code == 201, late.text
    assert await _ledger(committed) == (50, 50, 51)


async def test_concurrent_orders_of_one_buyer_take_the_per_customer_limit_once(
    committed: Database, server: Server
) -> None:
    ops, sales = await _store(committed, 100)
    async with httpx.AsyncClient(base_url=server.url) as client:
        made = await client.post(
            "/api/v1/coupons",
            json={"code": "NEWBUYER", "kind": "fixed", "value": "5.00", "limit_per_customer": 1},
            headers=ops,
        )
        assert made.status_code == 201, made.text
    bodies = [order_body([("TEA-1", 1, "30.00")], customer=_buyer(7), coupons=["NEWBUYER"])] * 40

    replies = await _post_all(server, bodies, sales)

    assert Counter(r.status_code for r in replies) == {201: 1, 422: 39}
    async with committed.transaction() as session:
        assert list((await session.execute(select(CouponAllowance.used))).scalars()) == [1]
    assert await _ledger(committed) == (0, 1, 1)  # no total limit: the counter reserves nothing


async def test_fifty_concurrent_orders_of_one_member_never_burn_more_than_the_balance(
    committed: Database, server: Server
) -> None:
    ops, sales = await _store(committed, 100)
    manager = await bearer(committed, "manager")
    buyer = _buyer(42)
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post(
            "/api/v1/orders", json=order_body([("TEA-1", 1, "30.00")], customer=buyer), headers=sales
        )
        async with committed.transaction() as session:
            customer_id = await session.scalar(
                select(Order.customer_id).where(Order.id == first.json()["id"])
            )
        given = await client.post(
            f"/api/v1/members/{customer_id}/points", json={"points": 1000, "reason": "test"}, headers=manager
        )
        assert given.status_code == 201, given.text
    # 50 orders of 300 points each: 15,000 asked of a balance of 1,000.
    bodies = [order_body([("TEA-1", 1, "30.00")], customer=buyer, points=300)] * 50

    replies = await _post_all(server, bodies, sales)

    assert Counter(r.status_code for r in replies) == {201: 3, 422: 47}
    async with committed.transaction() as session:
        balance = await session.scalar(select(PointAccount.balance))
        burned = await session.scalar(select(func.sum(PointEntry.points)).where(PointEntry.kind == "burn"))
        total = await session.scalar(select(func.sum(PointEntry.points)))
    assert (balance, burned, total) == (100, -900, 100)  # never below zero; the ledger agrees

    # A cancelled order's points come back.
    order_id = next(r.json()["id"] for r in replies if r.status_code == 201)
    async with httpx.AsyncClient(base_url=server.url) as client:
        cancelled = await client.post(
            f"/api/v1/orders/{order_id}/cancel", json={"reason": "test"}, headers=ops
        )
        assert cancelled.status_code == 200, cancelled.text
    async with committed.transaction() as session:
        assert await session.scalar(select(PointAccount.balance)) == 400
        assert await session.scalar(select(func.sum(PointEntry.points))) == 400
