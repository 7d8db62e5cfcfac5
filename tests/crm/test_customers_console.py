"""The customers' console pages (zh_CN by default): the list found by exact mobile or customer
number, masked for roles without personal data, the profile's timeline, and a merge."""

from __future__ import annotations

import httpx
import pytest

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.payments import pay, start_payment
from tests.builders.refunds import refund_store
from tests.crm.test_customers import LI, customer_of, order_of


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def test_sales_find_a_repeat_buyer_by_mobile_and_read_the_timeline(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    await refund_store(db)
    admin = await bearer(db, "admin")
    first = await order_of(client, admin)
    await pay(client, await start_payment(client, admin, first["id"]))
    second = await order_of(client, admin, units=2)
    await pay(client, await start_payment(client, admin, second["id"]))
    zhang = await customer_of(db, first["id"])

    async with await signed_in(visit, db, "sales") as sales:
        listed = (await sales.get("/customers?q=138 0013 8000")).text
        row = table_row(listed, f"customer-{zhang}")
        assert "张三" in row and "13800138000" in row and "¥300.00" in row
        page = (await sales.get(f"/customers/{zhang}")).text
        assert "客户" in page and "累计消费" in page
        assert f"订单 {first['order_no']} 已下单" in page and f"订单 {second['order_no']} 已支付" in page
        assert page.index(second["order_no"]) < page.index(first["order_no"])  # the latest first
        by_number = (await sales.get(f"/customers?q={zhang}")).text
        assert f'id="customer-{zhang}"' in by_number
        nonsense = await sales.get("/customers?q=张三")
        assert "请输入手机号或客户编号" in nonsense.text and 'id="customer-' not in nonsense.text

    async with await signed_in(visit, db, "operations") as operations:
        row = table_row((await operations.get("/customers")).text, f"customer-{zhang}")
        assert "张*" in row and "138****8000" in row and "13800138000" not in row


async def test_a_merge_on_the_profile_page_and_one_refused_in_chinese(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    await refund_store(db)
    admin = await bearer(db, "admin")
    zhang = await customer_of(db, (await order_of(client, admin))["id"])
    li = await customer_of(db, (await order_of(client, admin, LI))["id"])

    async with await signed_in(visit, db, "customer_service") as agent:
        await agent.get(f"/customers/{zhang}")
        refused = await agent.post(f"/customers/{zhang}/merge", {"other_id": str(zhang)})
        assert refused.status_code == 422 and "就是这位客户" in refused.text

        merged = await agent.post(f"/customers/{zhang}/merge", {"other_id": str(li)})

        assert merged.status_code == 303
        page = (await agent.get(f"/customers/{zhang}")).text
        assert "13911112222" in page
        gone = await agent.get(f"/customers/{li}")
        assert gone.status_code == 303 and gone.headers["location"] == f"/customers/{zhang}"


async def test_the_order_page_links_its_customer_for_roles_that_read_customers(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    await refund_store(db)
    order = await order_of(client, await bearer(db, "admin"))
    zhang = await customer_of(db, order["id"])

    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get(f"/orders/{order['id']}")).text
        assert 'id="order-customer"' in page and f'href="/customers/{zhang}"' in page
    async with await signed_in(visit, db, "warehouse") as warehouse:
        assert 'id="order-customer"' not in (await warehouse.get(f"/orders/{order['id']}")).text


async def test_the_profile_is_edited_on_its_page_and_a_taken_mobile_is_refused_in_chinese(
    client: httpx.AsyncClient, db: Database, visit: Visitors
) -> None:
    await refund_store(db)
    admin = await bearer(db, "admin")
    zhang = await customer_of(db, (await order_of(client, admin))["id"])
    li = await customer_of(db, (await order_of(client, admin, LI))["id"])

    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get(f"/customers/{zhang}")).text
        assert 'id="edit"' in page and 'value="张三"' in page
        form = {
            "name": "张三丰",
            "email": "",
            "tags": "老客户，VIP",
            "street": "世纪大道200号",
            "primary_phone": "13800138000",
        }

        taken = await sales.post(f"/customers/{zhang}/edit", {**form, "add_phone": "13911112222"})
        assert taken.status_code == 409 and f"属于客户 {li}" in taken.text and 'value="张三丰"' in taken.text

        saved = await sales.post(
            f"/customers/{zhang}/edit", {**form, "add_phone": "139 0000 5555", "added_primary": "1"}
        )
        assert saved.status_code == 303
        page = (await sales.get(f"/customers/{zhang}")).text
        assert "张三丰" in page and "老客户, VIP" in page and "世纪大道200号" in page
        assert "13900005555 · 主号" in page

    async with await signed_in(visit, db, "operations") as operations:
        assert 'id="edit"' not in (await operations.get(f"/customers/{zhang}")).text
