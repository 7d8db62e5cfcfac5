"""Place and pay: paid orders per second through the real HTTP server, and the ratio to a baseline.

    .venv/bin/python bench/place_and_pay.py [--clients 8,64 --seconds 20 --workers 2 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench] [--quick]

The database named by --database-url is WIPED (created first when missing): schema public is
dropped and migrated anew.

HTTP: `shopflow serve --workers W` (SHOPFLOW_SANDBOX=true) in a subprocess, as in
bench/order_intake.py. For each client count C in --clients, C clients each repeat for a fixed
time, over one keep-alive connection (the light raw asyncio client of bench/order_intake.py):
  1. place   `POST /api/v1/orders` (a valid 3-line order, random SKUs, current prices) -> confirmed
  2. pay     `POST /api/v1/orders/{id}/payments` {"method": "alipay"} -> a pending payment
  3. callback `POST /api/v1/sandbox/payments/{id}/complete` {"outcome": "success"}: the sandbox
     gateway signs the callback and delivers it to `POST /api/v1/payments/callbacks/sandbox`
     (in-process) -> applied: the order is paid.
Printed per client count: paid orders/s, p50/p99 of the sequence and of each step, errors, and the
CPU ms per paid order of the server processes, the PostgreSQL backends (read from /proc) and this
client.
Baseline: the same database work by raw SQL from this one process (asyncpg on uvloop, no HTTP, no
ORM, R connections), three transactions per paid order like the three requests:
  place: the order, its 3 lines in one INSERT, one conditional UPDATE of the 3 stock rows (locked
    in primary-key order), the reservations, 2 audit rows, the outbox row, the pay clock;
  pay: the payment row (from the order row, if confirmed) and its audit row;
  callback: the payment locked, the callback record (ON CONFLICT on the event id), the payment's
    status, the receipt, the order's status (conditional), pay clock met + ship clock started,
    2 audit rows and the outbox row.
(The service also reads SKUs, prices and stock levels, checks the signature and decrypts nothing.)
After the runs the database is checked: every paid order has exactly one payment, one receipt,
one callback record (one per event), its pay clock met and ship clock running, its audit rows and
its outbox rows (order.confirmed, order.paid); every event the clients saw is recorded once; no
stock row is oversold.
Nothing is pinned: the server, PostgreSQL and this client share the machine's cores as the kernel
schedules them (other = any other process: a busy neighbour makes the figures worth little).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from _raw import SHIP_WITHIN, Sealed, place_order
from common import run
from order_intake import (
    WAREHOUSES,
    CpuUse,
    HttpConnection,
    Store,
    Window,
    _free_port,
    measured_run,
    order_bodies,
    prepare,
    start_server,
    stop_server,
)

from shopflow.core import money, policy

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench"
METHOD = "alipay"
STEPS = ("place", "pay", "callback")
PAY_WITHIN = timedelta(minutes=policy.Policy().orders.unpaid_cancel_minutes)


# --- load ---------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] * 1000 if ordered else float("nan")


@dataclass(slots=True)
class Tally:
    """Results of one load run; only sequences that began and ended inside the window count."""

    paid: int = 0
    paid_total: int = 0  # warm-up and the tail included: to compare with the database
    events: list[str] = field(default_factory=list)  # every callback event id the gateway sent
    errors: int = 0
    first_error: str = ""
    sequence: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what

    def latencies(self, values: list[float]) -> str:
        return f"p50 {_percentile(values, 0.5):.1f} ms p99 {_percentile(values, 0.99):.1f} ms"


@dataclass(frozen=True, slots=True)
class Timed:
    """One sequence's step times (seconds), or None when it failed (the error tallied)."""

    steps: tuple[float, ...]
    event_id: str


async def drive(
    workers: int, one: Callable[[int], Awaitable[Timed | None]], window: Window, tally: Tally
) -> None:
    """`workers` loops running one place -> pay -> callback sequence after another until the
    window closes."""

    async def loop(i: int) -> None:
        while (began := time.perf_counter()) < window.end:
            done = await one(i)
            ended = time.perf_counter()
            if done is None:
                continue
            tally.paid_total += 1
            tally.events.append(done.event_id)
            if not window.start <= began or ended > window.end:
                continue
            tally.paid += 1
            tally.sequence.append(ended - began)
            for step, seconds in zip(STEPS, done.steps, strict=True):
                tally.steps[step].append(seconds)

    await asyncio.gather(*(loop(i) for i in range(workers)))


def _json(status: int, body: bytes, expected: int, step: str, tally: Tally) -> dict[str, Any] | None:
    if status != expected:
        tally.error(f"{step}: HTTP {status}: {body[:300]!r}")
        return None
    found: dict[str, Any] = json.loads(body)
    return found


async def http_load(port: int, store: Store, clients: int, window: Window, rng: random.Random) -> Tally:
    bodies = order_bodies(store, rng)
    tally = Tally()
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(clients):
        _, protocol = await loop.create_connection(HttpConnection, "127.0.0.1", port)
        connections.append(protocol)
    headers = (
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {store.token}\r\nContent-Type: application/json\r\n"
    ).encode()

    def post(path: str, body: bytes) -> bytes:
        return b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
            path.encode(),
            headers,
            len(body),
            body,
        )

    places = [post("/api/v1/orders", body) for body in bodies]
    pay_body = json.dumps({"method": METHOD}).encode()
    complete_body = json.dumps({"outcome": "success"}).encode()

    async def one(i: int) -> Timed | None:
        connection = connections[i]
        try:
            t0 = time.perf_counter()
            order = _json(*await connection.request(rng.choice(places)), 201, "place", tally)
            if order is None:
                return None
            if order["status"] != "confirmed":
                tally.error(f"place: the order is {order['status']}")
                return None
            t1 = time.perf_counter()
            payment = _json(
                *await connection.request(post(f"/api/v1/orders/{order['id']}/payments", pay_body)),
                201,
                "pay",
                tally,
            )
            if payment is None:
                return None
            t2 = time.perf_counter()
            path = f"/api/v1/sandbox/payments/{payment['payment_id']}/complete"
            result = _json(*await connection.request(post(path, complete_body)), 200, "callback", tally)
            t3 = time.perf_counter()
        except ConnectionError as exc:
            tally.error(str(exc))
            _, connections[i] = await loop.create_connection(HttpConnection, "127.0.0.1", port)
            return None
        if result is None:
            return None
        delivery = result["deliveries"][0]
        if delivery["status_code"] != 200 or delivery["body"].get("result") != "applied":
            tally.error(f"callback: delivery {delivery}")
            return None
        return Timed((t1 - t0, t2 - t1, t3 - t2), result["event_id"])

    await drive(clients, one, window, tally)
    for protocol in connections:
        assert protocol.transport is not None
        protocol.transport.close()
    return tally


# --- the raw SQL baseline -------------------------------------------------------------------------

RAW_PROVIDER = "bench_raw"
INSERT_CLOCK = (
    "INSERT INTO sla_clocks (subject, kind, owner_id, state, started_at, deadline) "
    "VALUES ($1, 'order.pay', NULL, 'running', $2, $3)"
)
INSERT_PAYMENT = f"""
INSERT INTO payments (order_id, provider, method, amount, status, created_by, created_at, updated_at,
    refund_reserved)
SELECT id, '{RAW_PROVIDER}', '{METHOD}', total, 'pending', $2, $3, $3, 0 FROM orders
WHERE id = $1 AND status = 'confirmed'
RETURNING id
"""
INSERT_PAYMENT_AUDIT = """
INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after)
VALUES ($1, $2, 'bench-admin', 'payment.started', 'payment', $3, NULL, $4)
"""
LOCK_PAYMENT = "SELECT order_id, method, amount, status FROM payments WHERE id = $1 FOR UPDATE"
INSERT_CALLBACK = f"""
INSERT INTO payment_callbacks (provider, event_id, payment_id, outcome, amount, result, body, received_at)
VALUES ('{RAW_PROVIDER}', $1, $2, 'success', $3, 'applied', $4, $5)
ON CONFLICT (provider, event_id) DO NOTHING RETURNING id
"""
PAYMENT_SUCCEEDED = "UPDATE payments SET status = 'succeeded', updated_at = $2 WHERE id = $1"
INSERT_RECEIPT = """
INSERT INTO payment_receipts (payment_id, order_id, customer_hash, method, amount, received_at)
SELECT $1, id, phone_hash, $3, $4, $5 FROM orders WHERE id = $2
"""
ORDER_PAID = (
    "UPDATE orders SET status = 'paid', paid_at = $2, updated_at = $2 WHERE id = $1 AND status = 'confirmed'"
)
STOP_AND_START = """
WITH stopped AS (
    UPDATE sla_clocks SET state = 'met', stopped_at = $2
    WHERE subject = $1 AND kind = 'order.pay' AND state = 'running'
), started AS (
    INSERT INTO sla_clocks (subject, kind, owner_id, state, started_at, deadline)
    VALUES ($1, 'order.ship', NULL, 'running', $2, $3) ON CONFLICT DO NOTHING
)
SELECT 1
"""
INSERT_PAID_AUDIT = """
INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after) VALUES
    ($1, NULL, 'system', 'payment.succeeded', 'payment', $2, '{"status": "pending"}', $3),
    ($1, NULL, 'system', 'order.paid', 'order', $4, '{"status": "confirmed"}', '{"status": "paid"}')
"""
INSERT_PAID_OUTBOX = (
    "INSERT INTO outbox (event, subject, payload, created_at, available_at, attempts) "
    "VALUES ('order.paid', $1, $2, $3, $3, 0)"
)


async def raw_load(url: str, store: Store, connections: int, window: Window, rng: random.Random) -> Tally:
    sealed = Sealed.new()
    tally = Tally()
    counters = [0] * connections
    pool = [await asyncpg.connect(url) for _ in range(connections)]

    async def place(conn: asyncpg.Connection, i: int) -> tuple[int, str]:
        counters[i] += 1
        order_no = f"RP{i:03d}{counters[i]:010d}"
        async with conn.transaction():
            order_id, at = await place_order(conn, store.skus, rng, sealed, store.admin_id, order_no)
            await conn.execute(INSERT_CLOCK, f"order:{order_id}", at, at + PAY_WITHIN)
        return order_id, order_no

    async def pay(conn: asyncpg.Connection, order_id: int) -> int:
        at = datetime.now(UTC)
        async with conn.transaction():
            payment_id: int | None = await conn.fetchval(INSERT_PAYMENT, order_id, store.admin_id, at)
            if payment_id is None:
                raise RuntimeError("the order cannot take a payment")
            after = json.dumps({"order_id": order_id, "method": METHOD})
            await conn.execute(INSERT_PAYMENT_AUDIT, at, store.admin_id, str(payment_id), after)
        return payment_id

    async def callback(conn: asyncpg.Connection, payment_id: int, order_no: str) -> str:
        at = datetime.now(UTC)
        event_id = os.urandom(16).hex()
        async with conn.transaction():
            payment = await conn.fetchrow(LOCK_PAYMENT, payment_id)
            if payment is None or payment["status"] != "pending":
                raise RuntimeError("the payment is not pending")
            order_id, amount = payment["order_id"], payment["amount"]
            body = {
                "event_id": event_id,
                "payment_id": payment_id,
                "outcome": "success",
                "amount": money.fmt(amount),
                "occurred_at": at.isoformat(),
            }
            if (
                await conn.fetchval(INSERT_CALLBACK, event_id, payment_id, amount, json.dumps(body), at)
                is None
            ):
                raise RuntimeError("a fresh event id was taken")
            await conn.execute(PAYMENT_SUCCEEDED, payment_id, at)
            await conn.execute(INSERT_RECEIPT, payment_id, order_id, payment["method"], amount, at)
            if await conn.execute(ORDER_PAID, order_id, at) != "UPDATE 1":
                raise RuntimeError("the order was not confirmed")
            subject = f"order:{order_id}"
            await conn.fetchval(STOP_AND_START, subject, at, at + SHIP_WITHIN)
            after = json.dumps({"status": "succeeded", "event_id": event_id})
            await conn.execute(INSERT_PAID_AUDIT, at, str(payment_id), after, str(order_id))
            payload = {
                "order_id": order_id,
                "order_no": order_no,
                "channel": RAW_PROVIDER,
                "ship_by": (at + SHIP_WITHIN).isoformat(),
            }
            await conn.execute(INSERT_PAID_OUTBOX, subject, json.dumps(payload), at)
        return event_id

    async def one(i: int) -> Timed | None:
        conn = pool[i]
        try:
            t0 = time.perf_counter()
            order_id, order_no = await place(conn, i)
            t1 = time.perf_counter()
            payment_id = await pay(conn, order_id)
            t2 = time.perf_counter()
            event_id = await callback(conn, payment_id, order_no)
            t3 = time.perf_counter()
        except (asyncpg.PostgresError, RuntimeError) as exc:
            tally.error(repr(exc))
            return None
        return Timed((t1 - t0, t2 - t1, t3 - t2), event_id)

    try:
        await drive(connections, one, window, tally)
    finally:
        for conn in pool:
            await conn.close()
    return tally


# --- the checks -----------------------------------------------------------------------------------

# Each counts the paid orders (or stock rows) that break one rule.
RULES = {
    "oversold stock rows": "SELECT count(*) FROM stock WHERE reserved > on_hand",
    "payments": "SELECT count(*) FROM orders o WHERE o.status = 'paid'"
    " AND (SELECT count(*) FROM payments p WHERE p.order_id = o.id AND p.status = 'succeeded') <> 1",
    "receipts": "SELECT count(*) FROM orders o WHERE o.status = 'paid'"
    " AND (SELECT count(*) FROM payment_receipts r WHERE r.order_id = o.id) <> 1",
    "callback records": "SELECT count(*) FROM payments p WHERE p.status = 'succeeded'"
    " AND (SELECT count(*) FROM payment_callbacks c WHERE c.payment_id = p.id) <> 1",
    "pay clock met": "SELECT count(*) FROM orders o WHERE o.status = 'paid' AND NOT EXISTS"
    " (SELECT 1 FROM sla_clocks c WHERE c.subject = 'order:' || o.id AND c.kind = 'order.pay'"
    " AND c.state = 'met')",
    "ship clock running": "SELECT count(*) FROM orders o WHERE o.status = 'paid' AND NOT EXISTS"
    " (SELECT 1 FROM sla_clocks c WHERE c.subject = 'order:' || o.id AND c.kind = 'order.ship'"
    " AND c.state = 'running')",
    "audit": "SELECT count(*) FROM orders o LEFT JOIN (SELECT entity_id, count(*) AS n FROM audit_log"
    " WHERE entity = 'order' AND action = 'order.paid' GROUP BY entity_id) paid"
    " ON paid.entity_id = o.id::text"
    " LEFT JOIN (SELECT p.order_id, count(*) AS n FROM audit_log a JOIN payments p ON a.entity = 'payment'"
    " AND a.entity_id = p.id::text WHERE a.action IN ('payment.started', 'payment.succeeded')"
    " GROUP BY p.order_id) pay ON pay.order_id = o.id"
    " WHERE o.status = 'paid' AND (coalesce(paid.n, 0) <> 1 OR coalesce(pay.n, 0) <> 2)",
    # Grouped first: outbox.subject has no index, a per-order subquery would scan it per order.
    "outbox": "SELECT count(*) FROM orders o LEFT JOIN (SELECT subject, count(*) AS n FROM outbox"
    " WHERE event IN ('order.confirmed', 'order.paid') GROUP BY subject) e ON e.subject = 'order:' || o.id"
    " WHERE o.status = 'paid' AND coalesce(e.n, 0) <> 2",
}


@dataclass(frozen=True, slots=True)
class Checks:
    paid: dict[str, int]  # paid orders by channel
    broken: dict[str, int]  # rule -> how many break it
    events_missing: int  # events the clients saw that have no callback record
    events_seen: int

    @property
    def ok(self) -> bool:
        return not any(self.broken.values()) and self.events_missing == 0


async def check(url: str, events: list[str]) -> Checks:
    conn = await asyncpg.connect(url)
    try:
        paid = {
            row["channel"]: row["n"]
            for row in await conn.fetch(
                "SELECT channel, count(*) AS n FROM orders WHERE status = 'paid' GROUP BY channel"
            )
        }
        broken = {name: await conn.fetchval(sql) for name, sql in RULES.items()}
        recorded = await conn.fetchval(
            "SELECT count(*) FROM payment_callbacks WHERE event_id = ANY($1::text[])", events
        )
    finally:
        await conn.close()
    return Checks(paid, broken, len(events) - recorded, len(events))


# --- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    tally: Tally
    seconds: float
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return self.tally.paid / self.seconds


async def measure(
    load: Callable[[Window], Awaitable[Tally]], url: str, warmup: float, seconds: float, server: int | None
) -> Measured:
    tally, cpu = await measured_run(load, url, warmup, seconds, server)
    return Measured(tally, seconds, cpu)


def describe(label: str, measured: Measured) -> list[str]:
    t = measured.tally
    lines = [
        f"{label}: {measured.rate:.0f} paid orders/s, sequence {t.latencies(t.sequence)}, errors {t.errors}",
        "  " + "; ".join(f"{step} {t.latencies(t.steps[step])}" for step in STEPS),
        f"  {measured.cpu.describe(t.paid)} (per paid order)",
    ]
    if t.first_error:
        lines.append(f"  first error: {t.first_error}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of each run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time before each run")
    parser.add_argument(
        "--clients", default="8,64", help="concurrent HTTP clients, one run per comma-separated count"
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--raw-connections", type=int, default=16, help="connections of the baseline")
    parser.add_argument("--skus", type=int, default=400, help="SKUs in the store")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s each, 1 s warm-up")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    url: str = args.database_url
    if not url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("the benchmark needs PostgreSQL: --database-url postgresql://...")
    client_counts = [int(n) for n in args.clients.split(",")]
    rng = random.Random(13)

    began = time.perf_counter()
    store = prepare(url, args.skus)
    ready = time.perf_counter() - began
    print(f"store: {len(store.skus)} SKUs x {len(WAREHOUSES)} warehouses, ready in {ready:.1f} s")

    os.environ["SHOPFLOW_SANDBOX"] = "true"
    port = _free_port()
    http: dict[int, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-") as data_dir:
        server = start_server(url, port, args.workers, Path(data_dir))
        try:
            for clients in client_counts:
                http[clients] = run(
                    measure(
                        partial(http_load, port, store, clients, rng=rng),
                        url,
                        args.warmup,
                        args.seconds,
                        server.pid,
                    )
                )
        finally:
            stop_server(server)
        if any(m.tally.errors for m in http.values()):
            print("server log (end):\n" + (Path(data_dir) / "server.log").read_text()[-3000:])
    raw = run(
        measure(
            lambda w: raw_load(url, store, args.raw_connections, w, rng),
            url,
            args.warmup,
            args.seconds,
            None,
        )
    )
    events = [event for m in http.values() for event in m.tally.events] + raw.tally.events
    checks = run(check(url, events))

    for clients, measured in http.items():
        print("\n".join(describe(f"http ({clients} clients, {args.workers} workers)", measured)))
    print("\n".join(describe(f"raw SQL ({args.raw_connections} connections, one process)", raw)))
    print(
        f"checks: paid orders {checks.paid}; events recorded {checks.events_seen - checks.events_missing}"
        f" of {checks.events_seen}; paid orders (or stock rows) breaking a rule: "
        + ", ".join(f"{name} {n}" for name, n in checks.broken.items())
    )
    for clients, measured in http.items():
        t = measured.tally
        print(
            f"http {clients} clients: {measured.rate:.0f} paid orders/s"
            f" p50 {_percentile(t.sequence, 0.5):.0f} ms p99 {_percentile(t.sequence, 0.99):.0f} ms"
            f" errors {t.errors} | raw SQL: {raw.rate:.0f} paid orders/s"
            f" | ratio {measured.rate / raw.rate:.2f}"
        )
    if not checks.ok or raw.tally.errors or any(m.tally.errors for m in http.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
