"""Campaigns on the console (LOY-3): created through the list's form (coupons typed by code) and
listed in zh and en, bad fields refused at their field with nothing stored, and a campaign's page
with its figures, live while its window is open, and the chart of its days with the ROI."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.loyalty import service as coupons
from shopflow.loyalty.campaign_models import Campaign
from shopflow.loyalty.models import CouponKind
from shopflow.loyalty.schemas import CouponIn
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.orders import order_body
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def _form() -> dict[str, str]:
    today = clock.today()
    return {
        "name": "双十二",
        "theme": "年终大促",
        "kind": "holiday",
        "starts_on": (today - timedelta(days=1)).isoformat(),
        "ends_on": (today + timedelta(days=1)).isoformat(),
        "channels": "web",
        "coupons": "ten",
        "gift_sku": "",
        "gift_min_spend": "",
        "budget": "500.00",
    }


async def _coupon(db: Database) -> None:
    async with db.transaction() as session:
        await coupons.create_coupon(
            session, SYSTEM, CouponIn(code="TEN", kind=CouponKind.FIXED, value="10.00")
        )


async def _count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Campaign)) or 0)


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<div class="field-error" id="error-{field}">(.*?)</div>', html, re.S)
    assert found is not None, f"no error at {field}"
    return found[1]


async def test_a_campaign_made_through_the_form_shows_its_live_figures_and_chart_in_chinese_and_english(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    await _coupon(db)
    sales = await bearer(db, "sales")
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/campaigns")
        made = await visitor.post("/campaigns", _form())
        assert made.status_code == 303, made.text
        page = made.headers["location"]
        assert re.fullmatch(r"/campaigns/\d+", page)
        body = order_body([("SKU-2", 2, "45.50")], coupons=["TEN"])
        placed = await visitor.client.post("/api/v1/orders", json=body, headers=sales)
        assert placed.status_code == 201, placed.text

        zh = await visitor.get(page)
        assert zh.status_code == 200, zh.text
        assert "已创建活动 双十二。" in zh.text
        assert '<a href="/campaigns" class="active">活动</a>' in zh.text
        assert 'hx-trigger="every 30s"' in zh.text  # the window is open: the figures refresh
        assert '<dd id="figure-orders">1</dd>' in zh.text
        assert '<dd id="figure-discounts">¥10.00</dd>' in zh.text
        # Goods 91.00 − cost 45.50 = 45.50 before the coupon; ROI (45.50 − 10.00) / 10.00 = 355.00%.
        assert '<dd id="figure-margin">¥45.50</dd>' in zh.text
        assert '<dd id="figure-roi">355.00%</dd>' in zh.text
        chart = json.loads(unescape(re.search(r'data-chart="([^"]*)"', zh.text)[1]))  # type: ignore[index]
        assert chart["title"]["text"] == "按日 · ROI 355.00%"
        assert [(s["name"], s["data"]) for s in chart["series"][1:]] == [
            ("毛利", [45.5]),
            ("让利", [10.0]),
            ("订单", [1]),
        ]
        live = await visitor.get(page, headers={"HX-Request": "true"})
        assert live.text.lstrip().startswith('<div id="campaign-live"')
        listed = await visitor.get("/campaigns")
        assert "节日" in table_row(listed.text, f"campaign-{page.rsplit('/', 1)[1]}")

        await visitor.post("/language", {"locale": "en", "next": "/campaigns"})
        en = await visitor.get(page)
        assert '<a href="/campaigns" class="active">Campaigns</a>' in en.text
        assert "New members" in en.text and "Gross margin" in en.text
        assert "holiday" in table_row(
            (await visitor.get("/campaigns")).text, f"campaign-{page.rsplit('/', 1)[1]}"
        )


async def test_bad_fields_are_refused_at_their_field_and_a_sales_user_reads_without_the_form(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    await _coupon(db)
    today = clock.today()
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/campaigns")
        cases = [
            ({"coupons": "TEN, NOPE"}, "coupons", "未知的优惠券：NOPE"),
            ({"price_rules": "12345"}, "price_rules", "未知的价格规则：12345"),
            ({"price_rules": "7, x"}, "price_rules", "未知的价格规则：x"),
            ({"channels": "nowhere"}, "channels", None),
            ({"ends_on": (today - timedelta(days=3)).isoformat()}, "ends_on", None),
            ({"gift_sku": "NOPE"}, "gift_sku", None),
            ({"name": ""}, "name", None),
            ({"budget": "abc"}, "budget", None),
        ]
        for fields, field, message in cases:
            reply = await visitor.post("/campaigns", {**_form(), **fields})
            assert reply.status_code == 422, (fields, reply.text)
            error = _field_error(reply.text, field)
            assert message is None or error == message, (fields, error)
            assert 'id="campaign-refusal"' in reply.text
        await visitor.post("/language", {"locale": "en", "next": "/campaigns"})
        english = await visitor.post("/campaigns", {**_form(), "coupons": "NOPE"})
        assert _field_error(english.text, "coupons") == "unknown coupons: NOPE"
        assert await _count(db) == 0
    async with await signed_in(visit, db, "sales") as visitor:
        listed = await visitor.get("/campaigns")
        assert listed.status_code == 200 and 'id="campaign-form"' not in listed.text
        assert (await visitor.post("/campaigns", _form())).status_code == 403
    async with await signed_in(visit, db, "warehouse") as visitor:
        assert (await visitor.get("/campaigns")).status_code == 403
