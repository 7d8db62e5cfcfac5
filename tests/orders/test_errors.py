"""Refusals through the API (ARCHITECTURE rule 7; ORD-1..4, INV-2): every one is a clear
problem+json answer, and a refused request leaves no trace in the database or the stock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shopflow.core import policy
from shopflow.core.db import Database
from shopflow.core.policy import Orders, Policy
from shopflow.orders.models import Order, OrderStatus
from tests.builders.auth import bearer
from tests.builders.inventory import receive
from tests.builders.orders import address, order_body
from tests.builders.payments import place_order
from tests.builders.rows import counts, outbox
from tests.builders.store import small_store

PROBLEM = "application/problem+json"
SKUS = ("SKU-1", "SKU-2", "SKU-3")


@pytest.fixture
async def staff(db: Database) -> dict[str, str]:
    """A store in stock and a manager's headers (may place, cancel, hold and release orders)."""
    await small_store(db)
    return await bearer(db, "manager")


async def stock(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) per SKU."""
    result = {}
    for sku in SKUS:
        reply = await client.get(f"/api/v1/inventory/{sku}", headers=headers)
        assert reply.status_code == 200, reply.text
        result[sku] = (reply.json()["on_hand"], reply.json()["reserved"])
    return result


async def detail(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def assert_problem(reply: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = dict(reply.json())
    assert body["status"] == status
    assert {"type", "title", "detail", "code", "errors"} <= body.keys()
    if code is not None:
        assert body["code"] == code
    return body


# --- intake validation (ORD-2) --------------------------------------------------------------


async def test_every_bad_field_is_named_at_once_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    before, stock_before = await counts(db), await stock(client, staff)
    body = order_body(
        [("SKU-1", 0, "99.00"), ("NO-SUCH-SKU", 1, "10.00"), ("SKU-3", 1, "11.00")],
        customer={"name": "李四", "phone": "2380013800"},
        # city empty, street blank, district left out altogether
        shipping_address={
            k: v for k, v in address(postcode="20012", city="", street="  ").items() if k != "district"
        },
    )

    reply = await client.post("/api/v1/orders", json=body, headers=staff)

    problem = assert_problem(reply, 422, "invalid")
    assert {e["field"] for e in problem["errors"]} == {
        "customer.phone",
        "shipping_address.postcode",
        "shipping_address.city",
        "shipping_address.district",
        "shipping_address.street",
        "lines[0].quantity",
        "lines[1].sku",
        "lines[2].unit_price",
    }
    assert all(e["message"] for e in problem["errors"])
    assert await counts(db) == before
    assert await stock(client, staff) == stock_before


@pytest.mark.parametrize(
    "field",
    ["customer.phone", "shipping_address.phone"],
)
@pytest.mark.parametrize(
    "phone", ["1380013800", "138001380000", "23800138000", "1380013800a", "+8613800138000"]
)
async def test_a_phone_that_is_not_a_mainland_mobile_is_refused(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], field: str, phone: str
) -> None:
    body = order_body([("SKU-1", 1, "99.00")])
    part, key = field.split(".")
    body[part] = {**body[part], key: phone}

    reply = await client.post("/api/v1/orders", json=body, headers=staff)

    assert [e["field"] for e in assert_problem(reply, 422)["errors"]] == [field]


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"lines": []}, id="no-lines"),
        pytest.param({"lines": [{"sku": "SKU-1", "quantity": -2, "unit_price": "99.00"}]}, id="negative-qty"),
        pytest.param({"customer": {"name": " ", "phone": "13800138000"}}, id="blank-name"),
        pytest.param({"shipping_address": {}}, id="no-address"),
    ],
)
async def test_intake_errors_store_nothing(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], broken: dict[str, Any]
) -> None:
    before = await counts(db)
    reply = await client.post(
        "/api/v1/orders", json={**order_body([("SKU-1", 1, "99.00")]), **broken}, headers=staff
    )
    assert assert_problem(reply, 422)["errors"]
    assert await counts(db) == before


def _valid() -> dict[str, Any]:
    return order_body([("SKU-1", 1, "99.00")])


def _with_line(**changes: Any) -> dict[str, Any]:
    body = _valid()
    body["lines"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("content", "field"),
    [
        pytest.param(b'{"channel": "web", "lines": [', None, id="truncated-json"),
        pytest.param(b"not json at all", None, id="not-json"),
        pytest.param(b"[]", None, id="array-body"),
        pytest.param(b"", None, id="empty-body"),
        pytest.param({**_valid(), "lines": "SKU-1"}, "lines", id="lines-a-string"),
        pytest.param({**_valid(), "customer": 42}, "customer", id="customer-a-number"),
        pytest.param({k: v for k, v in _valid().items() if k != "customer"}, "customer", id="no-customer"),
        pytest.param({**_valid(), "channel": ""}, "channel", id="empty-channel"),
        pytest.param(_with_line(quantity="many"), "lines[0].quantity", id="quantity-a-word"),
        pytest.param(_with_line(quantity=1.5), "lines[0].quantity", id="quantity-fractional"),
        pytest.param(_with_line(quantity=10**20), "lines[0].quantity", id="quantity-beyond-int64"),
        pytest.param(_with_line(quantity=2**31), "lines[0].quantity", id="quantity-beyond-int32"),
        pytest.param(_with_line(unit_price=99.0), "lines[0].unit_price", id="price-a-float"),
        pytest.param(_with_line(unit_price="99.999"), "lines[0].unit_price", id="price-three-decimals"),
        pytest.param(_with_line(unit_price="-99.00"), "lines[0].unit_price", id="price-negative"),
        pytest.param(_with_line(unit_price="abc"), "lines[0].unit_price", id="price-a-word"),
        pytest.param(_with_line(sku=None), "lines[0].sku", id="sku-null"),
    ],
)
async def test_malformed_or_mistyped_input_is_a_422_never_a_500(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    content: bytes | dict[str, Any],
    field: str | None,
) -> None:
    before = await counts(db)
    if isinstance(content, bytes):
        headers = {**staff, "content-type": "application/json"}
        reply = await client.post("/api/v1/orders", content=content, headers=headers)
    else:
        reply = await client.post("/api/v1/orders", json=content, headers=staff)

    problem = assert_problem(reply, 422)
    assert problem["errors"]
    if field is not None:
        assert field in {e["field"] for e in problem["errors"]}
    assert await counts(db) == before


# --- illegal transitions (ORD-3) ------------------------------------------------------------


async def _cancel(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "test"}, headers=headers)


async def _pay(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order_id}/payments", json={"method": "alipay"}, headers=headers
    )


async def _release(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(f"/api/v1/orders/{order_id}/release", headers=headers)


async def _hold(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{order_id}/hold", json={"reason": "risk_review"}, headers=headers
    )


async def _set_status(db: Database, order_id: int, status: OrderStatus) -> None:
    """Stand in for steps not built yet (fulfillment): write the status as that step would."""
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order.status = status


@pytest.mark.parametrize(
    ("setup", "attempt"),
    [
        pytest.param("cancelled", _cancel, id="cancel-cancelled"),
        pytest.param("cancelled", _pay, id="pay-cancelled"),
        pytest.param("confirmed", _release, id="release-not-held"),
        pytest.param("cancelled", _hold, id="hold-cancelled"),
        pytest.param("cancelled", _release, id="release-cancelled"),
        pytest.param("picking", _cancel, id="cancel-picking"),
        pytest.param("picking", _hold, id="hold-picking"),
        pytest.param("on_hold", _hold, id="hold-held"),
    ],
)
async def test_an_illegal_transition_is_a_409_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], setup: str, attempt: Any
) -> None:
    order = await place_order(client, staff, [("SKU-1", 3, "99.00")])
    match setup:
        case "cancelled":
            assert (await _cancel(client, staff, order["id"])).status_code == 200
        case "on_hold":
            assert (await _hold(client, staff, order["id"])).status_code == 200
        case "picking":
            await _set_status(db, order["id"], OrderStatus.PICKING)
    before = (await detail(client, staff, order["id"]), await counts(db), await stock(client, staff))
    assert before[0]["status"] == setup

    reply = await attempt(client, staff, order["id"])

    problem = assert_problem(reply, 409, "invalid_transition")
    assert setup in problem["detail"]
    after = (await detail(client, staff, order["id"]), await counts(db), await stock(client, staff))
    assert after == before


async def test_a_picking_order_keeps_its_stock_when_cancel_is_refused(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    order = await place_order(client, staff, [("SKU-2", 4, "45.50")])
    await _set_status(db, order["id"], OrderStatus.PICKING)

    assert_problem(await _cancel(client, staff, order["id"]), 409, "invalid_transition")

    held = (await detail(client, staff, order["id"]))["reservations"]
    assert [(r["quantity"], r["state"]) for r in held] == [(4, "active")]
    assert (await stock(client, staff))["SKU-2"] == (20, 4)


# --- stock shortage (ORD-4, INV-5) ----------------------------------------------------------


async def test_short_stock_puts_the_order_on_hold_and_asks_for_replenishment(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    stock_before = await stock(client, staff)
    on_hand = stock_before["SKU-1"][0]

    reply = await client.post(
        "/api/v1/orders",
        json=order_body([("SKU-1", on_hand + 1, "99.00"), ("SKU-2", 1, "45.50")]),
        headers=staff,
    )

    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert (order["status"], order["hold_reason"]) == ("on_hold", "stock_shortage")
    assert order["confirmed_at"] is None
    assert (await detail(client, staff, order["id"]))["reservations"] == []
    assert await stock(client, staff) == stock_before  # not even the SKU that was in stock
    events = {e.event: e.payload for e in await outbox(db, f"order:{order['id']}")}
    assert set(events) == {"order.on_hold", "inventory.replenishment_requested"}
    assert events["inventory.replenishment_requested"]["order_id"] == order["id"]
    assert sorted(events["inventory.replenishment_requested"]["skus"].values()) == [1, on_hand + 1]

    cancelled = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "客户不等了"}, headers=staff
    )
    assert cancelled.status_code == 200, cancelled.text
    shown = cancelled.json()
    assert (shown["status"], shown["hold_reason"]) == ("cancelled", None)  # no longer held
    assert [h["reason"] for h in shown["history"] if h["to_status"] == "on_hold"] == ["stock_shortage"]


async def test_short_stock_is_refused_when_the_policy_says_reject(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    policy.install(Policy(orders=Orders(on_shortage="reject")))
    before, stock_before = await counts(db), await stock(client, staff)

    reply = await client.post("/api/v1/orders", json=order_body([("SKU-1", 16, "99.00")]), headers=staff)

    assert_problem(reply, 409, "out_of_stock")
    assert await counts(db) == before
    assert await stock(client, staff) == stock_before
    # The same policy still accepts an order the stock covers.
    assert (await place_order(client, staff, [("SKU-1", 15, "99.00")]))["status"] == "confirmed"


async def test_releasing_a_shortage_hold_after_stock_arrives_confirms_and_reserves(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    reply = await client.post("/api/v1/orders", json=order_body([("SKU-1", 20, "99.00")]), headers=staff)
    order = reply.json()
    assert order["status"] == "on_hold"
    await receive(db, "WH-A", {"SKU-1": 5})

    released = await _release(client, staff, order["id"])

    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["status"], body["hold_reason"]) == ("confirmed", None)
    assert body["confirmed_at"] is not None
    assert sum(r["quantity"] for r in body["reservations"] if r["state"] == "active") == 20
    assert (await stock(client, staff))["SKU-1"] == (20, 20)
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        (None, "pending"),
        ("pending", "on_hold"),
        ("on_hold", "pending"),
        ("pending", "confirmed"),
    ]


async def test_releasing_a_shortage_hold_while_still_short_is_refused_and_the_hold_stays(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    reply = await client.post("/api/v1/orders", json=order_body([("SKU-1", 20, "99.00")]), headers=staff)
    order = reply.json()
    await receive(db, "WH-B", {"SKU-1": 4})  # 19 on hand: still one short
    before = (await detail(client, staff, order["id"]), await counts(db), await stock(client, staff))

    assert_problem(await _release(client, staff, order["id"]), 409, "out_of_stock")

    after = (await detail(client, staff, order["id"]), await counts(db), await stock(client, staff))
    assert after == before
    assert (after[0]["status"], after[0]["hold_reason"]) == ("on_hold", "stock_shortage")


# --- repeated submissions (ORD-1) -----------------------------------------------------------


async def test_the_same_idempotency_key_returns_the_first_order_and_reserves_once(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    headers = {**staff, "Idempotency-Key": "checkout-7f3a"}
    body = order_body([("SKU-2", 3, "45.50")])

    first = await client.post("/api/v1/orders", json=body, headers=headers)
    after_first = await counts(db)
    second = await client.post("/api/v1/orders", json=body, headers=headers)

    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert second.status_code == 200, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["order_no"] == first.json()["order_no"]
    assert await counts(db) == after_first
    assert (await stock(client, staff))["SKU-2"] == (20, 3)


async def test_the_same_channel_order_number_returns_the_first_order(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    body = order_body([("SKU-3", 2, "12.00")], channel="import", channel_order_no="TM-2024-0001")

    first = await client.post("/api/v1/orders", json=body, headers=staff)
    after_first = await counts(db)
    again = await client.post("/api/v1/orders", json=body, headers={**staff, "Idempotency-Key": "other-key"})

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await counts(db) == after_first
    assert (await stock(client, staff))["SKU-3"] == (30, 2)
    # The same number on another channel is another order.
    other = await client.post("/api/v1/orders", json={**body, "channel": "manual"}, headers=staff)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


# --- cancel, lists, lookups -----------------------------------------------------------------


async def test_cancel_gives_the_reserved_stock_back(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    stock_before = await stock(client, staff)
    order = await place_order(client, staff, [("SKU-1", 12, "99.00"), ("SKU-3", 5, "12.00")])
    assert (await stock(client, staff))["SKU-1"] == (15, 12)

    reply = await _cancel(client, staff, order["id"])

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "test")
    assert {r["state"] for r in body["reservations"]} == {"released"}
    assert await stock(client, staff) == stock_before
    assert "order.cancelled" in [e.event for e in await outbox(db, f"order:{order['id']}")]


async def test_orders_are_listed_by_page_and_filtered_by_status_and_channel(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    placed = []
    for channel in ("web", "import", "import", "manual", "import"):
        placed.append(await place_order(client, staff, [("SKU-3", 1, "12.00")], channel=channel))
    assert (await _cancel(client, staff, placed[2]["id"])).status_code == 200
    imported_confirmed = [o["id"] for o in placed if o["channel"] == "import" and o["id"] != placed[2]["id"]]

    everything = (await client.get("/api/v1/orders", headers=staff)).json()
    filtered = (
        await client.get("/api/v1/orders", params={"status": "confirmed", "channel": "import"}, headers=staff)
    ).json()
    page_two = (await client.get("/api/v1/orders", params={"page": 2, "page_size": 2}, headers=staff)).json()
    beyond = (await client.get("/api/v1/orders", params={"page": 9, "page_size": 2}, headers=staff)).json()

    assert everything["total"] == 5 and len(everything["items"]) == 5
    newest_first = [o["id"] for o in everything["items"]]
    assert sorted(newest_first) == sorted(o["id"] for o in placed)
    assert sorted(o["id"] for o in filtered["items"]) == sorted(imported_confirmed)
    assert filtered["total"] == len(imported_confirmed)
    assert {(o["status"], o["channel"]) for o in filtered["items"]} == {("confirmed", "import")}
    assert (page_two["page"], page_two["page_size"], page_two["total"]) == (2, 2, 5)
    assert [o["id"] for o in page_two["items"]] == newest_first[2:4]
    assert (beyond["items"], beyond["total"]) == ([], 5)


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"page": 0}, {"page_size": 0}, {"page_size": 10_000}, {"page": "first"}],
)
async def test_bad_list_parameters_are_a_422(
    client: httpx.AsyncClient, staff: dict[str, str], params: dict[str, Any]
) -> None:
    reply = await client.get("/api/v1/orders", params=params, headers=staff)
    assert [e["field"] for e in assert_problem(reply, 422)["errors"]] == list(params)


async def test_an_unknown_order_is_a_404_problem(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    assert_problem(await client.get("/api/v1/orders/987654321", headers=staff), 404, "order_not_found")
    assert_problem(await _cancel(client, staff, 987654321), 404, "order_not_found")
    assert_problem(await _pay(client, staff, 987654321), 404, "order_not_found")


# --- intake sanity (ORD-2): the policy's channels and ceilings, a real email ------------------


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        pytest.param({"channel": "taobao"}, ["channel"], id="channel-the-store-has-not-added"),
        pytest.param({"channel": "Web"}, ["channel"], id="channel-in-another-case"),
        pytest.param(
            {"customer": {"name": "张三", "phone": "13800138000", "email": "zhang@example"}},
            ["customer.email"],
            id="email-without-a-domain-dot",
        ),
        pytest.param(
            {"customer": {"name": "张三", "phone": "13800138000", "email": "张三 <zhang@example.cn>"}},
            ["customer.email"],
            id="email-with-a-display-name",
        ),
        pytest.param(
            {"lines": [{"sku": "SKU-3", "quantity": 1000, "unit_price": "12.00"}]},
            ["lines[0].quantity"],
            id="quantity-over-the-ceiling",
        ),
        pytest.param(
            {"lines": [{"sku": "SKU-1", "quantity": 1_000_000, "unit_price": "99.00"}]},
            ["lines[0].quantity", "lines"],
            id="a-million-mugs",
        ),
    ],
)
async def test_intake_sanity_refusals_name_the_field_and_store_nothing(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], change: dict[str, Any], fields: list[str]
) -> None:
    before, stock_before = await counts(db), await stock(client, staff)

    reply = await client.post("/api/v1/orders", json={**_valid(), **change}, headers=staff)

    assert [e["field"] for e in assert_problem(reply, 422, "invalid")["errors"]] == fields
    assert await counts(db) == before  # no order, audit row, outbox row (no SMS), reservation
    assert await stock(client, staff) == stock_before


async def test_the_order_value_ceiling_is_the_policys(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    policy.install(Policy(orders=Orders(max_order_value="1000.00")))
    before = await counts(db)

    over = await client.post("/api/v1/orders", json=order_body([("SKU-1", 11, "99.00")]), headers=staff)
    at = await client.post("/api/v1/orders", json=order_body([("SKU-1", 10, "99.00")]), headers=staff)

    [error] = assert_problem(over, 422)["errors"]
    assert error["field"] == "lines" and "1089.00" in error["message"] and "1000.00" in error["message"]
    assert at.status_code == 201, at.text
    assert (await counts(db))["orders"] == before["orders"] + 1


async def test_a_channel_the_store_adds_in_its_policy_is_accepted(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str]
) -> None:
    refused = await client.post("/api/v1/orders", json={**_valid(), "channel": "douyin"}, headers=staff)
    assert [e["field"] for e in assert_problem(refused, 422)["errors"]] == ["channel"]

    policy.install(policy.validate({"orders": {"channels": ["taobao", "jd", "douyin"]}}))
    body = {**_valid(), "channel": "douyin", "channel_order_no": "DY-7001"}
    reply = await client.post("/api/v1/orders", json=body, headers=staff)

    assert reply.status_code == 201, reply.text
    assert (reply.json()["channel"], reply.json()["status"]) == ("douyin", "confirmed")
    listed = (await client.get("/api/v1/orders", params={"channel": "douyin"}, headers=staff)).json()
    assert [o["id"] for o in listed["items"]] == [reply.json()["id"]]
    web = await client.post("/api/v1/orders", json=_valid(), headers=staff)
    assert web.status_code == 201, web.text  # the built-in channels stay
