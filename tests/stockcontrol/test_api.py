"""Cycle counts (INV-6) and transfers (INV-7) through the HTTP API: their flows, the ledger and
the reserved units they respect, their transitions and their 4xx answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shopflow.catalog.models import Sku
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Movement, Stock, Warehouse
from tests.builders.auth import bearer
from tests.builders.inventory import all_stock, ledger_sums, receive
from tests.builders.lifecycle import pay
from tests.builders.orders import address, order_body
from tests.builders.store import small_store

PRICES = {"SKU-1": "99.00", "SKU-2": "45.50", "SKU-3": "12.00"}


async def order(
    client: httpx.AsyncClient, db: Database, sku: str, quantity: int, province: str = "上海"
) -> dict[str, Any]:
    body = order_body([(sku, quantity, PRICES[sku])], shipping_address=address(province=province))
    reply = await client.post("/api/v1/orders", json=body, headers=await bearer(db, "sales"))
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def stock_of(db: Database, sku: str) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) per warehouse code of a SKU; and the ledger agrees with on hand."""
    async with db.transaction() as session:
        sums = await ledger_sums(session)
        rows = await all_stock(session)
        codes = {w.id: w.code for w in (await session.scalars(select(Warehouse))).all()}
        sku_id = await session.scalar(select(Sku.id).where(Sku.code == sku))
    for row in rows:
        assert row.on_hand == sums.get((row.sku_id, row.warehouse_id), 0)  # INV-1
        assert 0 <= row.reserved <= row.on_hand  # INV-2
    return {codes[r.warehouse_id]: (r.on_hand, r.reserved) for r in rows if r.sku_id == sku_id}


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: Any = None, status: int = 200
) -> dict[str, Any]:
    reply = await client.post(f"/api/v1{path}", json=body, headers=headers)
    assert reply.status_code == status, reply.text
    return dict(reply.json())


def fields(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem["errors"]}


# --- counts ----------------------------------------------------------------------------------


async def test_a_count_posts_its_variance_and_accounts_for_sales_during_the_count(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # SKU-1: WH-A 10, WH-B 5
    ops = await bearer(db, "operations")
    count = await post(client, ops, "/counts", {"warehouse": "WH-A", "skus": ["SKU-1"]}, 201)
    assert (count["state"], count["kind"], count["lines"][0]["snapshot"]) == ("open", "partial", 10)
    placed = await order(client, db, "SKU-1", 2)  # reserved while counting: on hand stays 10
    assert placed["status"] == "confirmed"
    keyed = await post(
        client, ops, f"/counts/{count['id']}/lines", {"lines": [{"sku": "SKU-1", "counted": 9}]}
    )
    assert keyed["lines"][0] | {} == {
        "sku": "SKU-1",
        "snapshot": 10,
        "expected": 10,
        "counted": 9,
        "variance": -1,
    }
    await receive(db, "WH-A", {"SKU-1": 5})  # arrives after the line was keyed: stays
    await post(client, ops, f"/counts/{count['id']}/approve")
    posted = await post(client, ops, f"/counts/{count['id']}/post", {"reason": "shelf recount"})
    assert (posted["state"], posted["reason"]) == ("posted", "shelf recount")
    assert (await stock_of(db, "SKU-1"))["WH-A"] == (14, 2)  # 10 + 5 - 1, the order's 2 still held
    ledger = (await client.get("/api/v1/inventory/SKU-1/ledger", headers=ops)).json()["items"]
    assert (ledger[-1]["kind"], ledger[-1]["quantity"]) == ("count", -1)
    assert ledger[-1]["reference"] == f"count:{count['id']}:shelf recount"


async def test_a_line_keyed_after_a_shipment_expects_what_was_left(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    ops = await bearer(db, "operations")
    count = await post(client, ops, "/counts", {"warehouse": "WH-A", "skus": ["SKU-2"]}, 201)
    async with db.transaction() as session:  # 3 units leave between the start and the keying
        warehouse = await inventory.get_warehouse(session, "WH-A")
        sku_id = (await session.scalars(select(Stock.sku_id).where(Stock.on_hand == 20))).one()
        await inventory.shift_stock(session, SYSTEM, warehouse.id, {sku_id: -3}, Movement.ADJUSTMENT, "test")
    keyed = await post(
        client, ops, f"/counts/{count['id']}/lines", {"lines": [{"sku": "SKU-2", "counted": 17}]}
    )
    assert (keyed["lines"][0]["snapshot"], keyed["lines"][0]["expected"], keyed["lines"][0]["variance"]) == (
        20,
        17,
        0,
    )


async def test_a_full_count_takes_every_sku_stocked_in_the_warehouse(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    count = await post(
        client, await bearer(db, "warehouse"), "/counts", {"warehouse": "WH-A", "kind": "full"}, 201
    )
    assert sorted(line["sku"] for line in count["lines"]) == ["SKU-1", "SKU-2"]
    listed = (await client.get("/api/v1/counts?state=open", headers=await bearer(db, "sales"))).json()
    assert [c["id"] for c in listed["items"]] == [count["id"]]


async def test_a_large_variance_needs_a_manager(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    ops, manager = await bearer(db, "operations"), await bearer(db, "manager")
    count = await post(client, ops, "/counts", {"warehouse": "WH-A", "skus": ["SKU-2"]}, 201)
    await post(client, ops, f"/counts/{count['id']}/lines", {"lines": [{"sku": "SKU-2", "counted": 0}]})
    refused = await post(client, ops, f"/counts/{count['id']}/approve", status=403)
    assert refused["code"] == "manager_required"
    approved = await post(client, manager, f"/counts/{count['id']}/approve")
    assert (approved["state"], approved["needs_manager"]) == ("approved", True)
    await post(client, ops, f"/counts/{count['id']}/post", {"reason": "damaged"})
    assert (await stock_of(db, "SKU-2"))["WH-A"] == (0, 0)


async def test_a_post_that_would_leave_reserved_above_on_hand_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    manager = await bearer(db, "manager")
    count = await post(client, manager, "/counts", {"warehouse": "WH-A", "skus": ["SKU-1"]}, 201)
    await order(client, db, "SKU-1", 8)  # WH-A: 10 on hand, 8 reserved
    await post(client, manager, f"/counts/{count['id']}/lines", {"lines": [{"sku": "SKU-1", "counted": 5}]})
    await post(client, manager, f"/counts/{count['id']}/approve")
    refused = await post(client, manager, f"/counts/{count['id']}/post", {"reason": "lost"}, 409)
    assert (refused["code"], fields(refused)) == ("below_reserved", {"lines"})
    assert (await stock_of(db, "SKU-1"))["WH-A"] == (10, 8)
    again = (await client.get("/api/v1/counts", headers=manager)).json()["items"][0]
    assert again["state"] == "approved"


async def test_count_transitions_are_refused_out_of_order(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    manager = await bearer(db, "manager")
    count = await post(client, manager, "/counts", {"warehouse": "WH-A", "skus": ["SKU-1", "SKU-2"]}, 201)
    path = f"/counts/{count['id']}"
    assert (await post(client, manager, f"{path}/post", {"reason": "x"}, 409))["code"] == "invalid_transition"
    await post(client, manager, f"{path}/lines", {"lines": [{"sku": "SKU-1", "counted": 10}]})
    incomplete = await post(client, manager, f"{path}/approve", status=409)
    assert (incomplete["code"], fields(incomplete)) == ("count_incomplete", {"lines"})
    await post(client, manager, f"{path}/lines", {"lines": [{"sku": "SKU-2", "counted": 20}]})
    await post(client, manager, f"{path}/approve")
    assert (await post(client, manager, f"{path}/approve", status=409))["code"] == "invalid_transition"
    closed = await post(client, manager, f"{path}/lines", {"lines": [{"sku": "SKU-1", "counted": 1}]}, 409)
    assert closed["code"] == "count_not_open"
    await post(client, manager, f"{path}/post", {"reason": "no variance"})
    assert (await post(client, manager, f"{path}/post", {"reason": "x"}, 409))["code"] == "invalid_transition"
    assert (await stock_of(db, "SKU-1"))["WH-A"] == (10, 0)
    assert (await post(client, manager, "/counts/999999/approve", status=404))["code"] == "count_not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warehouse": "NOPE", "skus": ["SKU-1"]}, "warehouse"),
        ({"warehouse": "WH-A", "skus": ["SKU-1", "NOPE"]}, "skus[1]"),
        ({"warehouse": "WH-A", "skus": ["SKU-1", "SKU-1"]}, "skus[1]"),
        ({"warehouse": "WH-A", "skus": []}, "skus"),
        ({"warehouse": "WH-A", "kind": "sometimes"}, "kind"),
        ({"warehouse": "WH-A"}, "skus"),  # a partial count when nothing is due
    ],
)
async def test_a_bad_count_is_a_field_named_422_and_starts_nothing(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str
) -> None:
    await small_store(db)
    ops = await bearer(db, "operations")
    if field == "skus" and "skus" not in body:  # every SKU counted a moment ago: nothing is due
        first = await post(client, ops, "/counts", {"warehouse": "WH-A", "kind": "full"}, 201)
        path = f"/counts/{first['id']}"
        counted = [{"sku": line["sku"], "counted": line["snapshot"]} for line in first["lines"]]
        await post(client, ops, f"{path}/lines", {"lines": counted})
        await post(client, ops, f"{path}/approve")
        await post(client, ops, f"{path}/post", {"reason": "full count"})
    before = (await client.get("/api/v1/counts", headers=ops)).json()["total"]
    refused = await post(client, ops, "/counts", body, 422)
    assert field in fields(refused)
    assert (await client.get("/api/v1/counts", headers=ops)).json()["total"] == before


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"sku": "SKU-3", "counted": 1}], "lines[0].sku"),
        ([{"sku": "SKU-1", "counted": -1}], "lines[0].counted"),
        ([{"sku": "SKU-1"}], "lines[0].counted"),
        ([], "lines"),
    ],
)
async def test_bad_count_lines_are_a_field_named_422_and_key_nothing(
    client: httpx.AsyncClient, db: Database, lines: list[dict[str, Any]], field: str
) -> None:
    await small_store(db)
    ops = await bearer(db, "operations")
    count = await post(client, ops, "/counts", {"warehouse": "WH-A", "skus": ["SKU-1"]}, 201)
    both = [{"sku": "SKU-1", "counted": 3}, *lines] if lines and field != "lines[0].counted" else lines
    refused = await post(client, ops, f"/counts/{count['id']}/lines", {"lines": both}, 422)
    expected = field.replace("[0]", "[1]") if both is not lines else field
    assert expected in fields(refused)
    listed = (await client.get("/api/v1/counts", headers=ops)).json()["items"][0]
    assert listed["lines"][0]["counted"] is None
    assert (await post(client, ops, f"/counts/{count['id']}/post", {"reason": ""}, 422))["errors"][0][
        "field"
    ] == "reason"


# --- transfers -------------------------------------------------------------------------------


async def test_a_transfer_ships_into_transit_and_is_never_available_until_received(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # SKU-2: WH-A 20, WH-B 0
    ops = await bearer(db, "operations")
    body = {"from_warehouse": "WH-A", "to_warehouse": "WH-B", "lines": [{"sku": "SKU-2", "quantity": 15}]}
    draft = await post(client, ops, "/transfers", body, 201)
    assert (draft["state"], draft["in_transit"]) == ("draft", 0)
    assert (await stock_of(db, "SKU-2"))["WH-A"] == (20, 0)  # a draft moves nothing
    shipped = await post(client, ops, f"/transfers/{draft['id']}/ship")
    assert (shipped["state"], shipped["in_transit"]) == ("shipped", 15)
    assert await stock_of(db, "SKU-2") == {"WH-A": (5, 0)}  # WH-B has never had any
    availability = (await client.get("/api/v1/inventory/SKU-2", headers=ops)).json()
    assert availability["available"] == 5  # the 15 on the road are available nowhere
    held = await order(client, db, "SKU-2", 6)
    assert (held["status"], held["hold_reason"]) == ("on_hold", "stock_shortage")
    received = await post(client, ops, f"/transfers/{draft['id']}/receive")
    assert (received["state"], received["in_transit"]) == ("received", 0)
    assert await stock_of(db, "SKU-2") == {"WH-A": (5, 0), "WH-B": (15, 0)}
    ledger = (await client.get("/api/v1/inventory/SKU-2/ledger", headers=ops)).json()["items"]
    assert [(e["warehouse"], e["kind"], e["quantity"]) for e in ledger[-2:]] == [
        ("WH-A", "transfer", -15),
        ("WH-B", "transfer", 15),
    ]
    listed = (await client.get("/api/v1/transfers?state=received", headers=ops)).json()
    assert [t["id"] for t in listed["items"]] == [draft["id"]]


async def test_a_transfer_never_ships_reserved_units(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)  # SKU-1: WH-A 10
    ops = await bearer(db, "operations")
    await order(client, db, "SKU-1", 8)  # WH-A: 8 of 10 reserved
    body = {"from_warehouse": "WH-A", "to_warehouse": "WH-B", "lines": [{"sku": "SKU-1", "quantity": 3}]}
    draft = await post(client, ops, "/transfers", body, 201)
    refused = await post(client, ops, f"/transfers/{draft['id']}/ship", status=409)
    assert (refused["code"], fields(refused)) == ("below_reserved", {"lines[0].quantity"})
    assert (await stock_of(db, "SKU-1"))["WH-A"] == (10, 8)
    listed = (await client.get("/api/v1/transfers", headers=ops)).json()["items"][0]
    assert (listed["state"], listed["in_transit"]) == ("draft", 0)


async def test_transfer_transitions_are_refused_out_of_order(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)
    ops = await bearer(db, "warehouse")
    body = {"from_warehouse": "WH-B", "to_warehouse": "WH-A", "lines": [{"sku": "SKU-3", "quantity": 1}]}
    draft = await post(client, ops, "/transfers", body, 201)
    path = f"/transfers/{draft['id']}"
    assert (await post(client, ops, f"{path}/receive", status=409))["code"] == "invalid_transition"
    await post(client, ops, f"{path}/ship")
    assert (await post(client, ops, f"{path}/ship", status=409))["code"] == "invalid_transition"
    await post(client, ops, f"{path}/receive")
    assert (await post(client, ops, f"{path}/receive", status=409))["code"] == "invalid_transition"
    assert (await post(client, ops, "/transfers/999999/ship", status=404))["code"] == "transfer_not_found"
    assert await stock_of(db, "SKU-3") == {"WH-B": (29, 0), "WH-A": (1, 0)}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to_warehouse": "WH-A"}, "to_warehouse"),
        ({"from_warehouse": "NOPE"}, "from_warehouse"),
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": "SKU-1", "quantity": 0}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-1", "quantity": 2}]}, "lines[1].sku"),
        ({"lines": []}, "lines"),
    ],
)
async def test_a_bad_transfer_is_a_field_named_422_and_creates_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, Any], field: str
) -> None:
    await small_store(db)
    ops = await bearer(db, "operations")
    body = {"from_warehouse": "WH-A", "to_warehouse": "WH-B", "lines": [{"sku": "SKU-1", "quantity": 1}]}
    refused = await post(client, ops, "/transfers", body | change, 422)
    assert field in fields(refused)
    assert (await client.get("/api/v1/transfers", headers=ops)).json()["total"] == 0


async def test_suggestions_move_stock_towards_the_region_that_sells_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)  # SKU-2: WH-A (上海) 20, WH-B (广东) 0
    for _ in range(3):
        await pay(db, (await order(client, db, "SKU-2", 2, province="广东省"))["id"])
    ops = await bearer(db, "operations")
    found = (await client.get("/api/v1/transfers/suggestions", headers=ops)).json()["items"]
    # 14 available, all sold in 广东's region (WH-B): all 14 should be there.
    assert found == [
        {
            "sku": "SKU-2",
            "from_warehouse": "WH-A",
            "to_warehouse": "WH-B",
            "quantity": 14,
            "demand_share": 1.0,
        }
    ]
