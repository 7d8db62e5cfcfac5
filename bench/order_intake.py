"""Order intake: confirmed orders per second through the real HTTP server, and the ratio to a baseline.

    .venv/bin/python bench/order_intake.py [--seconds 20 --clients 64 --workers 2 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench] [--quick] [--coupon]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.

HTTP: `shopflow serve --workers W` in a subprocess; C clients in this process post valid 3-line
orders (random SKUs, quantity 1, current prices) for a fixed time over keep-alive connections.
The default client is a minimal asyncio HTTP/1.1 client (`--client raw`): httpx.AsyncClient
spends several times more CPU per request, taken from the same 2 cores as the server.
Baseline: the same writes by raw SQL from this process (asyncpg on uvloop, no HTTP, no ORM):
insert the order, its 3 lines in one INSERT, one conditional UPDATE of the 3 stock rows (locked in
primary-key order), the reservations, 2 audit rows and the outbox row, in one transaction. (The
service also reads the SKUs and the stock levels, and starts the order's pay clock.)
--coupon (issue 16): after the plain run, the same server is measured again with every order
naming one coupon (fixed 10.00 off, no minimum spend, no limits: created by `POST /coupons` just
before that run) and redeeming 100 points as one of 2,048 members (customers made and given points
through the API), and the ratio coupon/plain is printed (target >= 0.80). Each such order reads the
code (1 SELECT), takes the points (1 conditional UPDATE of the member's balance, last before the
commit) and writes a coupon_uses and a point_entries row with its lines; a coupon without a total
limit reserves nothing (a limited one adds 1 conditional UPDATE of its row).
--risk (issue 17): the plain run is made with risk scoring off (the policy's `risk.scoring =
false`), then the same load on a fresh server with it on (RSK-1: the rules' facts read by one
statement that also upserts the velocity counters, a score row written with the lines), and the
ratio on/off is printed (target >= 0.85); --rounds N makes N such pairs in turn and prints the
ratio over all of them. Each order of these runs carries a buyer IP and a device id of its own
(RISK_BODIES distinct bodies), so the IP, device and duplicate counters all count.
After the runs the database is checked: no oversold stock row, reservations add up to reserved
stock, and every order has its lines, reservations, audit trail and outbox row; with --coupon
also: the coupon's counter stayed 0, its coupon_uses rows = the orders of the coupon run = the
confirmed orders its clients saw, every one of those orders has its use and no plain order one, and each
coupon order's discount is the sum of its lines' discounts and its use's discount.
Nothing is pinned: the server, PostgreSQL and this client share the machine's cores as the
kernel schedules them. The cores each used and their CPU per order are printed (other = any other
process on the machine: a busy neighbour makes the figures of that run worth little).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import asyncpg
import httpx
from _raw import LINES, Sealed, SkuRow, place_order
from common import ADDRESS, CUSTOMER, fresh_database, run
from cryptography.fernet import Fernet
from sqlalchemy import text

from shopflow.catalog import service as catalog
from shopflow.catalog.models import PriceBand
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import access, auth, money, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench"
WAREHOUSES = (("BW-1", "上海"), ("BW-2", "广东"), ("BW-3", "北京"))
SKUS_PER_PRODUCT = 20
UNITS = 1_000_000  # per SKU per warehouse: no order ever runs short
BODIES = 4096  # distinct request bodies, drawn at random
# --risk: distinct bodies, each with its own buyer IP and device: at the rates measured here a body
# comes back a few times a minute at most, so no IP or device passes the velocity rule's 5 orders in
# 10 minutes and the orders are confirmed (a body that comes back scores as a duplicate, below review).
RISK_BODIES = 65536
NO_SCORING = "[risk]\nscoring = false\n"  # --risk: the policy of the run without scoring
COUPON = "BENCH10"  # --coupon: the code every order of the coupon run names
COUPON_OFF = 1000  # fen: its fixed value, less than any order's goods (3 SKUs of 10.00 or more)
# --coupon: buyers of the coupon run, each a member holding plenty of points. A member's balance row
# stays locked from its debit to the commit: with 256 members, 64 clients' orders met on the same
# members and waited (coupon/plain 0.74 against 0.77-0.93 with 2,048, same machine, quiet).
MEMBERS = 2048
POINTS = 100  # points each order of the coupon run redeems (1.00 at the default value)
T = TypeVar("T")


# --- the store ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Store:
    token: str
    admin_id: int
    skus: list[SkuRow]


async def _populate(url: str, sku_count: int) -> Store:
    db = Database.from_url(url)
    rng = random.Random(7)
    codes = [f"BENCH-{n:04d}" for n in range(sku_count)]
    try:
        async with db.transaction() as session:
            for priority, (code, province) in enumerate(WAREHOUSES, start=1):
                data = WarehouseIn(code=code, name=f"仓库 {code}", province=province, priority=priority)
                await inventory.create_warehouse(session, SYSTEM, data)
            for start in range(0, sku_count, SKUS_PER_PRODUCT):
                skus = []
                for code in codes[start : start + SKUS_PER_PRODUCT]:
                    price = rng.randrange(1000, 30000, 10)
                    skus.append(
                        SkuIn(
                            code=code,
                            name=f"商品 {code}",
                            price=money.fmt(price),
                            cost=money.fmt(price // 2),
                            weight_g=500,
                            price_band=PriceBand.PROFIT,
                        )
                    )
                await catalog.create_product(session, SYSTEM, ProductIn(name=f"商品组 {start}", skus=skus))
            for code, _ in WAREHOUSES:
                lines = [ReceiptLineIn(sku=sku, quantity=UNITS) for sku in codes]
                await inventory.receive(
                    session, SYSTEM, ReceiptIn(warehouse=code, reference="bench-opening", lines=lines)
                )
            admin = await auth.add_user(session, SYSTEM, "bench-admin", auth.Role.ADMIN)
            token = await access.create_token(session, SYSTEM, "bench-admin", "bench")
        async with db.transaction() as session:
            found = await session.execute(
                text(
                    "SELECT k.id, k.code, k.name, k.price, s.id, s.warehouse_id FROM skus k"
                    " JOIN stock s ON s.sku_id = k.id JOIN warehouses w ON w.id = s.warehouse_id"
                    " WHERE w.code = :first ORDER BY k.id"
                ),
                {"first": WAREHOUSES[0][0]},
            )
            skus = [SkuRow(*row) for row in found.all()]
    finally:
        await db.dispose()
    return Store(token=token, admin_id=admin.id, skus=skus)


def prepare(url: str, sku_count: int) -> Store:
    policy.install(policy.Policy())
    fresh_database(url)
    return run(_populate(url, sku_count))


# --- CPU accounting -----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Proc:
    comm: str
    ppid: int
    cpu: float  # seconds


def _processes() -> dict[int, Proc]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = Proc(comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def _machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


@dataclass(slots=True)
class CpuSnapshot:
    at: float
    busy: float
    processes: dict[int, Proc]

    @classmethod
    def take(cls) -> CpuSnapshot:
        return cls(time.perf_counter(), _machine_busy(), _processes())


def _descendants(root: int, processes: dict[int, Proc]) -> set[int]:
    family = {root}
    grew = True
    while grew:
        grew = False
        for pid, proc in processes.items():
            if proc.ppid in family and pid not in family:
                family.add(pid)
                grew = True
    return family


@dataclass(frozen=True, slots=True)
class CpuUse:
    seconds: float  # wall-clock time measured
    parts: dict[str, float]  # CPU seconds of the server, PostgreSQL, this client, anything else
    workers: list[float]  # CPU seconds of each busy server process

    def describe(self, orders: int) -> str:
        cores = " + ".join(f"{name} {used / self.seconds:.2f}" for name, used in self.parts.items())
        own = [name for name in self.parts if name != "other" and self.parts[name] > 0]
        each = ", ".join(f"{name} {self.parts[name] / max(orders, 1) * 1000:.2f}" for name in own)
        line = f"cores: {cores} of {os.cpu_count()}; CPU ms per order: {each}"
        if len(self.workers) > 1:
            line += "; server processes " + " / ".join(f"{w / self.seconds:.2f}" for w in self.workers)
        return line


def cpu_use(start: CpuSnapshot, end: CpuSnapshot, server: int | None, foreign: set[int]) -> CpuUse:
    """CPU used between two snapshots by the server, PostgreSQL, this client and the rest.

    `foreign` are PostgreSQL backends serving other databases (counted as other)."""

    def used(pid: int) -> float:
        before = start.processes.get(pid)
        return end.processes[pid].cpu - (before.cpu if before else 0.0)

    seconds = end.at - start.at
    server_pids = _descendants(server, end.processes) if server is not None else set()
    postgres = {p for p, proc in end.processes.items() if proc.comm == "postgres"} - foreign
    workers = sorted((used(pid) for pid in server_pids), reverse=True)
    parts = {
        "server": sum(workers),
        "postgres": sum(used(pid) for pid in postgres),
        "client": used(os.getpid()),
    }
    parts["other"] = max(0.0, end.busy - start.busy - sum(parts.values()))
    return CpuUse(seconds, parts, [w for w in workers if w > 0.01 * seconds])


async def foreign_backends(url: str) -> set[int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> current_database()"
        )
    finally:
        await conn.close()
    return {row["pid"] for row in rows}


# --- load ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    """Results of one load run; only requests that ended inside the measured window count."""

    ok: int = 0
    held: int = 0
    confirmed_total: int = 0  # warm-up and the tail included: to compare with the database
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
class Window:
    start: float
    end: float


async def drive(
    workers: int, one: Callable[[int], Awaitable[bool | None]], window: Window, tally: Tally
) -> None:
    """`workers` loops calling `one(i)` until the window closes.

    `one` returns True (confirmed), False (stored but not confirmed), None (error: already tallied)."""

    async def loop(i: int) -> None:
        while (began := time.perf_counter()) < window.end:
            outcome = await one(i)
            ended = time.perf_counter()
            tally.confirmed_total += outcome is True
            if outcome is None or not window.start <= began or ended > window.end:
                continue
            if outcome:
                tally.ok += 1
                tally.latencies.append(ended - began)
            else:
                tally.held += 1

    await asyncio.gather(*(loop(i) for i in range(workers)))


def member_phones() -> list[str]:
    return [f"139{n:08d}" for n in range(MEMBERS)]


def member_name(n: int) -> str:
    """The profile name of member `n`: its orders carry it, so the risk rule `name_mismatch`
    (issue 17) does not hold them as a stranger's orders placed on a member's phone."""
    return f"会员{n}"


def order_bodies(
    store: Store, rng: random.Random, coupon: str | None = None, *, risk: bool = False
) -> list[bytes]:
    """Valid 3-line orders; with `coupon`, each naming it and redeeming POINTS as one of the
    MEMBERS; with `risk`, RISK_BODIES of them, each from a buyer IP and a device of its own."""
    bodies = []
    phones = member_phones()
    for n in range(RISK_BODIES if risk else BODIES):
        picked = rng.sample(store.skus, LINES)
        lines = [{"sku": s.code, "quantity": 1, "unit_price": money.fmt(s.price)} for s in picked]
        body: dict[str, object] = {
            "channel": "web",
            "customer": CUSTOMER,
            "shipping_address": ADDRESS,
            "lines": lines,
        }
        if risk:
            body |= {"buyer_ip": f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", "device_id": f"bench-device-{n}"}
        if coupon is not None:
            member = rng.randrange(MEMBERS)
            body |= {
                "coupons": [coupon],
                "points": POINTS,
                "customer": {**CUSTOMER, "phone": phones[member], "name": member_name(member)},
            }
        bodies.append(json.dumps(body, ensure_ascii=False).encode())
    return bodies


class HttpConnection(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive client connection: one request at a time, Content-Length only."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).split(b"\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        total = end + 4 + length
        if len(self.buffer) >= total:
            status = int(head[0].split()[1])
            body = bytes(self.buffer[end + 4 : total])
            del self.buffer[:total]
            self.waiter.set_result((status, body))
            self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("the server closed the connection")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


def _outcome(status: int, body: bytes, tally: Tally) -> bool | None:
    if status != 201:
        tally.error(f"HTTP {status}: {body[:300]!r}")
        return None
    return b'"status":"confirmed"' in body


def _fresh_key(keys: bool) -> str | None:
    """A new Idempotency-Key (a checkout's key for its retries) when orders carry `keys`."""
    return uuid.uuid4().hex if keys else None


async def http_load(
    kind: str,
    port: int,
    store: Store,
    clients: int,
    window: Window,
    rng: random.Random,
    keys: bool,
    coupon: str | None = None,
    risk: bool = False,
) -> Tally:
    bodies = order_bodies(store, rng, coupon, risk=risk)
    tally = Tally()
    if kind == "raw":
        loop = asyncio.get_running_loop()
        connections = []
        for _ in range(clients):
            _, protocol = await loop.create_connection(HttpConnection, "127.0.0.1", port)
            connections.append(protocol)
        head = (
            f"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {store.token}\r\nContent-Type: application/json\r\n"
        ).encode()
        tails = [b"Content-Length: %d\r\n\r\n" % len(body) + body for body in bodies]

        async def one_raw(i: int) -> bool | None:
            key = _fresh_key(keys)
            keyed = b"" if key is None else b"Idempotency-Key: %s\r\n" % key.encode()
            try:
                status, body = await connections[i].request(head + keyed + rng.choice(tails))
            except ConnectionError as exc:
                tally.error(str(exc))
                _, connections[i] = await loop.create_connection(HttpConnection, "127.0.0.1", port)
                return None
            return _outcome(status, body, tally)

        await drive(clients, one_raw, window, tally)
        for protocol in connections:
            assert protocol.transport is not None
            protocol.transport.close()
        return tally

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {store.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, headers=headers, timeout=60
    ) as client:

        async def one_httpx(_: int) -> bool | None:
            try:
                key = _fresh_key(keys)
                extra = {} if key is None else {"Idempotency-Key": key}
                reply = await client.post("/api/v1/orders", content=rng.choice(bodies), headers=extra)
            except httpx.HTTPError as exc:
                tally.error(repr(exc))
                return None
            return _outcome(reply.status_code, reply.content, tally)

        await drive(clients, one_httpx, window, tally)
    return tally


# --- the raw SQL baseline -------------------------------------------------------------------------


async def raw_load(url: str, store: Store, connections: int, window: Window, rng: random.Random) -> Tally:
    sealed = Sealed.new()
    tally = Tally()
    counters = [0] * connections
    pool = [await asyncpg.connect(url) for _ in range(connections)]

    async def one(i: int) -> bool | None:
        conn = pool[i]
        counters[i] += 1
        try:
            async with conn.transaction():
                await place_order(
                    conn, store.skus, rng, sealed, store.admin_id, f"RW{i:03d}{counters[i]:010d}"
                )
        except (asyncpg.PostgresError, RuntimeError) as exc:
            tally.error(repr(exc))
            return None
        return True

    try:
        await drive(connections, one, window, tally)
    finally:
        for conn in pool:
            await conn.close()
    return tally


# --- the checks -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checks:
    oversold_rows: int
    reserved: int
    reservations: int
    confirmed: dict[str, int]
    incomplete: dict[str, int]

    @property
    def ok(self) -> bool:
        return (
            self.oversold_rows == 0
            and self.reserved == self.reservations
            and not any(self.incomplete.values())
        )


def create_coupon(port: int, store: Store) -> None:
    """--coupon: the run's coupon, created through the API (fixed, no minimum spend, no limits)."""
    reply = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/coupons",
        headers={"Authorization": f"Bearer {store.token}"},
        json={"code": COUPON, "name": "bench", "kind": "fixed", "value": money.fmt(COUPON_OFF)},
        timeout=30,
    )
    if reply.status_code != 201:
        raise SystemExit(f"could not create the coupon: HTTP {reply.status_code} {reply.text[:300]}")


def create_members(port: int, store: Store) -> None:
    """--coupon: the MEMBERS, each a customer given plenty of points through the API."""
    headers = {"Authorization": f"Bearer {store.token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers=headers, timeout=30) as client:
        for n, phone in enumerate(member_phones()):
            made = client.post("/customers", json={"name": member_name(n), "phones": [phone]})
            given = client.post(
                f"/members/{made.json().get('id')}/points", json={"points": 10**8, "reason": "bench"}
            )
            if made.status_code != 201 or given.status_code != 201:
                raise SystemExit(f"could not make member {phone}: {made.text[:200]} {given.text[:200]}")


async def last_order_id(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM orders"))
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class CouponChecks:
    """--coupon: the coupon's ledger and the orders of the coupon run agree, and its counter stayed
    0 (a coupon without a total limit reserves nothing: LOY-4)."""

    used: int  # coupons.used
    uses: int  # its coupon_uses rows
    orders: int  # orders stored by the coupon run (web orders after the plain run)
    seen: int  # confirmed orders the coupon run's clients saw (warm-up and tail included)
    broken: dict[str, int]  # rule -> orders breaking it

    @property
    def ok(self) -> bool:
        return self.used == 0 and self.uses == self.orders == self.seen and not any(self.broken.values())

    def describe(self) -> str:
        return (
            f"coupon: counter {self.used} (no limit: 0), coupon_uses rows {self.uses}, orders of the"
            f" coupon run {self.orders}, confirmed as the clients saw {self.seen}: "
            f"{self.used == 0 and self.uses == self.orders == self.seen}; orders breaking a rule: "
            + ", ".join(f"{name} {n}" for name, n in self.broken.items())
        )


async def check_coupon(url: str, after: int, seen: int) -> CouponChecks:
    """The coupon run's orders are the web orders with an id above `after` (the raw baseline's
    are channel bench_raw)."""
    conn = await asyncpg.connect(url)
    run_orders = f"SELECT id, discount FROM orders WHERE channel = 'web' AND id > {after}"
    try:
        coupon_id, used = await conn.fetchrow("SELECT id, used FROM coupons WHERE code = $1", COUPON)
        uses = await conn.fetchval("SELECT count(*) FROM coupon_uses WHERE coupon_id = $1", coupon_id)
        orders = await conn.fetchval(f"SELECT count(*) FROM ({run_orders}) o")
        rules = {
            "no use": f"SELECT count(*) FROM ({run_orders}) o WHERE NOT EXISTS"
            " (SELECT 1 FROM coupon_uses u WHERE u.order_id = o.id)",
            "plain order with a use": "SELECT count(*) FROM coupon_uses u JOIN orders o ON o.id = u.order_id"
            f" WHERE o.id <= {after}",
            "discount <> sum of lines' discounts": f"SELECT count(*) FROM ({run_orders}) o WHERE o.discount"
            " <> (SELECT coalesce(sum(l.discount), 0) FROM order_lines l WHERE l.order_id = o.id)",
            "discount <> its use's and burn's": f"SELECT count(*) FROM ({run_orders}) o JOIN coupon_uses u"
            " ON u.order_id = o.id JOIN point_entries p ON p.order_id = o.id AND p.kind = 'burn'"
            " WHERE u.discount + p.amount <> o.discount",
            f"no burn of {POINTS} points": f"SELECT count(*) FROM ({run_orders}) o WHERE NOT EXISTS"
            " (SELECT 1 FROM point_entries p WHERE p.order_id = o.id AND p.kind = 'burn'"
            f" AND p.points = -{POINTS})",
            f"discount <> {money.fmt(COUPON_OFF + POINTS)}": f"SELECT count(*) FROM ({run_orders}) o"
            f" WHERE o.discount <> {COUPON_OFF + POINTS}",
            "member's balance <> its ledger's sum": "SELECT count(*) FROM point_accounts a WHERE a.balance <>"
            " (SELECT sum(p.points) FROM point_entries p WHERE p.customer_id = a.customer_id)",
        }
        broken = {name: await conn.fetchval(sql) for name, sql in rules.items()}
    finally:
        await conn.close()
    return CouponChecks(used, uses, orders, seen, broken)


async def check(url: str) -> Checks:
    conn = await asyncpg.connect(url)
    try:
        oversold = await conn.fetchval("SELECT count(*) FROM stock WHERE reserved > on_hand")
        reserved = await conn.fetchval("SELECT coalesce(sum(reserved), 0) FROM stock")
        reservations = await conn.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE state = 'active'"
        )
        confirmed = {
            row["channel"]: row["n"]
            for row in await conn.fetch(
                "SELECT channel, count(*) AS n FROM orders WHERE status = 'confirmed' GROUP BY channel"
            )
        }
        incomplete = {
            "lines": "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM order_lines l"
            f" WHERE l.order_id = o.id) <> {LINES}",
            "reservations": "SELECT count(*) FROM orders o WHERE o.status = 'confirmed' AND NOT EXISTS"
            " (SELECT 1 FROM reservations r WHERE r.order_id = o.id)",
            "audit": "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM audit_log a"
            " WHERE a.entity = 'order' AND a.entity_id = o.id::text) < 2",
            "outbox": "SELECT count(*) FROM orders o WHERE NOT EXISTS"
            " (SELECT 1 FROM outbox e WHERE e.subject = 'order:' || o.id)",
        }
        missing = {name: await conn.fetchval(sql) for name, sql in incomplete.items()}
    finally:
        await conn.close()
    return Checks(oversold, reserved, reservations, confirmed, missing)


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str, port: int, workers: int, data_dir: Path, policy_text: str | None = None
) -> subprocess.Popen[bytes]:
    """The server; with `policy_text`, under that policy file."""
    policy_file = data_dir / "policy.toml"
    if policy_text is not None:
        policy_file.write_text(policy_text, encoding="utf-8")
    env = {
        **os.environ,
        **({"SHOPFLOW_POLICY_FILE": str(policy_file)} if policy_text is not None else {}),
        "SHOPFLOW_DATABASE_URL": url,
        "SHOPFLOW_SECRET_KEY": Fernet.generate_key().decode(),
        "SHOPFLOW_SANDBOX_SECRET": secrets.token_urlsafe(32),
        "SHOPFLOW_DATA_DIR": str(data_dir),
    }
    command = [str(Path(sys.executable).parent / "shopflow"), "serve", "--port", str(port)]
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [*command, "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise SystemExit("the server did not come up:\n" + (data_dir / "server.log").read_text()[-3000:])


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- main ---------------------------------------------------------------------------------------


async def measured_run(
    load: Callable[[Window], Awaitable[T]], url: str, warmup: float, seconds: float, server: int | None
) -> tuple[T, CpuUse]:
    """What `load` gives over a window of `seconds` after `warmup`, and the cores used inside it."""
    window = Window(time.perf_counter() + warmup, time.perf_counter() + warmup + seconds)
    snapshots: list[CpuSnapshot] = []
    foreign: set[int] = set()

    async def sample() -> None:
        nonlocal foreign
        await asyncio.sleep(window.start - time.perf_counter())
        snapshots.append(CpuSnapshot.take())
        await asyncio.sleep(window.end - time.perf_counter())
        snapshots.append(CpuSnapshot.take())
        foreign = await foreign_backends(url)

    result, _ = await asyncio.gather(load(window), sample())
    return result, cpu_use(snapshots[0], snapshots[1], server, foreign)


@dataclass(frozen=True, slots=True)
class Measured:
    tally: Tally
    seconds: float
    cpu: CpuUse

    @property
    def rate(self) -> float:
        return self.tally.ok / self.seconds


async def measure(
    load: Callable[[Window], Awaitable[Tally]], url: str, warmup: float, seconds: float, server: int | None
) -> Measured:
    tally, cpu = await measured_run(load, url, warmup, seconds, server)
    return Measured(tally, seconds, cpu)


def _cpu_per_order(runs: list[Measured]) -> float:
    """The server's and PostgreSQL's CPU milliseconds per order over `runs`."""
    used = sum(m.cpu.parts["server"] + m.cpu.parts["postgres"] for m in runs)
    return used / max(sum(m.tally.ok + m.tally.held for m in runs), 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time of each run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time before each run")
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--raw-connections", type=int, default=16, help="connections of the baseline")
    parser.add_argument("--skus", type=int, default=400, help="SKUs in the store")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="HTTP client: raw asyncio keep-alive (light) or httpx.AsyncClient",
    )
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s each, 1 s warm-up")
    parser.add_argument(
        "--keys", action="store_true", help="each order carries a fresh Idempotency-Key, as a checkout's does"
    )
    parser.add_argument(
        "--coupon",
        action="store_true",
        help="also measure orders naming a coupon (fixed, no limits), and the ratio coupon/plain",
    )
    parser.add_argument(
        "--risk",
        action="store_true",
        help="the plain run without risk scoring, then one with it on a fresh server, and the ratio on/off",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --risk: pairs of runs (off, on) in turn, so a busy neighbour weighs on both alike",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    url: str = args.database_url
    if not url.startswith(("postgresql://", "postgres://")):
        raise SystemExit("the benchmark needs PostgreSQL: --database-url postgresql://...")
    rng = random.Random(11)

    began = time.perf_counter()
    store = prepare(url, args.skus)
    ready = time.perf_counter() - began
    print(f"store: {len(store.skus)} SKUs x {len(WAREHOUSES)} warehouses, ready in {ready:.1f} s")

    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-") as data_dir:
        server = start_server(url, port, args.workers, Path(data_dir), NO_SCORING if args.risk else None)
        coupon: Measured | None = None
        scored: Measured | None = None
        plain_last = 0  # the last order of the plain run
        offs: list[Measured] = []  # --risk: the runs without scoring, then with it (`ons`), in turn
        ons: list[Measured] = []

        def plain(w: Window) -> Awaitable[Tally]:
            return http_load(args.client, port, store, args.clients, w, rng, args.keys, risk=args.risk)

        try:
            http = run(measure(plain, url, args.warmup, args.seconds, server.pid))
            offs.append(http)
            for round_no in range(args.rounds if args.risk else 0):
                if round_no:  # scoring off again, for the next pair
                    stop_server(server)
                    server = start_server(url, port, args.workers, Path(data_dir), NO_SCORING)
                    offs.append(run(measure(plain, url, args.warmup, args.seconds, server.pid)))
                stop_server(server)
                server = start_server(url, port, args.workers, Path(data_dir))
                ons.append(run(measure(plain, url, args.warmup, args.seconds, server.pid)))
            scored = ons[0] if ons else None
            if args.coupon:
                create_coupon(port, store)
                create_members(port, store)
                plain_last = run(last_order_id(url))
                coupon = run(
                    measure(
                        lambda w: http_load(
                            args.client, port, store, args.clients, w, rng, args.keys, COUPON
                        ),
                        url,
                        args.warmup,
                        args.seconds,
                        server.pid,
                    )
                )
        finally:
            stop_server(server)
        if any(m is not None and m.tally.errors for m in (http, coupon, *ons, *offs)):
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
    checks = run(check(url))
    coupon_checks = (
        None if coupon is None else run(check_coupon(url, plain_last, coupon.tally.confirmed_total))
    )

    t = http.tally
    print(
        f"http ({args.client} client, {args.clients} clients, {args.workers} workers"
        f"{', Idempotency-Key' if args.keys else ''}): "
        f"{http.rate:.0f} orders/s p50 {t.percentile(0.5):.1f} ms p99 {t.percentile(0.99):.1f} ms "
        f"errors {t.errors} not confirmed {t.held}"
    )
    print(f"  {http.cpu.describe(t.ok + t.held)}")
    if t.first_error:
        print(f"  first error: {t.first_error}")
    if coupon is not None:
        c = coupon.tally
        print(
            f"http with coupon {COUPON} ({args.client} client, {args.clients} clients, {args.workers} workers"
            f"{', Idempotency-Key' if args.keys else ''}): "
            f"{coupon.rate:.0f} orders/s p50 {c.percentile(0.5):.1f} ms p99 {c.percentile(0.99):.1f} ms "
            f"errors {c.errors} not confirmed {c.held}"
        )
        print(f"  {coupon.cpu.describe(c.ok + c.held)}")
        if c.first_error:
            print(f"  first error: {c.first_error}")
    if scored is not None:
        k = scored.tally
        print(
            f"http with risk scoring ({args.client} client, {args.clients} clients, {args.workers} workers): "
            f"{scored.rate:.0f} orders/s p50 {k.percentile(0.5):.1f} ms p99 {k.percentile(0.99):.1f} ms "
            f"errors {k.errors} not confirmed {k.held}"
        )
        print(f"  {scored.cpu.describe(k.ok + k.held)}")
        if k.first_error:
            print(f"  first error: {k.first_error}")
    r = raw.tally
    print(
        f"raw SQL ({args.raw_connections} connections): {raw.rate:.0f} orders/s "
        f"p50 {r.percentile(0.5):.1f} ms p99 {r.percentile(0.99):.1f} ms errors {r.errors}"
    )
    print(f"  {raw.cpu.describe(r.ok)}")
    if r.first_error:
        print(f"  first error: {r.first_error}")
    print(
        f"checks: oversold rows {checks.oversold_rows}, reserved {checks.reserved} "
        f"= active reservations {checks.reservations}: {checks.reserved == checks.reservations}; "
        f"confirmed orders {checks.confirmed}; orders missing "
        + ", ".join(f"{name} {n}" for name, n in checks.incomplete.items())
    )
    if coupon_checks is not None:
        print(f"checks: {coupon_checks.describe()}")
    print(
        f"http: {http.rate:.0f} orders/s p50 {t.percentile(0.5):.0f} ms p99 {t.percentile(0.99):.0f} ms "
        f"errors {t.errors} | raw SQL: {raw.rate:.0f} orders/s | ratio {http.rate / raw.rate:.2f}"
    )
    if coupon is not None:
        c = coupon.tally
        print(
            f"http with coupon: {coupon.rate:.0f} orders/s p50 {c.percentile(0.5):.0f} ms "
            f"p99 {c.percentile(0.99):.0f} ms errors {c.errors} | ratio to raw SQL "
            f"{coupon.rate / raw.rate:.2f} | ratio coupon/plain {coupon.rate / http.rate:.2f}"
            " (target >= 0.80)"
        )
    if scored is not None:
        k = scored.tally
        print(
            f"http with risk scoring: {scored.rate:.0f} orders/s p50 {k.percentile(0.5):.0f} ms "
            f"p99 {k.percentile(0.99):.0f} ms errors {k.errors} held {k.held} | scoring off: {http.rate:.0f} "
            f"orders/s | ratio on/off {scored.rate / http.rate:.2f} (target >= 0.85)"
        )
    if len(ons) > 1:
        pairs = ", ".join(f"{off.rate:.0f}/{on.rate:.0f}" for off, on in zip(offs, ons, strict=True))
        ratio = sum(on.rate for on in ons) / sum(off.rate for off in offs)
        print(
            f"risk scoring, {len(ons)} rounds off then on (orders/s off/on): {pairs} | held "
            f"{sum(on.tally.held for on in ons)} | ratio on/off over the rounds {ratio:.2f} (target >= 0.85)"
        )
        # What a neighbour's load moves least: the server's and PostgreSQL's CPU per order.
        off_cpu, on_cpu = _cpu_per_order(offs), _cpu_per_order(ons)
        print(
            f"  CPU ms per order (server + postgres): off {off_cpu:.2f}, on {on_cpu:.2f} | "
            f"ratio off/on {off_cpu / on_cpu:.2f} (the rate on/off when the cores are the limit)"
        )
    coupon_failed = coupon is not None and (coupon.tally.errors or not (coupon_checks and coupon_checks.ok))
    if not checks.ok or t.errors or r.errors or coupon_failed or any(m.tally.errors for m in (*ons, *offs)):
        sys.exit(1)


if __name__ == "__main__":
    main()
