"""Flash sale: N buyers race for 100 units with a coupon good for 100 uses, through the real server.

    .venv/bin/python bench/flash_sale.py [--buyers 10000 --units 100 --clients 64 --workers 2 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_flash]

The database named by --database-url is WIPED (created first when missing), once for each run.

The store: one warehouse, one published SKU (199.00) with --units units on hand, and a coupon
(fixed 20.00 off, `limit_total` = --units, `limit_per_customer` 1) created by `POST /coupons`.
`shopflow serve --workers W` in a subprocess, with the policy file (SHOPFLOW_POLICY_FILE)

    [orders]
    on_shortage = "reject"

for both runs, so that no order short of stock is stored on hold: an order either is confirmed
with its unit reserved (201) or nothing of it is stored (409 out of stock, 422 coupon).
Each of --buyers buyers (a distinct phone) posts one order of 1 unit, as fast as C clients (the
light raw asyncio keep-alive client of bench/order_intake.py) allow, until every buyer has had
an answer. Before the clock starts, every client sends a few orders for an unknown SKU (422,
nothing stored) so that the server's processes, connections and routes are warm.

Two runs, each on a freshly wiped database and a new server:
  baseline  the same sale without the coupon: the 101st order on gets 409 (out of stock);
  coupon    every order names the coupon: one use reserved by a conditional UPDATE of the
            coupon's row in the order's transaction; past 100 uses, 422 (field coupon,
            limit reached), nothing stored.
Printed for each: accepted (201) count, refused counts by status and reason, any other status
(there must be no 5xx), requests/s over the whole sale, the time until the last unit was sold,
p50/p99 latency of accepted and of refused requests; then the ratio of the two runs'
requests/s (coupon/baseline).
Checked in the database after each run (the script exits 1 if any check fails): exactly --units
orders, all confirmed, and as many 201 answers; the stock row's reserved = on_hand = --units
(on_hand - reserved = 0) and never negative while the sale ran (sampled every 20 ms); active
reservations add up to --units; for the coupon run also coupon.used = --units = its coupon_uses
rows, one use per buyer (no buyer with two uses, no allowance above 1), and each order's discount
= its use's = the sum of its lines' discounts = 20.00; for the baseline no coupon use.
Nothing is pinned: the server, PostgreSQL and this client share the machine's cores; the cores each
used during the sale and their CPU per request are printed as in bench/order_intake.py (a busy
neighbour makes the figures of that run worth little: the machine's load is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from common import ADDRESS, CUSTOMER, fresh_database, run
from order_intake import (
    CpuSnapshot,
    CpuUse,
    HttpConnection,
    _free_port,
    cpu_use,
    foreign_backends,
    start_server,
    stop_server,
)

from shopflow.catalog import service as catalog
from shopflow.catalog.models import PriceBand
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import access, auth, money, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_flash"
POLICY = '[orders]\non_shortage = "reject"\n'
SKU = "FLASH-1"
PRICE = 19900  # fen
COUPON = "FLASH20"
COUPON_OFF = 2000  # fen
WARM_UP_PER_CLIENT = 3


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] * 1000 if ordered else float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- the store ----------------------------------------------------------------------------------


async def _populate(url: str, units: int) -> str:
    """The sale's warehouse, SKU and stock, and an admin's token."""
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            data = WarehouseIn(code="FW-1", name="仓库 FW-1", province="上海", priority=1)
            await inventory.create_warehouse(session, SYSTEM, data)
            sku = SkuIn(
                code=SKU,
                name="秒杀商品",
                price=money.fmt(PRICE),
                cost=money.fmt(PRICE // 2),
                weight_g=500,
                price_band=PriceBand.PROFIT,
            )
            await catalog.create_product(session, SYSTEM, ProductIn(name="秒杀商品组", skus=[sku]))
            lines = [ReceiptLineIn(sku=SKU, quantity=units)]
            await inventory.receive(
                session, SYSTEM, ReceiptIn(warehouse="FW-1", reference="flash", lines=lines)
            )
            await auth.add_user(session, SYSTEM, "bench-admin", auth.Role.ADMIN)
            return await access.create_token(session, SYSTEM, "bench-admin", "bench")
    finally:
        await db.dispose()


def create_coupon(port: int, token: str, units: int) -> None:
    reply = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/coupons",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "code": COUPON,
            "name": "flash sale",
            "kind": "fixed",
            "value": money.fmt(COUPON_OFF),
            "limit_total": units,
            "limit_per_customer": 1,
        },
        timeout=30,
    )
    if reply.status_code != 201:
        raise SystemExit(f"could not create the coupon: HTTP {reply.status_code} {reply.text[:300]}")


def order_body(buyer: int, coupon: bool, sku: str = SKU) -> bytes:
    """Buyer `buyer`'s order of 1 unit (its own phone), naming the coupon if `coupon`."""
    phone = f"139{buyer:08d}"
    customer = {**CUSTOMER, "name": f"买家{buyer}", "phone": phone, "email": f"buyer{buyer}@example.cn"}
    body: dict[str, object] = {
        "channel": "web",
        "customer": customer,
        "shipping_address": {**ADDRESS, "name": customer["name"], "phone": phone},
        "lines": [{"sku": sku, "quantity": 1, "unit_price": money.fmt(PRICE)}],
    }
    if coupon:
        body["coupons"] = [COUPON]
    return json.dumps(body, ensure_ascii=False).encode()


# --- the sale -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Sale:
    """What the buyers were answered."""

    seconds: float = 0.0  # from the first request to the last answer
    sold_out_after: float = float("nan")  # seconds until the last unit's 201
    statuses: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # refusals: "409 out_of_stock: ..."
    accepted: list[float] = field(default_factory=list)  # latencies, seconds
    refused: list[float] = field(default_factory=list)
    not_confirmed: int = 0  # 201 but not confirmed (held): must not happen with on_shortage reject
    connection_errors: int = 0
    errors: list[str] = field(default_factory=list)  # the first connection errors and unexpected answers
    min_available: int | None = None  # the lowest on_hand - reserved sampled during the sale
    samples: int = 0
    cpu: CpuUse | None = None  # the cores used during the sale

    @property
    def rate(self) -> float:
        return sum(self.statuses.values()) / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def other(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (201, 409, 422))


def _reason(status: int, body: bytes) -> str:
    try:
        problem = json.loads(body)
    except ValueError:
        return f"{status} {body[:120]!r}"
    fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in problem.get("errors") or [])
    return f"{status} {problem.get('code')}: {fields or problem.get('detail')}"


async def _watch_stock(url: str, sale: Sale, done: asyncio.Event) -> None:
    conn = await asyncpg.connect(url)
    try:
        while not done.is_set():
            available = await conn.fetchval(
                "SELECT min(on_hand - reserved) FROM stock s JOIN skus k ON k.id = s.sku_id"
                " WHERE k.code = $1",
                SKU,
            )
            sale.samples += 1
            if available is not None and (sale.min_available is None or available < sale.min_available):
                sale.min_available = available
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.02)
    finally:
        await conn.close()


async def flash_sale(
    url: str, port: int, token: str, buyers: int, units: int, clients: int, coupon: bool, server: int
) -> Sale:
    loop = asyncio.get_running_loop()
    head = (
        f"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()

    def request(body: bytes) -> bytes:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    requests = [request(order_body(n, coupon)) for n in range(buyers)]
    random.Random(17).shuffle(requests)
    connections: list[HttpConnection] = []
    for _ in range(clients):
        _, protocol = await loop.create_connection(HttpConnection, "127.0.0.1", port)
        connections.append(protocol)
    # Warm-up: orders for an unknown SKU, refused (422) before anything is stored.
    unknown = request(order_body(buyers, coupon, sku="NO-SUCH-SKU"))
    for _ in range(WARM_UP_PER_CLIENT):
        answers = await asyncio.gather(*(c.request(unknown) for c in connections))
        if any(status != 422 for status, _ in answers):
            raise SystemExit(f"warm-up: unexpected answer {answers[0][0]} {answers[0][1][:300]!r}")

    sale = Sale()
    queue = iter(requests)
    done = asyncio.Event()
    sales: list[float] = []  # when each 201 arrived

    async def buyer_loop(i: int) -> None:
        for data in queue:
            began = time.perf_counter()
            try:
                status, body = await connections[i].request(data)
            except ConnectionError as exc:
                sale.connection_errors += 1
                if len(sale.errors) < 5:
                    sale.errors.append(str(exc))
                _, connections[i] = await loop.create_connection(HttpConnection, "127.0.0.1", port)
                continue
            ended = time.perf_counter()
            sale.statuses[status] += 1
            if status == 201:
                sale.accepted.append(ended - began)
                sales.append(ended - start)
                if b'"status":"confirmed"' not in body:
                    sale.not_confirmed += 1
            elif status in (409, 422):
                sale.refused.append(ended - began)
                sale.reasons[_reason(status, body)] += 1
            else:
                sale.reasons[_reason(status, body)] += 1
                if len(sale.errors) < 5:
                    sale.errors.append(f"HTTP {status}: {body[:300]!r}")

    watcher = asyncio.create_task(_watch_stock(url, sale, done))
    before = CpuSnapshot.take()
    start = time.perf_counter()
    await asyncio.gather(*(buyer_loop(i) for i in range(clients)))
    sale.seconds = time.perf_counter() - start
    after = CpuSnapshot.take()
    done.set()
    await watcher
    sale.cpu = cpu_use(before, after, server, await foreign_backends(url))
    if len(sales) >= units:
        sale.sold_out_after = sorted(sales)[units - 1]
    for protocol in connections:
        if protocol.transport is not None:
            protocol.transport.close()
    return sale


# --- the checks -----------------------------------------------------------------------------------


async def check(url: str, units: int, sale: Sale, coupon: bool) -> dict[str, tuple[object, bool]]:
    """Each check's name -> (what was found, whether it holds)."""
    conn = await asyncpg.connect(url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders")
        confirmed = await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'confirmed'")
        on_hand, reserved = await conn.fetchrow(
            "SELECT on_hand, reserved FROM stock s JOIN skus k ON k.id = s.sku_id WHERE k.code = $1", SKU
        )
        reservations = await conn.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE state = 'active'"
        )
        uses = await conn.fetchval("SELECT count(*) FROM coupon_uses")
        found: dict[str, tuple[object, bool]] = {
            "orders": (orders, orders == units),
            "confirmed orders": (confirmed, confirmed == units),
            "201 answers": (sale.statuses[201], sale.statuses[201] == units),
            "held (201 not confirmed)": (sale.not_confirmed, sale.not_confirmed == 0),
            "5xx": (sale.server_errors, sale.server_errors == 0),
            "other statuses": (sale.other, sale.other == 0),
            "connection errors": (sale.connection_errors, sale.connection_errors == 0),
            "on_hand": (on_hand, on_hand == units),
            "reserved": (reserved, reserved == units),
            "on_hand - reserved": (on_hand - reserved, on_hand - reserved == 0),
            "lowest on_hand - reserved sampled": (
                f"{sale.min_available} ({sale.samples} samples)",
                sale.min_available is not None and sale.min_available >= 0,
            ),
            "active reservations": (reservations, reservations == units),
        }
        if not coupon:
            found["coupon uses"] = (uses, uses == 0)
            return found
        used = await conn.fetchval("SELECT used FROM coupons WHERE code = $1", COUPON)
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT buyer FROM coupon_uses GROUP BY buyer HAVING count(*) > 1) b"
        )
        buyers = await conn.fetchval("SELECT count(DISTINCT buyer) FROM coupon_uses")
        allowance = await conn.fetchval("SELECT coalesce(max(used), 0) FROM coupon_allowances")
        allowances = await conn.fetchval("SELECT coalesce(sum(used), 0) FROM coupon_allowances")
        off = await conn.fetchval(
            "SELECT count(*) FROM orders o LEFT JOIN coupon_uses u ON u.order_id = o.id"
            " WHERE u.id IS NULL OR u.discount <> o.discount OR o.discount <> $1 OR o.discount <>"
            " (SELECT coalesce(sum(l.discount), 0) FROM order_lines l WHERE l.order_id = o.id)",
            COUPON_OFF,
        )
        found |= {
            "coupon.used": (used, used == units),
            "coupon_uses rows": (uses, uses == units),
            "buyers with two uses": (twice, twice == 0),
            "distinct buyers with a use": (buyers, buyers == units),
            "highest allowance used": (allowance, allowance <= 1),
            "allowances used": (allowances, allowances == units),
            "orders whose discount is not its use's = its lines' = 20.00": (off, off == 0),
        }
    finally:
        await conn.close()
    return found


# --- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    sale: Sale
    checks: dict[str, tuple[object, bool]]
    load: tuple[str, str]  # the machine's load average before and after

    @property
    def ok(self) -> bool:
        return all(holds for _, holds in self.checks.values())


def sale_run(args: argparse.Namespace, coupon: bool, data_dir: Path) -> Run:
    label = "coupon" if coupon else "baseline (no coupon)"
    url: str = args.database_url
    before = load_average()
    policy.install(policy.Policy())
    fresh_database(url)
    token = run(_populate(url, args.units))
    port = _free_port()
    server = start_server(url, port, args.workers, data_dir)
    try:
        # Every process up, so that the buyers race in all of them from the first request.
        deadline = time.monotonic() + 60
        while (data_dir / "server.log").read_text(errors="replace").count(
            "Application startup complete"
        ) < args.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        if coupon:
            create_coupon(port, token, args.units)
        sale = run(flash_sale(url, port, token, args.buyers, args.units, args.clients, coupon, server.pid))
    finally:
        stop_server(server)
    if sale.errors:
        print("server log (end):\n" + (data_dir / "server.log").read_text(errors="replace")[-3000:])
    checks = run(check(url, args.units, sale, coupon))
    return Run(label, sale, checks, (before, load_average()))


def describe(r: Run, buyers: int, units: int) -> list[str]:
    s = r.sale
    lines = [
        f"{r.label}: {buyers} buyers, {units} units: accepted (201) {s.statuses[201]}, refused "
        f"{sum(n for status, n in s.statuses.items() if status in (409, 422))}, other statuses "
        f"{s.other} (5xx {s.server_errors}), connection errors {s.connection_errors}",
    ]
    lines += [f"  {n} x {reason}" for reason, n in s.reasons.most_common()]
    lines += [
        f"  {s.rate:.0f} requests/s ({buyers} in {s.seconds:.2f} s); the {units}th sale after "
        f"{s.sold_out_after:.2f} s",
        f"  latency accepted p50 {_percentile(s.accepted, 0.5):.1f} ms"
        f" p99 {_percentile(s.accepted, 0.99):.1f} ms;"
        f" refused p50 {_percentile(s.refused, 0.5):.1f} ms p99 {_percentile(s.refused, 0.99):.1f} ms",
        f"  load average before {r.load[0]}, after {r.load[1]} ({os.cpu_count()} cores)",
        f"  {s.cpu.describe(sum(s.statuses.values())).replace('per order', 'per request')}" if s.cpu else "",
        "  checks: "
        + ", ".join(
            f"{name} {value}{'' if holds else ' FAILED'}" for name, (value, holds) in r.checks.items()
        ),
    ]
    lines += [f"  error: {e}" for e in s.errors[:5]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--buyers", type=int, default=10_000, help="buyers, one order each (distinct phones)")
    parser.add_argument("--units", type=int, default=100, help="units on sale, and the coupon's uses")
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    args = parser.parse_args()
    if not str(args.database_url).startswith(("postgresql://", "postgres://")):
        raise SystemExit("the benchmark needs PostgreSQL: --database-url postgresql://...")
    if args.buyers >= 10**8:
        raise SystemExit("at most 99,999,999 buyers (their phones are 139 and 8 digits)")

    runs = []
    with tempfile.TemporaryDirectory(prefix="shopflow-flash-") as data_dir:
        policy_file = Path(data_dir) / "policy.toml"
        policy_file.write_text(POLICY, encoding="utf-8")
        os.environ["SHOPFLOW_POLICY_FILE"] = str(policy_file)
        for coupon in (False, True):
            runs.append(sale_run(args, coupon, Path(data_dir)))
            print("\n".join(describe(runs[-1], args.buyers, args.units)), flush=True)
    baseline, coupon_run = runs
    b, c = baseline.sale, coupon_run.sale
    print(
        f"baseline: {b.rate:.0f} requests/s, sold out after {b.sold_out_after:.2f} s | coupon: "
        f"{c.rate:.0f} requests/s, sold out after {c.sold_out_after:.2f} s | ratio coupon/baseline "
        f"{c.rate / b.rate:.2f} | checks {'passed' if baseline.ok and coupon_run.ok else 'FAILED'}"
    )
    if not (baseline.ok and coupon_run.ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
