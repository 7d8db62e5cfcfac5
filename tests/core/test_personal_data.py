"""Personal data by role on the console and the packing slip, the admin's log of unmasked reads
(API and console page), and the rate of list requests per token (RSK-3)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import policy
from shopflow.core.api import SlidingWindow
from shopflow.core.db import Database
from shopflow.core.personal_data import PersonalDataRead
from tests.builders import fulfillment as ful
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.lifecycle import place, stocked_store
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _reads(db: Database) -> list[tuple[int, str]]:
    async with db.transaction() as session:
        found = await session.execute(select(PersonalDataRead.subject_id, PersonalDataRead.endpoint))
        return [(read.subject_id, read.endpoint) for read in found]


async def test_the_order_page_shows_sales_the_customer_in_full_and_logs_it_once(
    db: Database, visit: Visitors
) -> None:
    await stocked_store(db, 5)
    order_id = await place(db)
    async with await signed_in(visit, db, "sales") as visitor:
        page = await visitor.get(f"/orders/{order_id}")
        live = await visitor.get(f"/orders/{order_id}", headers={"HX-Request": "true"})

    assert page.status_code == 200 and live.status_code == 200
    assert "13800138000" in page.text and "zhang@example.cn" in page.text and "世纪大道100号" in page.text
    assert "本次查看已记录" in page.text
    # The page once; its live part, polled every few seconds, shows no personal data.
    assert await _reads(db) == [(order_id, "GET /orders/{order_id}")]


async def test_the_order_page_shows_the_warehouse_the_customer_masked_and_logs_nothing(
    db: Database, visit: Visitors
) -> None:
    await stocked_store(db, 5)
    order_id = await place(db)
    async with await signed_in(visit, db, "warehouse") as visitor:
        page = await visitor.get(f"/orders/{order_id}")

    assert page.status_code == 200
    assert "138****8000" in page.text and "z***@example.cn" in page.text and "世纪****" in page.text
    assert "13800138000" not in page.text and "张三" not in page.text and "世纪大道100号" not in page.text
    assert "个人信息已脱敏" in page.text
    assert await _reads(db) == []


async def test_a_packing_slip_is_a_logged_read_of_the_address(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.carriers_with_rules(client, team.ops)
    placed = await ful.paid_order(client, team.sales, [("SKU-1", 1, "99.00")])
    await ful.build_waves(client, team.warehouse)
    task_id = (await ful.tasks_of(client, team.warehouse, placed["id"]))["WH-A"]

    slip = await client.get(f"/api/v1/pick-tasks/{task_id}/packing-slip", headers=team.warehouse)

    assert slip.status_code == 200 and "世纪大道100号" in slip.text
    assert await _reads(db) == [(placed["id"], "GET /api/v1/pick-tasks/{task_id}/packing-slip")]


async def test_the_admin_pages_through_the_reads_of_one_user_or_of_everyone(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked_store(db, 5)
    first, second = await place(db), await place(db)
    sales = await bearer(db, "sales", username="li.sales")
    service = await bearer(db, "customer_service", username="wang.cs")
    admin = await bearer(db, "admin", username="boss")
    for order_id in (first, second):
        assert (await client.get(f"/api/v1/orders/{order_id}", headers=sales)).status_code == 200
    await client.get(f"/api/v1/orders/{first}", headers=service)

    everyone = (await client.get("/api/v1/personal-data-reads", headers=admin)).json()
    mine = (
        await client.get("/api/v1/personal-data-reads?user=li.sales&page_size=1&page=2", headers=admin)
    ).json()
    unknown = await client.get("/api/v1/personal-data-reads?user=nobody", headers=admin)

    assert [(r["user"], r["subject"], r["subject_id"]) for r in everyone["items"]] == [
        ("wang.cs", "order", first),
        ("li.sales", "order", second),
        ("li.sales", "order", first),
    ]
    assert everyone["items"][0]["endpoint"] == "GET /api/v1/orders/{order_id}"
    assert (mine["total"], [r["subject_id"] for r in mine["items"]]) == (2, [first])
    assert unknown.status_code == 404 and unknown.json()["code"] == "user_not_found"
    assert (await client.get("/api/v1/personal-data-reads", headers=sales)).status_code == 403


async def test_the_reads_page_is_the_admins_in_both_languages(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    await stocked_store(db, 5)
    order_id = await place(db)
    await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "sales", username="li.sales"))

    async with await signed_in(visit, db, "admin") as visitor:
        chinese = await visitor.get("/personal-data-reads?user=li.sales")
        await visitor.post("/language", {"locale": "en", "next": "/personal-data-reads"})
        english = await visitor.get("/personal-data-reads")
        unknown = await visitor.get("/personal-data-reads?user=nobody")
    async with await signed_in(visit, db, "manager") as visitor:
        refused = await visitor.get("/personal-data-reads")

    assert chinese.status_code == 200 and "个人信息查看记录" in chinese.text
    for page in (chinese, english):
        assert "li.sales" in page.text and f'href="/orders/{order_id}"' in page.text
        assert "GET /api/v1/orders/{order_id}" in page.text
    assert "Personal data reads" in english.text and "个人信息" not in english.text
    assert unknown.status_code == 404 and "There is no user nobody." in unknown.text
    assert refused.status_code == 403


async def test_a_token_past_its_list_requests_a_minute_gets_429_with_retry_after(
    client: httpx.AsyncClient, db: Database
) -> None:
    policy.install(policy.validate({"security": {"list_requests_per_minute": 3}}))
    busy, other = await bearer(db, "sales"), await bearer(db, "sales")

    answers = [(await client.get("/api/v1/orders", headers=busy)).status_code for _ in range(4)]
    refused = await client.get("/api/v1/alerts", headers=busy)

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_requests" and 0 < int(refused.headers["Retry-After"]) <= 60
    assert (await client.get("/api/v1/orders", headers=other)).status_code == 200  # per token
    assert (await client.get("/api/v1/policy", headers=busy)).status_code == 200  # not a list


def test_the_window_slides_a_request_is_counted_again_a_minute_after_it_was_made() -> None:
    window = SlidingWindow()

    assert [window.wait("t", 2, at) for at in (0.0, 10.0)] == [0.0, 0.0]
    assert window.wait("t", 2, 30.0) == 30.0  # the first request leaves the window at 60
    assert window.wait("u", 2, 30.0) == 0.0
    assert window.wait("t", 2, 60.0) == 0.0
    assert window.wait("t", 2, 61.0) == 9.0
