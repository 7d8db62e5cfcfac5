"""The customer's own page on a phone (390 px, touch) in a real browser (Debian's Chromium,
headless, Playwright) against a real `shopflow serve`: one column without sideways scrolling, the
return previewed by HTMX as it is filled in, nothing stored until it is sent, then the case."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from shopflow.aftersales.models import Case
from shopflow.core.db import Database
from tests.builders.aftersales import delivered_order
from tests.builders.portal import link_path
from tests.builders.server import Server
from tests.web import test_browser

# The served app, the browser and the skip where Chromium is missing: test_browser's own.
pytestmark = test_browser.pytestmark
server = test_browser.server
browser = test_browser.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    context.set_default_timeout(test_browser.WAIT_MS)
    yield await context.new_page()
    await context.close()


async def _cases(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_a_customer_previews_and_sends_a_return_from_a_phone(
    committed: Database, server: Server, phone: Page
) -> None:
    order_id = await delivered_order(committed)
    await phone.goto(server.url + await link_path(committed, order_id))

    await expect(phone.locator("#confirm-receipt")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await phone.select_option("select[name=reason]", "quality")
    await phone.locator("#request-form input[name^=qty-]").first.fill("1")
    preview = phone.locator("#preview-result")
    await expect(preview).to_contain_text(re.compile(r"15天质量问题退货，截止 \d{4}-\d{2}-\d{2} 23:59"))
    await expect(preview).to_contain_text("¥109.00")
    assert await _cases(committed) == 0

    await phone.click("#send-request")

    await expect(phone).to_have_url(re.compile(r"done=case"))
    await expect(phone.locator("#cases")).to_contain_text("待审核")
    assert await _cases(committed) == 1
