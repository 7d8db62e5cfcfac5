"""Screenshots of the console's main pages in both languages, into docs/screenshots/ (`make screenshots`).

Builds a demo store in a temporary SQLite database (`shopflow migrate`, `demo`, one worker round
so that late clocks have raised their alerts), serves it with `shopflow serve`, gives it carriers and
a day's fulfillment through the API (waves, parcels packed, checked and shipped, tracking events with
a damaged parcel), and photographs
each page with Playwright driving Debian's Chromium (/usr/bin/chromium), signed in as the demo
admin. No network is used beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
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
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from shopflow.cli import DEMO_PASSWORD
from shopflow.fulfillment.service.tracking import SIGNATURE_HEADER, sign

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
CARRIERS = (
    ("SF", "顺丰速运", "https://www.sf-express.com/chn/sc/waybill/list?no={tracking_no}", "12.00", "2.00"),
    ("YTO", "圆通速递", "https://www.yto.net.cn/query?no={tracking_no}", "8.00", "1.50"),
)
# What the carrier reports of the shipped parcels, in turn (minutes after shipping, event).
TRACKS = (
    ((30, "picked_up"), (300, "at_hub"), (900, "out_for_delivery"), (960, "delivered")),
    ((30, "picked_up"), (240, "in_transit"), (420, "damaged")),
    ((45, "picked_up"), (360, "exception")),
    ((20, "picked_up"), (200, "in_transit")),
)


def _shopflow(*args: str, env: dict[str, str]) -> str:
    command = shutil.which("shopflow", path=str(Path(sys.executable).parent)) or "shopflow"
    done = subprocess.run([command, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo_server(orders: int) -> Iterator[str]:
    """A served demo store; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="shopflow-shots-") as tmp:
        env = {
            **os.environ,
            "SHOPFLOW_DATABASE_URL": f"sqlite:///{tmp}/demo.db",
            "SHOPFLOW_DATA_DIR": f"{tmp}/data",
        }
        env.pop("SHOPFLOW_POLICY_FILE", None)
        _shopflow("migrate", env=env)
        token = _shopflow("demo", "--orders", str(orders), env=env).split()[-1]
        _shopflow("worker", "--once", env=env)
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
            _fulfillment(url, token)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)


def _fulfillment(url: str, token: str) -> None:
    """Carriers with their rules, waves of paid orders, parcels at every step (packed, checked,
    shipped) and tracking events pushed by the carrier, one parcel damaged and one in trouble."""
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        secrets = {}
        for code, name, tracking_url, base_fee, per_kg_fee in CARRIERS:
            body = {"code": code, "name": name, "tracking_url": tracking_url}
            created = api.post("/carriers", json={**body, "base_fee": base_fee, "per_kg_fee": per_kg_fee})
            secrets[code] = created.raise_for_status().json()["push_secret"]
        api.post(
            "/carrier-rules", json={"carrier": "SF", "priority": 10, "province": "上海"}
        ).raise_for_status()
        api.post("/carrier-rules", json={"carrier": "YTO", "priority": 100}).raise_for_status()
        waves = api.post("/waves", json={"max_orders": 12}).raise_for_status().json()
        # The newest wave first, as the list shows it: its first parcel checked, its second packed.
        newest = sorted(waves, key=lambda wave: -wave["id"])
        tasks = [task for wave in newest for task in api.get(f"/waves/{wave['id']}").json()["tasks"]]
        for n, task in enumerate(tasks[: 2 + len(TRACKS)]):
            steps = f"/pick-tasks/{task['id']}"
            api.post(
                f"{steps}/pack", json={"weight_g": 650 + 240 * n, "materials": ["纸箱 M"]}
            ).raise_for_status()
            if n == 1:
                continue
            api.post(f"{steps}/check", json={"passed": True}).raise_for_status()
            if n == 0:
                continue
            shipment = api.post(f"{steps}/ship", json={}).raise_for_status().json()
            shipped = datetime.fromisoformat(shipment["shipped_at"])
            events = [
                {
                    "waybill": shipment["tracking_no"],
                    "status": status,
                    "time": (shipped + timedelta(minutes=minutes)).isoformat(),
                }
                for minutes, status in TRACKS[n - 2]
            ]
            body = json.dumps({"events": events}).encode()
            signature = sign(body, secrets[shipment["carrier"]])
            headers = {"content-type": "application/json", SIGNATURE_HEADER: signature}
            api.post(
                f"/carriers/{shipment['carrier']}/events", content=body, headers=headers
            ).raise_for_status()


def _shoot(page: Page, url: str, target: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300, help="demo orders to place")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
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
        for locale, suffix in LOCALES.items():
            page.click(f"button[name=locale][value={locale}]")
            pages = {
                "today": "/",
                "orders": "/orders",
                "order": first or "/orders",
                "inventory": "/inventory",
                "low-stock": "/inventory?low=true",
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
                "receipts": "/payments/receipts",
            }
            for name, path in pages.items():
                _shoot(page, f"{url}{path}", args.out / f"{name}-{suffix}.png")
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
        browser.close()
    names = sorted(p.name for p in args.out.glob("*.png") if re.fullmatch(r"[a-z-]+-(zh|en)\.png", p.name))
    print(f"{len(names)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
