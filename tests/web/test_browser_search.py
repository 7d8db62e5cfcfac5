"""The order list's search box in a real browser (Debian's Chromium, headless, Playwright) against a
real `shopflow serve`: staff type what the customer says, a phone or the start of an order number."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.async_api import Page, expect

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.orders import address, order_body
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


async def _place(api: httpx.AsyncClient, headers: dict[str, str], phone: str) -> dict[str, Any]:
    body = order_body([("SKU-3", 1, "12.00")], shipping_address=address(phone=phone))
    body["customer"]["phone"] = phone
    reply = await api.post("/api/v1/orders", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def _search(page: Page, said: str) -> list[int]:
    box = page.locator("form.filters input[name=q]")
    await box.fill(said)
    await box.press("Enter")
    await expect(page).to_have_url(re.compile(r"/orders\?.*q="))
    await expect(box).to_have_value(said)  # the box keeps what was typed
    rows = await page.locator("tr[id^=order-]").evaluate_all("rows => rows.map(row => row.id)")
    return [int(row.removeprefix("order-")) for row in rows]


async def test_an_order_is_found_by_the_customers_phone_and_by_the_start_of_its_number(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    sales = await bearer(committed, "sales")
    async with httpx.AsyncClient(base_url=server.url) as api:
        hers = await _place(api, sales, "13800138000")
        his = await _place(api, sales, "13900139000")
        again = await _place(api, sales, "13800138000")
    await sign_in(page, server, committed, "customer_service")
    await expect(page.locator(f"#order-{his['id']}")).to_be_visible()

    assert await _search(page, "138 0013 8000") == [again["id"], hers["id"]]
    await expect(page.locator(f"#order-{hers['id']}")).to_contain_text(hers["order_no"])
    assert await _search(page, "+86 139-0013-9000") == [his["id"]]
    assert await _search(page, his["order_no"][:-4].lower()) == [his["id"]]
    assert await _search(page, "SF99") == []
