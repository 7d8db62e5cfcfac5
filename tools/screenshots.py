"""Screenshots of the console's main pages in both languages, into docs/screenshots/ (`make screenshots`),
and of the customer's own page at a phone's width (390 px).

Builds the demo store of `make run` in a temporary SQLite database (`shopflow migrate`, `demo`:
four weeks of trading with carriers, waves, parcels and tracking), serves it with `shopflow serve`,
places one order through the API and pays it in the sandbox, runs one worker round (its notices
written to the mail and SMS logs, the late clocks alerted), and photographs each page with
Playwright driving Debian's Chromium (/usr/bin/chromium), signed in as the demo admin. No network
is used beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from shopflow.cli import DEMO_PASSWORD
from shopflow.core import clock

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCALES = {"zh_CN": "zh", "en": "en"}
PHONE = {"width": 390, "height": 844}


def _shopflow(*args: str, env: dict[str, str]) -> str:
    command = shutil.which("shopflow", path=str(Path(sys.executable).parent)) or "shopflow"
    done = subprocess.run([command, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _first_link(page: Page, url: str, listing: str, pattern: str) -> str:
    """The first link of the page `listing` whose address matches `pattern` (else `listing`)."""
    page.goto(f"{url}{listing}")
    found = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    return next((href for href in found if re.fullmatch(pattern, href)), listing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo_server(orders: int | None) -> Iterator[str]:
    """A served demo store; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="shopflow-shots-") as tmp:
        env = {
            **os.environ,
            "SHOPFLOW_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
            "SHOPFLOW_DATA_DIR": f"{tmp}/data",
            "SHOPFLOW_EMAIL_PROVIDER": "log",
            "SHOPFLOW_SMS_PROVIDER": "log",
            "SHOPFLOW_SANDBOX": "true",  # one order is paid through the sandbox gateway
        }
        env.pop("SHOPFLOW_POLICY_FILE", None)
        _shopflow("migrate", env=env)
        size = [] if orders is None else ["--orders", str(orders)]
        token = _shopflow("demo", *size, env=env).split()[-1]
        port = _free_port()
        command = shutil.which("shopflow", path=str(Path(sys.executable).parent)) or "shopflow"
        server = subprocess.Popen(
            [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("the demo server did not start")
            _paid_order(url, token)
            _shopflow("worker", "--once", env=env)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)


def _paid_order(url: str, token: str) -> None:
    """An order placed and paid now, so that the delivery log shows its customer's notices."""
    order = {
        "channel": "web",
        "customer": {"name": "林晓", "phone": "13812345678", "email": "linxiao@example.cn"},
        "shipping_address": {
            "name": "林晓",
            "phone": "13812345678",
            "province": "浙江",
            "city": "杭州市",
            "district": "西湖区",
            "street": "文三路 90 号 2 栋 1201 室",
            "postcode": "310012",
        },
        "lines": [{"sku": "SF-002-03", "quantity": 1, "unit_price": "199.00"}],
    }
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        placed = api.post("/orders", json=order).raise_for_status().json()
        payment = api.post(f"/orders/{placed['id']}/payments", json={"method": "alipay"}).raise_for_status()
        api.post(
            f"/sandbox/payments/{payment.json()['payment_id']}/complete", json={"outcome": "success"}
        ).raise_for_status()


def _shoot(page: Page, url: str, target: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target}")


def _customer_pages(browser: Browser, url: str, link: str, out: Path) -> None:
    """The customer's page of a delivered order at a phone's width, in each language: as opened,
    and with one unit of its first line asked back (the eligibility and refund previewed)."""
    phone = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    path = urlsplit(link).path
    for locale, suffix in LOCALES.items():
        _shoot(phone, f"{url}{path}?lang={locale}", out / f"customer-page-{suffix}.png")
        quantity = phone.locator("#request-form input[name^=qty-]").first
        if quantity.count():
            quantity.fill("1")
            phone.locator("#preview-result").wait_for()
            phone.locator("#request").scroll_into_view_if_needed()
            target = out / f"customer-return-{suffix}.png"
            phone.screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
    phone.close()


def _repeat_buyer(page: Page) -> str | None:
    """The link of the first customer listed with two orders paid or more (a fuller timeline)."""
    rows = page.locator("#customers tbody tr")
    for n in range(rows.count()):
        paid = rows.nth(n).locator("td").nth(3).inner_text().strip()
        if paid.isdigit() and int(paid) >= 2:
            return rows.nth(n).locator("a").first.get_attribute("href")
    return page.locator("#customers tbody a").first.get_attribute("href")


def _listing(page: Page, url: str) -> str:
    """The page of the demo's draft listing with banned words highlighted (CAT-4), else of the
    first SKU's product."""
    for sku in ("SF-DRAFT-01", "SF-001-01"):
        page.goto(f"{url}/catalog/{sku}")
        link = page.locator("#sku-product a")
        if link.count():
            return link.first.get_attribute("href") or "/catalog"
    return "/catalog"


def _coupon(page: Page, url: str) -> str:
    """The page of the demo's spring promotion (its uses, a cancelled order's released), else of
    the first coupon listed."""
    page.goto(f"{url}/coupons")
    for link in (page.locator("#coupon-SPRING15 a"), page.locator("#coupons tbody a")):
        if link.count():
            return link.first.get_attribute("href") or "/coupons"
    return "/coupons"


def _member(page: Page, url: str, customer: str | None) -> str:
    """The points page of the repeat buyer photographed (their completed orders earned points),
    else of the first customer listed with entries in their ledger."""
    page.goto(f"{url}/customers")
    listed = page.locator("#customers tbody td:first-child a")
    links = [customer] + [listed.nth(n).get_attribute("href") for n in range(listed.count())]
    for link in filter(None, links):
        page.goto(f"{url}{link}/points")
        if page.locator("#ledger tbody tr[id^=entry-]").count():
            return f"{link}/points"
    return "/customers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, help="demo orders to place (default: as `make run`)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="only these pages of the console (e.g. customers funnel)"
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with demo_server(args.orders) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(f"{url}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button:has-text('登录')")
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/orders?status=paid")
        first = page.locator("#orders-live tbody a").first.get_attribute("href")
        page.goto(f"{url}/notifications/deliveries")
        delivery = page.locator("#deliveries-live tbody a").first.get_attribute("href")
        page.goto(f"{url}/fulfillment")
        wave = page.locator("#waves tbody a").first.get_attribute("href") or "/fulfillment"
        page.goto(f"{url}{wave}")
        task = page.locator("#tasks tr:has(.s-checked) a").first.get_attribute("href")
        page.goto(f"{url}/fulfillment/exceptions")
        shipment = page.locator("#exceptions tbody td:nth-child(3) a").first.get_attribute("href")
        page.goto(f"{url}/aftersales")
        case = page.locator("#cases tbody td:first-child a").first.get_attribute("href")
        page.goto(f"{url}{case or '/aftersales'}")
        case_order = page.locator("a[href^='/orders/']").first.get_attribute("href") or first
        page.goto(f"{url}{case_order}")
        customer_link = page.locator("#customer-page-link").get_attribute("href")
        page.goto(f"{url}/leads")
        lead = page.locator("#leads tr.late a").first.get_attribute("href")
        page.goto(f"{url}/customers")
        customer = _repeat_buyer(page)
        member = _member(page, url, customer)
        page.goto(f"{url}/tickets?view=all")
        ticket = page.locator("table.tickets tbody tr.late a").first.get_attribute("href")
        page.goto(f"{url}/kb")
        article = page.locator("#articles tbody a").first.get_attribute("href")
        product = _listing(page, url)
        coupon = _coupon(page, url)
        page.goto(f"{url}/risk")
        review = page.locator("#risk-queue tbody a").first.get_attribute("href") or "/risk"
        purchase_order = _first_link(page, url, "/purchase-orders", r"/purchase-orders/\d+")
        count = _first_link(page, url, "/counts", r"/counts/\d+")
        transfer = _first_link(page, url, "/transfers", r"/transfers/\d+")
        page.goto(f"{url}/campaigns")
        running = page.locator("#campaigns tbody tr:has-text('春季焕新') a")  # the demo's running one
        campaign = running.first.get_attribute("href") or "/campaigns"
        page.goto(f"{url}/quotes")
        quote = page.locator("#quotes tbody a").first.get_attribute("href")
        page.goto(f"{url}/quotes?state=accepted")
        accepted = page.locator("#quotes tbody a").first.get_attribute("href") or "/quotes"
        page.goto(f"{url}{accepted}")
        contract = page.locator("#quote-contract").first.get_attribute("href")
        today = clock.today()
        week = (today - timedelta(days=6)).isoformat(), today.isoformat()  # the last 7 days and the 7 before
        for locale, suffix in LOCALES.items():
            page.goto(f"{url}/")  # a page with the language switch (the printable contract has none)
            page.click(f"button[name=locale][value={locale}]")
            pages = {
                "today": "/",
                "dashboard": f"/dashboard?from={week[0]}&to={week[1]}",
                "definitions": "/dashboard/definitions",
                "orders": "/orders",
                "order": first or "/orders",
                "inventory": "/inventory",
                "low-stock": "/inventory?low=true",
                "replenishment": "/replenishment",
                "purchase-orders": "/purchase-orders",
                "purchase-order": purchase_order,
                "counts": "/counts",
                "count": count,
                "count-sheet": f"{count}/sheet",
                "transfers": "/transfers",
                "transfer": transfer,
                "alerts": "/alerts",
                "deliveries": "/notifications/deliveries",
                "delivery": delivery or "/notifications/deliveries",
                "webhooks": "/webhooks",
                "waves": "/fulfillment",
                "wave": wave,
                "pick-task": task or wave,
                "shipments": "/fulfillment/shipments",
                "shipment": shipment or "/fulfillment/shipments",
                "exceptions": "/fulfillment/exceptions",
                "carriers": "/fulfillment/carriers",
                "carrier-rules": "/fulfillment/carrier-rules?province=广东&weight_g=1200&order_value=199.00",
                "scorecards": "/fulfillment/scorecards",
                "catalog": "/catalog",
                "sku": "/catalog/SF-001-01",
                "product": product,
                "coupons": "/coupons",
                "coupon": coupon,
                "price-rules": "/price-rules",
                "price-calendar": "/price-rules/calendar",
                "campaigns": "/campaigns",
                "campaign": campaign,
                "receipts": "/payments/receipts",
                "aftersales": "/aftersales",
                "case": case or "/aftersales",
                "leads": "/leads",
                "lead": lead or "/leads",
                "customers": "/customers",
                "customer": customer or "/customers",
                "points": member,
                "privacy": (customer or "/customers") + "/privacy",
                "risk": "/risk",
                "risk-review": review,
                "risk-rules": "/risk/rules",
                "risk-blocklist": "/risk/blocklist",
                "funnel": "/funnel?period=week",
                "tickets": "/tickets?view=all",
                "ticket": ticket or "/tickets",
                "tickets-board": "/tickets/board",
                "kb": "/kb?q=运费",
                "kb-article": article or "/kb",
                "quotes": "/quotes",
                "quote": quote or "/quotes",
                "contract": contract or "/quotes",
                "staff": "/staff",
                "personal-data-reads": "/personal-data-reads",
            }
            for name, path in pages.items():
                if args.only is None or name in args.only:
                    _shoot(page, f"{url}{path}", args.out / f"{name}-{suffix}.png")
            if args.only is not None and "receipt-error" not in args.only:
                continue
            page.goto(f"{url}/inventory/receipts")
            page.select_option("select[name=warehouse]", "SH01")
            page.fill("input[name=reference]", "PO-2026-1123")
            page.fill("input[name='lines[0].sku']", "SF-001-01")
            page.fill("input[name='lines[0].quantity']", "120")
            page.fill("input[name='lines[1].sku']", "SF-999-99")
            page.fill("input[name='lines[1].quantity']", "ten")
            page.click("#receipt-form button")
            page.wait_for_load_state("networkidle")
            target = args.out / f"receipt-error-{suffix}.png"
            page.screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
        if customer_link and (args.only is None or "customer-page" in args.only):
            _customer_pages(browser, url, customer_link, args.out)
        browser.close()
    names = sorted(p.name for p in args.out.glob("*.png") if re.fullmatch(r"[a-z-]+-(zh|en)\.png", p.name))
    print(f"{len(names)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
