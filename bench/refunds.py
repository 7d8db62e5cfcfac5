"""Refund ledger (PAY-3): refund requests per second through the real HTTP server, and the ratio to
the same ledger writes by raw SQL.

    .venv/bin/python bench/refunds.py [--requests 10000 --clients 32 --payments 2000 --workers 2 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.

Store: 2 x P orders of one 100.00 SKU placed through the intake service, each with a captured
(succeeded) payment of 100.00; the first P serve the HTTP run, the others the raw SQL run.
HTTP: `shopflow serve --workers W` in a subprocess; C httpx clients share N requests
`POST /api/v1/payments/{id}/refunds` (a random payment, a random 1.00-30.00, a fresh
Idempotency-Key), each answered 201 (reserved and handed to the sandbox gateway) or 409 (more
than the payment can still refund). Baseline: the same ledger writes by raw SQL (asyncpg, no
HTTP, no ORM): insert the refund row, one conditional UPDATE reserving its amount on the payment,
mark it pending with its reference, 2 audit rows and the outbox row, in one transaction.
After both runs every payment is checked: refunds that hold money (requested, pending,
succeeded) add up to at most its capture, and to its reserved total.
Nothing is pinned; a busy machine makes the figures worth little (the cores used are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from common import ADDRESS, CUSTOMER, fresh_database, run
from cryptography.fernet import Fernet
from order_intake import CpuSnapshot, _free_port, cpu_use, foreign_backends, start_server, stop_server
from sqlalchemy import insert

from shopflow import wiring
from shopflow.catalog import service as catalog
from shopflow.catalog.models import PriceBand
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import access, auth, clock, crypto, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake
from shopflow.payments import sandbox
from shopflow.payments.models import Payment, PaymentStatus

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench"
SKU = "REFUND-100"
PRICE = 10000  # fen: 100.00, free shipping, so each payment captures exactly 100.00
ORDERS_PER_TRANSACTION = 200


@dataclass(frozen=True, slots=True)
class Store:
    token: str
    http_payments: list[int]
    raw_payments: list[int]


async def _populate(url: str, payments: int) -> Store:
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            await inventory.create_warehouse(
                session, SYSTEM, WarehouseIn(code="BW-1", name="仓库 BW-1", province="上海", priority=1)
            )
            sku = SkuIn(
                code=SKU,
                name="退款商品",
                price="100.00",
                cost="50.00",
                weight_g=500,
                price_band=PriceBand.PROFIT,
            )
            await catalog.create_product(session, SYSTEM, ProductIn(name="退款商品", skus=[sku]))
            lines = [ReceiptLineIn(sku=SKU, quantity=2 * payments + 10)]
            await inventory.receive(
                session, SYSTEM, ReceiptIn(warehouse="BW-1", reference="bench", lines=lines)
            )
            await auth.add_user(session, SYSTEM, "bench-admin", auth.Role.ADMIN)
            token = await access.create_token(session, SYSTEM, "bench-admin", "bench")
        data = OrderIn.model_validate(
            {
                "channel": "web",
                "customer": CUSTOMER,
                "shipping_address": ADDRESS,
                "lines": [{"sku": SKU, "quantity": 1, "unit_price": "100.00"}],
            }
        )
        ids: list[int] = []
        for start in range(0, 2 * payments, ORDERS_PER_TRANSACTION):
            async with db.transaction() as session:
                at = clock.now()
                orders = [
                    (await intake.place_order(session, SYSTEM, data, None)).order
                    for _ in range(min(ORDERS_PER_TRANSACTION, 2 * payments - start))
                ]
                rows = [
                    {
                        "order_id": order.id,
                        "provider": sandbox.PROVIDER,
                        "method": "alipay",
                        "amount": order.total,
                        "status": PaymentStatus.SUCCEEDED,
                        "created_at": at,
                        "updated_at": at,
                        "refund_reserved": 0,
                    }
                    for order in orders
                ]
                found = await session.execute(insert(Payment).returning(Payment.id), rows)
                ids.extend(found.scalars().all())
    finally:
        await db.dispose()
    return Store(token=token, http_payments=ids[:payments], raw_payments=ids[payments:])


def prepare(url: str, payments: int) -> Store:
    policy.install(policy.Policy())
    fresh_database(url)
    return run(_populate(url, payments))


@dataclass(slots=True)
class Tally:
    accepted: int = 0  # reserved and pending at the gateway
    refused: int = 0  # 409: more than the payment can still refund
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(q * (len(ordered) - 1))] * 1000 if ordered else float("nan")


@dataclass(frozen=True, slots=True)
class Ask:
    payment_id: int
    amount: int  # fen
    key: str


def asks(payments: list[int], count: int, rng: random.Random) -> list[Ask]:
    return [
        Ask(rng.choice(payments), rng.randrange(100, 3001), f"bench-{n}-{secrets.token_hex(4)}")
        for n in range(count)
    ]


async def _share(requests: list[Ask], clients: int, one: Callable[[Ask], Awaitable[None]]) -> None:
    """`clients` loops taking the requests in turn until none is left."""
    queue: asyncio.Queue[Ask] = asyncio.Queue()
    for ask in requests:
        queue.put_nowait(ask)

    async def loop() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    await asyncio.gather(*(loop() for _ in range(clients)))


async def http_load(port: int, token: str, requests: list[Ask], clients: int) -> tuple[Tally, float]:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:

        async def one(ask: Ask) -> None:
            began = time.perf_counter()
            body = {"amount": f"{ask.amount / 100:.2f}", "reason": "bench"}
            try:
                reply = await client.post(
                    f"/api/v1/payments/{ask.payment_id}/refunds",
                    json=body,
                    headers={**headers, "Idempotency-Key": ask.key},
                )
            except httpx.HTTPError as exc:
                tally.error(repr(exc))
                return
            tally.latencies.append(time.perf_counter() - began)
            if reply.status_code == 201:
                tally.accepted += 1
            elif reply.status_code == 409 and reply.json().get("code") == "not_refundable":
                tally.refused += 1
            else:
                tally.error(f"{reply.status_code} {reply.text[:300]}")

        began = time.perf_counter()
        await _share(requests, clients, one)
    return tally, time.perf_counter() - began


RESERVE = (
    "UPDATE payments SET refund_reserved = refund_reserved + $2"
    " WHERE id = $1 AND status = 'succeeded' AND amount - refund_reserved >= $2"
)
INSERT_REFUND = (
    "INSERT INTO refunds (payment_id, order_id, amount, status, idempotency_key, reason,"
    " requested_at, updated_at) SELECT id, order_id, $2, 'requested', $3, 'bench', now(), now()"
    " FROM payments WHERE id = $1 ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)
SUBMITTED = "UPDATE refunds SET status = 'pending', provider_reference = $2, updated_at = now() WHERE id = $1"
AUDIT = (
    "INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after)"
    " VALUES (now(), NULL, 'bench', 'refund.requested', 'refund', $1, NULL, $2::jsonb),"
    " (now(), NULL, 'bench', 'refund.submitted', 'refund', $1, $3::jsonb, $2::jsonb)"
)
OUTBOX = (
    "INSERT INTO outbox (event, subject, payload, created_at, available_at, attempts)"
    " VALUES ('payment.refund_requested', $1, $2::jsonb, now(), now(), 0)"
)


async def raw_load(url: str, requests: list[Ask], connections: int) -> tuple[Tally, float]:
    tally = Tally()
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    try:

        async def one(ask: Ask) -> None:
            began = time.perf_counter()
            try:
                async with pool.acquire() as conn, conn.transaction():
                    refund_id = await conn.fetchval(INSERT_REFUND, ask.payment_id, ask.amount, ask.key)
                    if await conn.execute(RESERVE, ask.payment_id, ask.amount) == "UPDATE 0":
                        raise LookupError
                    await conn.execute(SUBMITTED, refund_id, sandbox.refund_reference(ask.key))
                    after = json.dumps({"status": "pending", "amount": ask.amount})
                    await conn.execute(AUDIT, str(refund_id), after, json.dumps({"status": "requested"}))
                    await conn.execute(
                        OUTBOX, f"payment:{ask.payment_id}", json.dumps({"refund_id": refund_id})
                    )
            except LookupError:
                tally.refused += 1
            except asyncpg.PostgresError as exc:
                tally.error(repr(exc))
                return
            else:
                tally.accepted += 1
            tally.latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await _share(requests, connections, one)
    finally:
        await pool.close()
    return tally, time.perf_counter() - began


@dataclass(frozen=True, slots=True)
class Checks:
    payments: int
    over_refunded: int  # refunds holding money beyond the capture
    unmatched: int  # reserved total != the ledger's sum

    @property
    def ok(self) -> bool:
        return self.over_refunded == 0 and self.unmatched == 0


async def check(url: str) -> Checks:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS payments,"
            " count(*) FILTER (WHERE held > captured) AS over_refunded,"
            " count(*) FILTER (WHERE held <> refund_reserved) AS unmatched"
            " FROM (SELECT p.id, p.refund_reserved,"
            "   CASE WHEN p.status = 'succeeded' THEN p.amount ELSE 0 END AS captured,"
            "   coalesce(sum(r.amount) FILTER (WHERE r.status IN ('requested', 'pending', 'succeeded')), 0)"
            "     AS held"
            "  FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id GROUP BY p.id) per_payment"
        )
    finally:
        await conn.close()
    return Checks(row["payments"], row["over_refunded"], row["unmatched"])


def _describe(label: str, tally: Tally, seconds: float) -> str:
    done = tally.accepted + tally.refused
    return (
        f"{label}: {done / seconds:.0f} refunds/s ({tally.accepted} accepted, {tally.refused} refused as "
        f"over the capture) p50 {tally.percentile(0.5):.1f} ms p99 {tally.percentile(0.99):.1f} ms "
        f"errors {tally.errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="refund requests of each run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--payments", type=int, default=2_000, help="captured payments refunded in each run")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--raw-connections", type=int, default=16, help="connections of the baseline")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    args = parser.parse_args()
    url: str = args.database_url
    if not url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("the benchmark needs PostgreSQL: --database-url postgresql://...")
    rng = random.Random(13)
    crypto.install(Fernet.generate_key())  # intake seals the orders' contacts
    wiring.connect()  # intake finds each order's customer, as the app does

    began = time.perf_counter()
    store = prepare(url, args.payments)
    ready = time.perf_counter() - began
    print(f"store: {2 * args.payments} captured payments of 100.00, ready in {ready:.1f} s")

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-") as data_dir:
        server = start_server(url, port, args.workers, Path(data_dir))
        try:
            start = CpuSnapshot.take()
            http, http_seconds = run(
                http_load(port, store.token, asks(store.http_payments, args.requests, rng), args.clients)
            )
            http_cpu = cpu_use(start, CpuSnapshot.take(), server.pid, run(foreign_backends(url)))
        finally:
            stop_server(server)
        if http.errors:
            print("server log (end):\n" + (Path(data_dir) / "server.log").read_text()[-3000:])
    start = CpuSnapshot.take()
    raw, raw_seconds = run(raw_load(url, asks(store.raw_payments, args.requests, rng), args.raw_connections))
    raw_cpu = cpu_use(start, CpuSnapshot.take(), None, run(foreign_backends(url)))
    checks = run(check(url))

    print(_describe(f"http ({args.clients} clients, {args.workers} workers)", http, http_seconds))
    print(f"  {http_cpu.describe(http.accepted + http.refused)}")
    if http.first_error:
        print(f"  first error: {http.first_error}")
    print(_describe(f"raw SQL ({args.raw_connections} connections)", raw, raw_seconds))
    print(f"  {raw_cpu.describe(raw.accepted + raw.refused)}")
    if raw.first_error:
        print(f"  first error: {raw.first_error}")
    print(
        f"checks: {checks.payments} payments, over-refunded {checks.over_refunded}, "
        f"reserved total != ledger sum {checks.unmatched}"
    )
    http_rate = (http.accepted + http.refused) / http_seconds
    raw_rate = (raw.accepted + raw.refused) / raw_seconds
    print(
        f"http: {http_rate:.0f} refunds/s p50 {http.percentile(0.5):.0f} ms "
        f"p99 {http.percentile(0.99):.0f} ms errors {http.errors} | "
        f"raw SQL: {raw_rate:.0f} refunds/s | ratio {http_rate / raw_rate:.2f}"
    )
    if not checks.ok or http.errors or raw.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
