"""INV-2 and ORD-1 under real concurrency: many clients at once against a real server, real commits.

The server is `shopflow serve` in its own process (two worker processes on PostgreSQL, so two
processes race for the same rows); the data is set up and checked through the `committed`
Database, which empties every table after each test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.audit import AuditEntry
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.inventory.models import Reservation, ReservationState, Stock, Warehouse
from shopflow.orders.models import Order, OrderLine
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.server import Server, start, stop
from tests.conftest import IS_POSTGRES

SKU = "SKU-LAST"
PRICE = "99.00"
LAST_UNITS = {"WH-A": 6, "WH-B": 4}  # the last 10 units, in two warehouses
WORKERS = 2 if IS_POSTGRES else 1  # SQLite serves one process (`shopflow serve` says so)
POLICIES = {
    "hold": None,  # the default: a shortage puts the order on hold (ORD-4)
    "reject": '[orders]\non_shortage = "reject"\n',
    # INV-3: the oversell guarantee under each allocation strategy ("hold" is `priority`).
    "whole_order": '[inventory]\nallocation = "whole_order"\n',
    "nearest": '[inventory]\nallocation = "nearest"\n',
}
REASONS = {"hold": "priority", "whole_order": "whole_order", "nearest": "nearest"}


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server with the policy named by the test's `server` parameter.

    Module-scoped and parametrized, so pytest runs one at a time: a server idling beside the one
    under test would hold pooled connections PostgreSQL may not have to spare.
    """
    running = start(tmp_path_factory.mktemp("server"), POLICIES[request.param], WORKERS)
    yield running
    stop(running.process)


async def _store_with_last_units(db: Database) -> dict[str, str]:
    """One SKU with its last 10 units in two warehouses; the headers of a sales user."""
    await add_product(db, {SKU: 9900})
    await add_warehouse(db, "WH-A", 1)
    await add_warehouse(db, "WH-B", 2, province="广东")
    for warehouse, units in LAST_UNITS.items():
        await receive(db, warehouse, {SKU: units})
    return await bearer(db, "sales")


@dataclass(frozen=True)
class Reply:
    status: int
    replayed: str | None  # the Idempotent-Replayed header
    body: dict[str, Any]


async def _post_all(server: Server, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[Reply]:
    """POST every order at once, each on its own connection; the replies in request order."""
    size = max(100, len(requests))
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as client:
        replies = await asyncio.gather(
            *(client.post("/api/v1/orders", json=body, headers=headers) for body, headers in requests)
        )
    failed = [reply for reply in replies if reply.status_code >= 500]
    assert not failed, f"{len(failed)} server errors: {failed[0].text!r}\n{server.output()[-4000:]}"
    return [Reply(r.status_code, r.headers.get("idempotent-replayed"), r.json()) for r in replies]


async def _stock(db: Database) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) per warehouse."""
    async with db.transaction() as session:
        stmt = select(Warehouse.code, Stock.on_hand, Stock.reserved).join(
            Warehouse, Warehouse.id == Stock.warehouse_id
        )
        return {code: (on_hand, reserved) for code, on_hand, reserved in (await session.execute(stmt)).all()}


async def _stored_orders(db: Database) -> dict[int, tuple[str, str | None]]:
    async with db.transaction() as session:
        stmt = select(Order.id, Order.status, Order.hold_reason)
        return {
            order_id: (status, reason) for order_id, status, reason in (await session.execute(stmt)).all()
        }


async def _active_reservations(db: Database) -> dict[int, int]:
    """Units actively reserved per order."""
    async with db.transaction() as session:
        stmt = (
            select(Reservation.order_id, func.sum(Reservation.quantity))
            .where(Reservation.state == ReservationState.ACTIVE)
            .group_by(Reservation.order_id)
        )
        return {order_id: int(units) for order_id, units in (await session.execute(stmt)).all()}


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.parametrize("server", ["hold", "whole_order", "nearest"], indirect=True)
async def test_fifty_concurrent_orders_for_the_last_ten_units_confirm_exactly_ten(
    committed: Database, server: Server, request: pytest.FixtureRequest
) -> None:
    headers = await _store_with_last_units(committed)

    replies = await _post_all(server, [(order_body([(SKU, 1, PRICE)]), headers)] * 50)

    assert [reply.status for reply in replies] == [201] * 50
    outcomes = Counter((reply.body["status"], reply.body["hold_reason"]) for reply in replies)
    assert outcomes == {("confirmed", None): 10, ("on_hold", "stock_shortage"): 40}  # ORD-4
    confirmed = {reply.body["id"] for reply in replies if reply.body["status"] == "confirmed"}
    stored = await _stored_orders(committed)
    assert len(stored) == 50
    assert {order_id for order_id, (status, _) in stored.items() if status == "confirmed"} == confirmed
    # INV-2: each confirmed order holds its unit, no held order holds any; 10 reserved, 0 left.
    assert await _active_reservations(committed) == dict.fromkeys(confirmed, 1)
    assert await _stock(committed) == {"WH-A": (6, 6), "WH-B": (4, 4)}
    async with httpx.AsyncClient(base_url=server.url) as client:
        availability = (await client.get(f"/api/v1/inventory/{SKU}", headers=headers)).json()
    assert (availability["on_hand"], availability["reserved"], availability["available"]) == (10, 10, 0)
    async with committed.transaction() as session:  # INV-3: each reservation says why
        reasons = set((await session.scalars(select(Reservation.reason))).all())
    assert reasons == {REASONS[request.node.callspec.params["server"]]}


@pytest.mark.parametrize("server", ["reject"], indirect=True)
async def test_with_reject_policy_the_forty_late_orders_are_refused_and_not_stored(
    committed: Database, server: Server
) -> None:
    headers = await _store_with_last_units(committed)

    replies = await _post_all(server, [(order_body([(SKU, 1, PRICE)]), headers)] * 50)

    assert Counter(reply.status for reply in replies) == {201: 10, 409: 40}
    assert {reply.body["code"] for reply in replies if reply.status == 409} == {"out_of_stock"}
    assert {reply.body["status"] for reply in replies if reply.status == 201} == {"confirmed"}
    confirmed = {reply.body["id"] for reply in replies if reply.status == 201}
    # Nothing of the refused orders is stored: no order, line, reservation, history or event.
    assert await _stored_orders(committed) == dict.fromkeys(confirmed, ("confirmed", None))
    assert await _count(committed, OrderLine) == 10
    assert await _active_reservations(committed) == dict.fromkeys(confirmed, 1)
    assert await _count(committed, Reservation) == 10
    assert await _count(committed, AuditEntry, AuditEntry.entity == "order") == 20  # pending, confirmed
    assert await _count(committed, OutboxEvent, OutboxEvent.event.like("order.%")) == 10
    assert await _stock(committed) == {"WH-A": (6, 6), "WH-B": (4, 4)}


@pytest.mark.parametrize("server", ["hold"], indirect=True)
@pytest.mark.parametrize("twin_key", ["idempotency_key", "channel_order_no"])
async def test_a_hundred_concurrent_repeats_of_one_order_create_it_once(
    committed: Database, server: Server, twin_key: str
) -> None:
    headers = await _store_with_last_units(committed)
    if twin_key == "idempotency_key":  # the same submission, repeated by a retrying client
        requests = [(order_body([(SKU, 3, PRICE)]), {**headers, "Idempotency-Key": "checkout-7f3a"})] * 100
    else:  # a marketplace pushing its order again, each time with a fresh delivery key
        body = order_body([(SKU, 3, PRICE)], channel="import", channel_order_no="TM-20261123-0001")
        requests = [(body, {**headers, "Idempotency-Key": f"push-{n}"}) for n in range(100)]

    replies = await _post_all(server, requests)

    # ORD-1: one order, created once; every other reply is that same order, marked as a replay.
    assert Counter(reply.status for reply in replies) == {201: 1, 200: 99}
    assert {reply.replayed for reply in replies if reply.status == 201} == {None}
    assert {reply.replayed for reply in replies if reply.status == 200} == {"true"}
    assert len({(reply.body["id"], reply.body["order_no"]) for reply in replies}) == 1
    assert {reply.body["status"] for reply in replies} == {"confirmed"}
    order_id = replies[0].body["id"]
    assert await _stored_orders(committed) == {order_id: ("confirmed", None)}
    assert await _count(committed, OrderLine) == 1
    # INV-2: the stock is reserved once, for that order.
    assert await _active_reservations(committed) == {order_id: 3}
    assert await _stock(committed) == {"WH-A": (6, 3), "WH-B": (4, 0)}
    assert await _count(committed, AuditEntry, AuditEntry.entity == "order") == 2
