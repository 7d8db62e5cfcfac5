"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against a real
`shopflow serve` on the committed test database. Skipped only where /usr/bin/chromium is absent
(CI installs it)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import func, select, update

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.core.sla.models import SlaClock
from shopflow.inventory.models import LedgerEntry
from shopflow.orders.models import Order
from tests.builders.auth import bearer, staff
from tests.builders.console import PASSWORD
from tests.builders.orders import order_body
from tests.builders.server import Server, start, stop
from tests.builders.store import small_store

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 10_000  # live parts poll every 3 s

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("console"))
    yield running
    stop(running.process)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    yield await context.new_page()
    await context.close()


async def sign_in(page: Page, server: Server, db: Database, role: str) -> None:
    await page.goto(f"{server.url}/orders")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Forders$"))
    await page.fill("input[name=username]", await staff(db, role, PASSWORD))
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] button")
    await expect(page).to_have_url(f"{server.url}/orders")


async def available(page: Page, server: Server, sku: str) -> str:
    await page.goto(f"{server.url}/inventory")
    return (await page.locator(f"#sku-{sku} td.available").inner_text()).strip()


async def test_an_order_placed_by_api_appears_live_turns_late_live_is_cancelled_and_stock_returns(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)  # SKU-1: 10 + 5 available
    api = await bearer(committed, "sales")
    await sign_in(page, server, committed, "operations")
    assert await available(page, server, "SKU-1") == "15"
    await page.goto(f"{server.url}/orders")
    await page.evaluate("window.notReloaded = true")

    async with httpx.AsyncClient(base_url=server.url) as client:
        reply = await client.post("/api/v1/orders", json=order_body([("SKU-1", 2, "99.00")]), headers=api)
        order = reply.json()

        row = page.locator(f"#order-{order['id']}")
        await expect(row).to_contain_text(order["order_no"])  # appears without a reload
        await expect(row).to_contain_text("已确认")
        await expect(row.locator(".clock.running")).to_contain_text("付款 · 剩余")
        payment = (
            await client.post(
                f"/api/v1/orders/{order['id']}/payments", json={"method": "alipay"}, headers=api
            )
        ).json()
        paid = await client.post(
            f"/api/v1/sandbox/payments/{payment['payment_id']}/complete",
            json={"outcome": "success"},
            headers=await bearer(committed, "admin"),  # the sandbox marks it paid: admin only
        )
        assert paid.status_code == 200
    await expect(row).to_contain_text("已支付")
    async with committed.transaction() as session:  # the 48-hour ship deadline passes 2 s from now
        await session.execute(
            update(SlaClock)
            .where(SlaClock.subject == f"order:{order['id']}", SlaClock.kind == "order.ship")
            .values(deadline=clock.now() + timedelta(seconds=2))
        )
    await expect(row.locator(".clock.late")).to_contain_text("发货 · 已超时")
    assert await page.evaluate("window.notReloaded") is True
    assert await available(page, server, "SKU-1") == "13"

    await page.goto(f"{server.url}/orders")
    await page.click(f"#order-{order['id']} a")
    await page.fill("form[action$='/cancel'] input[name=reason]", "客户要求取消")
    await page.click("#cancel-order")
    await page.click("#confirm-cancel")  # paid: the refund is named first

    await expect(page.locator(".flash")).to_have_text("订单已取消，占用的库存已释放。")
    await expect(page.locator("#order-status")).to_contain_text("已取消")
    await expect(page.locator("#cancel-order")).to_have_count(0)
    assert await available(page, server, "SKU-1") == "15"


async def test_a_receipt_with_one_bad_row_shows_the_error_at_that_row_and_keeps_what_was_typed(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    await sign_in(page, server, committed, "warehouse")
    await page.goto(f"{server.url}/inventory/receipts")
    await page.select_option("select[name=warehouse]", "WH-B")
    await page.fill("input[name=reference]", "PO-2026-11")
    await page.fill("input[name='lines[0].sku']", "SKU-2")
    await page.fill("input[name='lines[0].quantity']", "40")
    await page.fill("input[name='lines[1].sku']", "SKU-NOPE")
    await page.fill("input[name='lines[1].quantity']", "3")
    await page.click("#receipt-form button")

    await expect(page.locator("[id='error-lines[1].sku']")).to_have_text("没有 SKU SKU-NOPE")
    await expect(page.locator("input[name='lines[1].sku']")).to_have_class(re.compile("bad"))
    await expect(page.locator("input[name='lines[0].sku']")).to_have_value("SKU-2")
    await expect(page.locator("input[name='lines[0].quantity']")).to_have_value("40")
    await expect(page.locator("input[name='lines[1].sku']")).to_have_value("SKU-NOPE")
    await expect(page.locator("input[name=reference]")).to_have_value("PO-2026-11")
    await expect(page.locator("select[name=warehouse]")).to_have_value("WH-B")
    async with committed.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 4  # the store's own

    await page.fill("input[name='lines[1].sku']", "SKU-3")
    await page.click("#receipt-form button")
    await expect(page.locator(".flash")).to_contain_text("收货单 PO-2026-11 已入库 WH-B：共 2 行。")
    await expect(page.locator("#sku-SKU-2 td[data-warehouse=WH-B]")).to_have_text("40 / 40")


async def test_switching_to_english_and_back_relabels_everything_and_lasts_across_pages(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    await sign_in(page, server, committed, "manager")
    await expect(page.locator("header nav")).to_contain_text("订单")

    await page.click("button[name=locale][value=en]")
    await expect(page).to_have_url(f"{server.url}/orders")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("header nav")).to_have_text(
        re.compile(
            r"Today\s+Dashboard\s+Orders\s+Customers\s+Leads\s+Quotes\s+Catalog\s+After-sales\s+Tickets"
            r"\s+Knowledge base\s+Inventory\s+Fulfillment\s+Receipts\s+Notifications\s+Alerts"
        )
    )
    await page.goto(f"{server.url}/inventory")
    await expect(page.locator("h1")).to_have_text("Inventory")
    await expect(page.locator(".me .who")).to_contain_text("Manager")

    await page.click("button[name=locale][value=zh_CN]")
    await expect(page.locator("h1")).to_have_text("库存")


async def test_a_warehouse_user_sees_no_cancel_button_and_posting_it_anyway_is_refused_403(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    api = await bearer(committed, "sales")
    async with httpx.AsyncClient(base_url=server.url) as client:
        order = (
            await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=api)
        ).json()
    await sign_in(page, server, committed, "warehouse")
    await page.goto(f"{server.url}/orders/{order['id']}")
    await expect(page.locator("#order-status")).to_contain_text("已确认")
    await expect(page.locator("#cancel-order")).to_have_count(0)
    await expect(page.locator("form[action$='/cancel']")).to_have_count(0)

    token = await page.locator("input[name=csrf]").first.input_value()
    refused = await page.request.post(
        f"{server.url}/orders/{order['id']}/cancel", form={"csrf": token, "reason": "nevertheless"}
    )

    assert refused.status == 403
    assert "您的角色（仓库）无权执行此操作。" in await refused.text()
    async with committed.transaction() as session:
        assert await session.scalar(select(Order.status).where(Order.id == order["id"])) == "confirmed"


async def _late_orders(db: Database, server: Server, count: int) -> None:
    """`count` orders whose pay clock ran out days ago (the worker has not swept them)."""
    api = await bearer(db, "sales")
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(count):
            await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=api)
    async with db.transaction() as session:
        await session.execute(
            update(SlaClock)
            .where(SlaClock.kind == "order.pay")
            .values(deadline=clock.now() - timedelta(days=3, hours=2))
        )


OVERFLOW = """() => ({
    page: document.documentElement.scrollWidth,
    view: window.innerWidth,
    items: [...document.querySelectorAll('#late-items li')].map(li => {
        const link = li.querySelector('a').getBoundingClientRect();
        const line = parseFloat(getComputedStyle(li.querySelector('a')).lineHeight) || 20;
        return {width: li.getBoundingClientRect().width, height: link.height, line: line};
    }),
})"""


@pytest.mark.parametrize("width", [1440, 1920, 390])
async def test_today_fits_the_screen_and_the_longest_overdue_list_reads_on_one_line_each(
    committed: Database, server: Server, browser: Browser, width: int
) -> None:
    await small_store(committed)
    await _late_orders(committed, server, 3)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await sign_in(page, server, committed, "manager")
    await page.goto(f"{server.url}/")
    await expect(page.locator("#late-items li")).to_have_count(3)

    measured = await page.evaluate(OVERFLOW)

    assert measured["page"] <= measured["view"]
    for item in measured["items"]:  # "订单 12" on one line, not one character per line
        assert item["width"] > 250 and item["height"] <= item["line"] * 1.5, item
    menu = page.locator("#menu")
    if width < 760:  # the navigation waits behind the menu button
        await expect(page.locator("header nav")).to_be_hidden()
        await menu.click()
        await expect(page.locator("header nav a[href='/orders']")).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    else:
        await expect(menu).to_be_hidden()
        await expect(page.locator("header nav")).to_be_visible()
    await context.close()


async def test_cancelling_a_paid_order_asks_first_naming_the_refund_and_back_keeps_it(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    api = await bearer(committed, "sales")
    async with httpx.AsyncClient(base_url=server.url) as client:
        order = (
            await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=api)
        ).json()
        payment = (
            await client.post(
                f"/api/v1/orders/{order['id']}/payments", json={"method": "alipay"}, headers=api
            )
        ).json()
        await client.post(
            f"/api/v1/sandbox/payments/{payment['payment_id']}/complete",
            json={"outcome": "success"},
            headers=await bearer(committed, "admin"),  # the sandbox marks it paid: admin only
        )
    await sign_in(page, server, committed, "operations")
    await page.goto(f"{server.url}/orders/{order['id']}")
    sizes = await page.evaluate(
        "[...document.querySelectorAll('main *')]"
        ".filter(e => e.id !== 'grand-total' && e.childElementCount === 0 && e.textContent.trim())"
        ".map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    total = await page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('grand-total')).fontSize)"
    )
    assert total > max(sizes)  # the grand total is the page's most prominent figure

    await page.fill("form[action$='/cancel'] input[name=reason]", "客户改主意")
    await page.click("#cancel-order")
    await expect(page.locator("#refund-notice")).to_have_text(
        "该订单已支付 ¥99.00；取消后将申请退款 ¥99.00。"
    )
    await page.click("#keep-order")
    await expect(page.locator("#order-status")).to_contain_text("已支付")

    await page.click("#cancel-order")
    await page.fill("input[name=reason]", "客户改主意")
    await page.click("#confirm-cancel")
    await expect(page).to_have_url(f"{server.url}/orders/{order['id']}")
    await expect(page.locator("#order-status")).to_contain_text("已取消")


async def test_a_refused_form_leaves_the_address_bar_on_its_page_and_a_reload_posts_nothing(
    committed: Database, server: Server, page: Page
) -> None:
    await small_store(committed)
    api = await bearer(committed, "sales")
    async with httpx.AsyncClient(base_url=server.url) as client:
        order = (
            await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=api)
        ).json()
    await sign_in(page, server, committed, "operations")
    await page.goto(f"{server.url}/orders/{order['id']}")
    await page.fill("form[action$='/cancel'] input[name=reason]", " ")
    await page.click("#cancel-order")

    await expect(page.locator("#error-reason")).to_have_text("必填")
    await expect(page).to_have_url(f"{server.url}/orders/{order['id']}")
    await page.reload()
    await expect(page.locator("#error-reason")).to_have_count(0)
    await expect(page.locator("#order-status")).to_contain_text("已确认")
