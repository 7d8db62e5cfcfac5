"""The alert list in a real browser (Debian's Chromium, headless, Playwright) against a real
`shopflow serve` (ANA-3): filtered by kind, the selected alerts acknowledged in bulk, then all
matching the filter, one resolved with a note."""

from __future__ import annotations

from playwright.async_api import Page, expect
from sqlalchemy import select

from shopflow.core import alerts
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from tests.builders.server import Server
from tests.web import test_browser
from tests.web.test_browser import sign_in

# The served app, the browser and a fresh page per test, and the skip where Chromium is missing:
# test_browser's own.
pytestmark = test_browser.pytestmark
server = test_browser.server
browser = test_browser.browser
page = test_browser.page

SHIP_LATE = "sla.breach.order.ship"


async def raise_alerts(db: Database, *specs: tuple[str, str]) -> dict[str, int]:
    """Alerts of (kind, subject); their ids by subject."""
    async with db.transaction() as session:
        for kind, subject in specs:
            await alerts.raise_alert(session, kind, subject, f"{kind} passed for {subject}", f"b:{subject}")
        found = await session.execute(select(Alert.subject, Alert.id))
        return dict(found.tuples().all())


async def states(db: Database) -> dict[str, str]:
    async with db.transaction() as session:
        return dict((await session.execute(select(Alert.subject, Alert.state))).tuples().all())


async def test_operations_acknowledge_selected_alerts_then_all_matching_and_resolve_one_with_a_note(
    committed: Database, server: Server, page: Page
) -> None:
    ids = await raise_alerts(
        committed,
        (SHIP_LATE, "order:1"),
        (SHIP_LATE, "order:2"),
        (SHIP_LATE, "order:3"),
        ("payment_amount_mismatch", "payment:4"),
    )
    await sign_in(page, server, committed, "operations")
    await page.goto(f"{server.url}/alerts")
    rows = page.locator("#alerts tbody tr")
    await expect(rows).to_have_count(4)
    # Operations may not handle a payment mismatch: no checkbox, no button on its row.
    await expect(page.locator(f"#alert-{ids['payment:4']} input[type=checkbox]")).to_have_count(0)
    await expect(page.locator(f"#alert-{ids['order:1']}")).to_contain_text("超时：发货")
    await expect(page.locator(f"#alert-{ids['order:1']}")).to_contain_text(f"{SHIP_LATE} passed for order:1")
    await expect(page.locator(f"#alert-{ids['order:1']} a[href='/orders/1']")).to_have_count(1)

    await page.check(f"#alert-{ids['order:1']} input[type=checkbox]")
    await page.check(f"#alert-{ids['order:2']} input[type=checkbox]")
    await page.click("#ack-selected")
    await expect(page.locator(".flash")).to_contain_text("已确认 2 条告警。")
    await expect(rows).to_have_count(2)  # back on the open alerts
    assert await states(committed) == {
        "order:1": "acknowledged",
        "order:2": "acknowledged",
        "order:3": "open",
        "payment:4": "open",
    }

    await page.select_option("select[name=kind]", SHIP_LATE)
    await page.click("form.filters button")
    await expect(rows).to_have_count(1)
    await page.click("#ack-matching")
    await expect(page.locator(".flash")).to_contain_text("已确认 1 条告警。")
    await expect(page.locator("#alerts tbody")).to_contain_text("没有告警。")
    assert (await states(committed))["order:3"] == "acknowledged"

    await page.goto(f"{server.url}/alerts?state=acknowledged")
    resolve = page.locator(f"#alert-{ids['order:2']} form[action$='/resolve']")
    await resolve.locator("input[name=note]").fill("已联系快递，今日发出")
    await resolve.locator("button").click()
    await expect(page.locator(".flash")).to_contain_text(f"告警 {ids['order:2']} 已解决。")
    await page.goto(f"{server.url}/alerts?state=resolved")
    await expect(page.locator(f"#alert-{ids['order:2']}")).to_contain_text("已联系快递，今日发出")
    assert (await states(committed))["order:2"] == "resolved"
