"""The dashboard in a real browser (Debian's Chromium, headless, Playwright) against a real
`shopflow serve`: its trend charts and the funnel draw (an ECharts canvas each) with no error in
the browser's console, in Chinese and in English; a name links to its definition."""

from __future__ import annotations

import httpx
from playwright.async_api import ConsoleMessage, Page, expect

from shopflow.core import clock
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.payments import paid_order
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

CHARTS = ("#chart-orders-sales", "#chart-net-sales", "#chart-rates", "#funnel-chart")


async def test_the_dashboards_charts_draw_without_errors_in_chinese_and_english(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    async with httpx.AsyncClient(base_url=server.url) as client:
        await paid_order(client, await bearer(committed), [("SKU-1", 2, "99.00")], at=clock.now())
    problems: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", heard)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in(page, server, committed, "manager")

    for locale, title, orders in (("zh_CN", "看板", "订单数"), ("en", "Dashboard", "Orders")):
        await page.goto(f"{server.url}/dashboard")
        await page.click(f"button[name=locale][value={locale}]")
        await expect(page.locator("h1")).to_have_text(title)
        for chart in CHARTS:
            await expect(page.locator(f"{chart} canvas")).to_have_count(1)
        await expect(page.locator("#metric-orders .value")).to_have_text("1")
        await expect(page.locator("#metric-sales .value")).to_have_text("¥198.00")
        await expect(page.locator("#metric-orders a")).to_have_text(orders)

    await page.click("#metric-gross_margin a")
    await expect(page).to_have_url(f"{server.url}/dashboard/definitions#gross_margin")
    await expect(page.locator("#gross_margin h2")).to_contain_text("Gross margin")
    assert problems == []
