"""Finding an order from what the customer says (issue 9): a prefix of our order number, the
channel's order number, the customer's phone through its blind index, or the order number alone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from shopflow.core import policy
from shopflow.core.db import Database
from shopflow.orders.schemas import OrderSummary
from tests.builders.auth import bearer
from tests.builders.console import Visitor, Visitors, signed_in, visitors
from tests.builders.orders import address
from tests.builders.payments import place_order
from tests.builders.store import small_store

HER = "13800138000"
HIM = "13900139000"


def _by(phone: str) -> dict[str, Any]:
    return {
        "customer": {"name": "张三", "phone": phone},
        "shipping_address": address(phone=phone),
    }


@pytest.fixture
async def staff(db: Database) -> dict[str, str]:
    await small_store(db)
    return await bearer(db, "customer_service")


@pytest.fixture
async def placed(client: httpx.AsyncClient, db: Database, staff: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Her web order, his imported order with its channel number, her order since cancelled."""
    writer = await bearer(db, "manager")
    orders = {
        "hers": await place_order(client, writer, **_by(HER)),
        "his": await place_order(client, writer, channel="import", channel_order_no="JD-880001", **_by(HIM)),
        "cancelled": await place_order(client, writer, **_by(HER)),
    }
    cancel = f"/api/v1/orders/{orders['cancelled']['id']}/cancel"
    assert (await client.post(cancel, json={"reason": "客户取消"}, headers=writer)).status_code == 200
    return orders


async def _found(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    reply = await client.get("/api/v1/orders", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["total"] >= len(body["items"])
    return [order["id"] for order in body["items"]]


async def test_q_finds_orders_by_a_prefix_of_their_number_in_any_case(
    client: httpx.AsyncClient, staff: dict[str, str], placed: dict[str, dict[str, Any]]
) -> None:
    hers = placed["hers"]
    day = hers["order_no"][:8]  # SF + yymmdd: every order of the day
    assert sorted(await _found(client, staff, q=day)) == sorted(o["id"] for o in placed.values())
    assert await _found(client, staff, q=hers["order_no"][:-3].lower()) == [hers["id"]]
    assert await _found(client, staff, q=hers["order_no"]) == [hers["id"]]
    assert await _found(client, staff, q="SF99") == []
    # Only a prefix: the middle of a number finds nothing; LIKE's wildcards are not wildcards.
    assert await _found(client, staff, q=hers["order_no"][2:]) == []
    assert await _found(client, staff, q="SF%") == []
    assert await _found(client, staff, q="S_") == []


async def test_q_finds_the_whole_channel_order_number_only(
    client: httpx.AsyncClient, staff: dict[str, str], placed: dict[str, dict[str, Any]]
) -> None:
    assert await _found(client, staff, q="JD-880001") == [placed["his"]["id"]]
    assert await _found(client, staff, q="JD-88") == []


async def test_phone_finds_the_customers_orders_however_it_is_written(
    client: httpx.AsyncClient, staff: dict[str, str], placed: dict[str, dict[str, Any]]
) -> None:
    hers = [placed["cancelled"]["id"], placed["hers"]["id"]]  # newest first
    for said in (HER, "138 0013 8000", "138-0013-8000", "+86 13800138000"):
        assert await _found(client, staff, phone=said) == hers
    assert await _found(client, staff, phone=HIM) == [placed["his"]["id"]]
    assert await _found(client, staff, phone="13700137000") == []


async def test_only_a_role_that_may_read_personal_data_searches_by_phone(
    client: httpx.AsyncClient, db: Database, placed: dict[str, dict[str, Any]]
) -> None:
    for role in ("warehouse", "finance", "operations"):
        reply = await client.get("/api/v1/orders", params={"phone": HER}, headers=await bearer(db, role))
        assert (reply.status_code, reply.json()["code"]) == (403, "forbidden")
        assert "personal_data.read" in reply.json()["detail"]
    for role in ("sales", "cs_supervisor", "manager"):
        assert len(await _found(client, await bearer(db, role), phone=HER)) == 2


async def test_search_combines_with_the_filters_and_paging_and_keeps_the_list_shape(
    client: httpx.AsyncClient, staff: dict[str, str], placed: dict[str, dict[str, Any]]
) -> None:
    assert await _found(client, staff, phone=HER, status="confirmed") == [placed["hers"]["id"]]
    assert await _found(client, staff, phone=HER, channel="import") == []
    assert await _found(client, staff, phone=HIM, q="JD-880001") == [placed["his"]["id"]]
    assert await _found(client, staff, phone=HER, q="JD-880001") == []
    reply = await client.get(
        "/api/v1/orders", params={"phone": HER, "page_size": 1, "page": 2}, headers=staff
    )
    body = reply.json()
    assert (body["total"], body["page"], [o["id"] for o in body["items"]]) == (2, 2, [placed["hers"]["id"]])
    assert set(body["items"][0]) == set(OrderSummary.model_fields)


async def test_a_phone_that_is_no_mobile_is_a_422_naming_phone(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    reply = await client.get("/api/v1/orders", params={"phone": "1380013"}, headers=staff)
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in reply.json()["errors"]] == ["phone"]


async def test_an_order_opens_by_its_number_and_a_missing_one_is_a_404_problem(
    client: httpx.AsyncClient, staff: dict[str, str], placed: dict[str, dict[str, Any]]
) -> None:
    hers = placed["hers"]
    reply = await client.get(f"/api/v1/orders/by-number/{hers['order_no'].lower()}", headers=staff)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["id"], reply.json()["order_no"]) == (hers["id"], hers["order_no"])
    assert [line["sku"] for line in reply.json()["lines"]] == ["SKU-1"]

    missing = await client.get("/api/v1/orders/by-number/SF0000000000000000", headers=staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "SF0000000000000000" in missing.json()["detail"]
    assert (await client.get(f"/api/v1/orders/by-number/{hers['order_no']}")).status_code == 401


async def test_a_number_prefix_is_read_through_an_index(db: Database) -> None:
    """PostgreSQL's default operator class serves LIKE only under the C collation (the test
    database is C.UTF-8): the prefix search needs ix_orders_order_no_pattern. SQLite reads an
    order_no index by GLOB."""
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await session.scalars(text("EXPLAIN SELECT id FROM orders WHERE order_no LIKE 'SF2611%'"))
            assert "ix_orders_order_no_pattern" in "\n".join(plan)
        else:
            rows = await session.execute(
                text("EXPLAIN QUERY PLAN SELECT id FROM orders WHERE order_no GLOB 'SF2611*'")
            )
            assert re.search(r"USING (COVERING )?INDEX \w*order_no", "\n".join(row[-1] for row in rows))


# --- the console's search box and channel filter -----------------------------------------------


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _search(visitor: Visitor, filters: dict[str, str]) -> list[int]:
    """The orders the list shows for these filters, newest first."""
    html = (await visitor.get(f"/orders?{urlencode(filters)}")).text
    return [int(n) for n in re.findall(r'<tr id="order-(\d+)">', html)]


async def test_the_console_search_box_takes_a_phone_a_number_prefix_or_a_channel_number(
    db: Database, visit: Visitors, placed: dict[str, dict[str, Any]]
) -> None:
    hers, his, cancelled = placed["hers"], placed["his"], placed["cancelled"]
    async with await signed_in(visit, db, "customer_service") as visitor:
        assert await _search(visitor, {"q": "138 0013 8000"}) == [
            cancelled["id"],
            hers["id"],
        ]
        assert await _search(visitor, {"q": HIM, "status": "confirmed"}) == [his["id"]]
        assert await _search(visitor, {"q": hers["order_no"][:-4].lower()}) == [hers["id"]]
        assert await _search(visitor, {"q": "JD-880001"}) == [his["id"]]


async def test_a_console_role_without_personal_data_finds_no_order_by_phone(
    db: Database, visit: Visitors, placed: dict[str, dict[str, Any]]
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        assert await _search(visitor, {"q": HER}) == []
        assert await _search(visitor, {"q": placed["hers"]["order_no"]}) == [placed["hers"]["id"]]


async def test_a_channel_number_shaped_like_a_phone_is_still_found_in_the_console(
    client: httpx.AsyncClient, db: Database, visit: Visitors, staff: dict[str, str]
) -> None:
    writer = await bearer(db, "manager")
    imported = await place_order(client, writer, channel="import", channel_order_no="13312345678")
    async with await signed_in(visit, db, "sales") as visitor:
        assert await _search(visitor, {"q": "13312345678"}) == [imported["id"]]


async def test_the_console_channel_filter_offers_the_policys_channels(db: Database, visit: Visitors) -> None:
    def offered(html: str) -> list[tuple[str, str]]:
        select = re.search(r'<select name="channel">(.*?)</select>', html, re.S)
        assert select is not None
        return re.findall(r'<option value="(\w+)"[^>]*>([^<]+)</option>', select[1])

    async with await signed_in(visit, db, "sales") as visitor:
        built_in = offered((await visitor.get("/orders")).text)
        policy.install(policy.validate({"orders": {"channels": ["taobao", "kuaishou"]}}))
        store = offered((await visitor.get("/orders?channel=taobao")).text)

    assert [value for value, _ in built_in] == ["web", "manual", "exchange", "import"]
    assert store == [
        ("web", "自营商城"),
        ("manual", "人工录入"),
        ("exchange", "换货"),
        ("import", "导入"),
        ("taobao", "淘宝"),
        ("kuaishou", "kuaishou"),  # a marketplace without a label shows its name
    ]
