"""The console's home page, Today (web/console.py), and its locally served assets (web/static), over
HTTP without a browser."""

from __future__ import annotations

import re

import pytest

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.payments import gateway, place_order, start_payment
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def test_today_shows_sales_and_average_order_value_to_those_who_may_see_money(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    admin = await bearer(db)
    async with await signed_in(visit, db, "finance") as visitor:
        for lines in ([("SKU-1", 1, "99.00")], [("SKU-2", 2, "45.50")]):
            order = await place_order(visitor.client, admin, lines)
            payment = await start_payment(visitor.client, admin, order["id"])
            await gateway(visitor.client, admin, payment["payment_id"], "success")
        today = (await visitor.get("/")).text
        # 99.00 ships free; 2 × 45.50 = 91.00 is below the free-shipping threshold: + 10.00.
        assert '<div class="n" id="sales-today">¥200.00</div>' in today
        assert '<div class="n">¥100.00</div>' in today  # average order value: 200.00 / 2 orders
        assert "data-chart=" in today and "/static/vendor/echarts/echarts.common.min.js" in today
    async with await signed_in(visit, db, "warehouse") as visitor:
        assert 'id="sales-today"' not in (await visitor.get("/")).text


async def test_vendored_assets_are_served_locally_with_their_licences(db: Database, visit: Visitors) -> None:
    async with visit() as visitor:
        for path in (
            "/static/vendor/htmx/htmx.min.js",
            "/static/vendor/htmx/LICENSE",
            "/static/vendor/echarts/echarts.common.min.js",
            "/static/vendor/echarts/LICENSE",
            "/static/vendor/echarts/NOTICE",
            "/static/console.css",
            "/static/console.js",
        ):
            assert (await visitor.get(path)).status_code == 200, path
        page = (await visitor.get("/login")).text
        assert re.findall(r'(?:src|href)="(https?:)?//', page) == []


async def test_every_page_links_the_favicon_served_from_the_package(db: Database, visit: Visitors) -> None:
    async with visit() as visitor:
        icon = await visitor.get("/static/favicon.svg")
        page = (await visitor.get("/login")).text
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page


async def test_sku_and_carrier_names_are_labelled_as_names_of_things(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "admin") as visitor:
        catalog = (await visitor.get("/catalog")).text
        carriers = (await visitor.get("/fulfillment/carriers")).text
    assert "<th>名称</th>" in catalog and "姓名" not in catalog
    assert "<th>名称</th>" in carriers and "姓名" not in carriers
