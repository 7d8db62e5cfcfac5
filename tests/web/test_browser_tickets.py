"""The ticket page in a real browser (Debian's Chromium, headless, Playwright) against a real
`shopflow serve`: a chat's 30-second first-response clock counts down live, then, unanswered,
shows it is overdue, without a reload."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.kb import service as kb
from shopflow.service import service
from shopflow.service.schemas import TicketIn
from tests.builders.server import Server
from tests.builders.tickets import ticket_body
from tests.web import test_browser

# The served app, the browser, the page and the skip where Chromium is missing: test_browser's own.
pytestmark = test_browser.pytestmark
server = test_browser.server
browser = test_browser.browser
page = test_browser.page


async def test_a_chats_first_response_clock_counts_down_live_and_turns_overdue(
    committed: Database, server: Server, page: Page
) -> None:
    async with committed.transaction() as session:
        ticket = await service.create_ticket(session, SYSTEM, TicketIn.model_validate(ticket_body()))
    await test_browser.sign_in(page, server, committed, "customer_service")
    await page.goto(f"{server.url}/tickets/{ticket.id}")
    await page.evaluate("window.notReloaded = true")

    countdown = page.locator("#ticket-clocks .countdown").first
    await expect(countdown).to_have_text(re.compile(r"^\(剩余 0:[0-2]\d\)$"))
    first = await countdown.inner_text()
    await expect(countdown).not_to_have_text(first)  # it ticks
    await expect(countdown).to_have_text(re.compile(r"超时"), timeout=40_000)
    await expect(countdown).to_have_class(re.compile(r"\blate\b"))
    assert await page.evaluate("window.notReloaded") is True


async def test_a_script_found_by_a_chinese_word_is_inserted_into_the_reply_at_the_caret(
    committed: Database, server: Server, page: Page
) -> None:
    async with committed.transaction() as session:
        await kb.seed_articles(session)
        ticket = await service.create_ticket(session, SYSTEM, TicketIn.model_validate(ticket_body()))
    await test_browser.sign_in(page, server, committed, "customer_service")
    await page.goto(f"{server.url}/tickets/{ticket.id}")

    await page.locator("#script-picker summary").click()
    await page.locator("#script-q").fill("道歉")
    apology = page.locator("#script-results .insert-script").first
    await expect(apology).to_have_text("致歉：给您添麻烦了")
    reply = page.locator("#reply-form textarea[name=body]")
    await reply.fill("【客服小王】")
    await apology.click()

    await expect(reply).to_have_value(
        re.compile(r"^【客服小王】顾客您好，关于订单\$\{order_no\}给您带来的不便")
    )
