"""The fulfillment pages in a real browser (Debian's Chromium, headless, Playwright) against a real
`shopflow serve`: a paid order through a wave, packing, the check and shipping to its shipment, whose
problem shows up live on the exception list and highlighted on its tracking timeline."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.async_api import Page, expect

from shopflow.core import clock
from shopflow.core.db import Database
from tests.builders import fulfillment as ful
from tests.builders.server import Server
from tests.builders.store import small_store
from tests.web import test_browser
from tests.web.test_browser import sign_in

# The served app, the browser and a fresh page per test, and the skip where Chromium is missing:
# test_browser's own.
pytestmark = test_browser.pytestmark
server = test_browser.server
browser = test_browser.browser
page = test_browser.page


async def test_a_paid_order_is_waved_packed_checked_shipped_and_its_problem_shows_on_the_timeline(
    committed: Database,
    server: Server,
    page: Page,
) -> None:
    await small_store(committed)
    team = await ful.crew(committed)
    async with httpx.AsyncClient(base_url=server.url) as api:
        secrets = await ful.carriers_with_rules(api, team.ops)
        order = await ful.paid_order(api, team.sales, [("SKU-1", 2, "99.00")])
    await sign_in(page, server, committed, "warehouse")

    await page.click("header nav a[href='/fulfillment']")
    await page.click("#create-waves button")
    await expect(page.locator(".flash")).to_have_text("已创建波次 1 个，共 1 个订单待拣货。")
    await page.click("#waves tbody a >> nth=0")
    await expect(page.locator("#tasks")).to_contain_text(order["order_no"])
    await expect(page.locator("#pick-list")).to_have_attribute(
        "href", re.compile(r"^/fulfillment/waves/\d+/pick-list$")
    )
    await page.click("#tasks tbody a >> nth=0")
    await expect(page.locator("#task-status")).to_have_text("拣货中")

    await page.fill("input[name=weight_g]", "1.3kg")
    await page.fill("input[name=materials]", "纸箱 M，气泡膜")
    await page.click("#pack")
    await expect(page.locator("#error-weight_g")).to_have_text("必须是整数")
    await expect(page.locator("input[name=weight_g]")).to_have_class("bad")
    await expect(page.locator("input[name=materials]")).to_have_value("纸箱 M，气泡膜")
    await expect(page.locator("#task-status")).to_have_text("拣货中")
    await page.fill("input[name=weight_g]", "1300")
    await page.click("#pack")
    await expect(page.locator(".flash")).to_have_text("已打包，1300 克，等待质检。")
    await page.click("#check-passed")
    await expect(page.locator(".flash")).to_have_text("质检合格，可以发货。")
    await expect(page.locator("#suggested-carrier")).to_contain_text("顺丰速运")
    await page.click("#ship")

    await expect(page.locator(".flash")).to_contain_text("已交由 顺丰速运 发货，运单号 SF")
    await expect(page.locator("#shipment-status")).to_have_text("已发出")
    await expect(page.locator("#shipment-order")).to_have_text(order["order_no"])
    await expect(page.locator("#timeline li")).to_contain_text(["已交付承运商"])
    waybill = (await page.locator("#tracking-link").inner_text()).strip()
    shipment_url = page.url

    await page.goto(f"{server.url}/fulfillment/exceptions")
    await page.evaluate("window.notReloaded = true")
    now = clock.now()
    events = [  # as carriers send them: not in the order they happened
        ful.event(waybill, "damaged", now + timedelta(minutes=2), description="外箱破损"),
        ful.event(waybill, "picked_up", now + timedelta(minutes=1), location="上海"),
    ]
    async with httpx.AsyncClient(base_url=server.url) as api:
        assert (await ful.push(api, "SF", secrets["SF"], events)).status_code == 200
    row = page.locator("#exceptions tbody tr", has_text=waybill)
    await expect(row).to_contain_text("破损")  # appears without a reload
    await expect(row.locator(".clock.running")).to_contain_text("联系客户 · 剩余 11小时59分")
    assert await page.evaluate("window.notReloaded") is True

    await page.goto(shipment_url)
    await expect(page.locator("#shipment-status")).to_have_text("异常")
    await expect(page.locator("#timeline li")).to_contain_text(["已交付承运商", "已揽收 ", "破损 "])
    await expect(page.locator("#timeline li.problem")).to_contain_text("外箱破损")
