"""Console pages at scale: server-side render time of the orders list and order detail pages
with 100,000 orders, the wave list and shipment detail pages with their fulfillment history, and
the ratio to a baseline of the bare queries those pages run.

    .venv/bin/python bench/console_pages.py [--orders 100000 --rounds 40 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_console]

The database named by --database-url is WIPED (PostgreSQL: schema public dropped; SQLite: the
file deleted) and migrated anew. The store (warehouses, SKUs, stock, a user) is made through the
services; the orders are bulk-inserted by SQL consistent with the schema: each order with its
lines, its status history in the audit log, its SLA clocks (running, met or breached), and for
paid orders a payment and a receipt, spread over the last 60 days across channels and states;
each shipped order also has its pick task in a wave of 200, its shipment and its tracking events.

Measured: each page requested in-process through the whole ASGI app (session cookie, routing,
queries, template) by httpx's ASGI transport: that is the server's time, without a network.
Baseline: the same queries, through the same services, without HTTP and templates. Target: p95
under 300 ms for every page.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import CONTACT, fresh_database
from cryptography.fernet import Fernet
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.app import create_app
from shopflow.catalog import service as catalog
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import access, alerts, auth, clock, crypto, policy, sla
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.db import Database
from shopflow.core.settings import Settings
from shopflow.fulfillment.models.picking import PickTask, PickTaskLine, Wave
from shopflow.fulfillment.models.shipments import Shipment, TrackingEvent, shipment_subject
from shopflow.fulfillment.schemas import CarrierIn
from shopflow.fulfillment.service import carriers, shipping, tracking, waves
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn
from shopflow.orders.models import Order, OrderClock, OrderLine, OrderStatus
from shopflow.orders.service import queries as orders
from shopflow.payments import service as payments
from shopflow.payments.models import Payment, PaymentReceipt
from shopflow.web.console import SHORT_LIST

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_console"
TARGET_MS = 300.0
CHANNELS = ("own_store", "tmall", "jd", "douyin", "pinduoduo")
S = OrderStatus
# State mix of a store's history: most orders are done, a working day's worth are in flight.
STATES = [(S.CLOSED, 40), (S.COMPLETED, 15), (S.DELIVERED, 8), (S.SHIPPED, 8), (S.PAID, 10)]
STATES += [(S.CONFIRMED, 4), (S.CANCELLED, 12), (S.ON_HOLD, 3)]
PASSWORD = "bench-password"
SHIPPED = (S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CLOSED)
WAVE_SIZE = 200  # orders per wave of the loaded history
WAREHOUSE_ID = CARRIER_ID = 1  # the first of a fresh database: W1, SF


async def _store(db: Database) -> list[tuple[int, str, str, int]]:
    """Three warehouses, 60 SKUs in stock, a carrier, a manager who signs in; the SKUs as (id, code,
    name, price)."""
    async with db.transaction() as session:
        for n, province in enumerate(("上海", "广东", "北京"), start=1):
            data = WarehouseIn(code=f"W{n}", name=f"仓库 {n}", province=province, priority=n)
            warehouse = await inventory.create_warehouse(session, SYSTEM, data)
            assert n > 1 or warehouse.id == WAREHOUSE_ID
        carrier, _ = await carriers.create_carrier(
            session,
            SYSTEM,
            CarrierIn(
                code="SF",
                name="顺丰速运",
                tracking_url="https://www.sf-express.example/track?no={tracking_no}",
                base_fee="12.00",
                per_kg_fee="2.00",
            ),
        )
        assert carrier.id == CARRIER_ID
        codes = []
        for p in range(15):
            skus = [
                SkuIn(
                    code=f"B-{p:02d}-{v}",
                    name=f"商品 {p}-{v}",
                    price=f"{50 + 10 * p}.00",
                    cost="20.00",
                    weight_g=300,
                    price_band="profit",
                )
                for v in range(4)
            ]
            await catalog.create_product(session, SYSTEM, ProductIn(name=f"商品 {p}", skus=skus))
            codes += [s.code for s in skus]
        for n in range(1, 4):
            lines = [ReceiptLineIn(sku=code, quantity=1000) for code in codes]
            await inventory.receive(
                session, SYSTEM, ReceiptIn(warehouse=f"W{n}", reference="PO-1", lines=lines)
            )
        await auth.add_user(session, SYSTEM, "manager", auth.Role.MANAGER, PASSWORD)
        found = await catalog.skus_by_codes(session, codes)
    return [(s.id, s.code, s.name, s.price) for s in found.values()]


def _rows(
    n: int, count: int, skus: list[tuple[int, str, str, int]], now: datetime, rng: random.Random
) -> dict[str, list[dict[str, Any]]]:
    """Order `n` (id n) of `count` and everything it owns, as rows per table."""
    status = rng.choices([s for s, _ in STATES], weights=[w for _, w in STATES])[0]
    created = now - timedelta(days=60) * (1 - n / count) - timedelta(minutes=rng.randint(0, 30))
    picked = rng.sample(skus, k=rng.choice((1, 1, 2, 3)))
    lines = [
        {
            "order_id": n,
            "sku_id": sku_id,
            "sku_code": code,
            "name": name,
            "quantity": (q := rng.choice((1, 1, 2))),
            "unit_price": price,
            "discount": 0,
            "line_total": price * q,
        }
        for sku_id, code, name, price in picked
    ]
    total = sum(line["line_total"] for line in lines)
    shipping = 0 if total >= 9900 else 1000
    paid = status not in (S.CONFIRMED, S.CANCELLED, S.ON_HOLD)
    at = {"confirmed": created, "paid": created + timedelta(minutes=5) if paid else None}
    path = [S.PENDING, S.CONFIRMED] + ([S.PAID] if paid else [])
    steps = {S.SHIPPED: [S.PICKING, S.PACKED, S.SHIPPED]}
    steps[S.DELIVERED] = [*steps[S.SHIPPED], S.DELIVERED]
    steps[S.COMPLETED] = [*steps[S.DELIVERED], S.COMPLETED]
    steps[S.CLOSED] = [*steps[S.COMPLETED], S.CLOSED]
    path += steps.get(status, [])
    if status in (S.CANCELLED, S.ON_HOLD):
        path.append(status)
    audit = [
        {
            "at": created + timedelta(minutes=i),
            "actor_id": None,
            "actor_name": "system",
            "action": f"order.{state}",
            "entity": "order",
            "entity_id": str(n),
            "before": None if i == 0 else {"status": path[i - 1]},
            "after": {"status": state},
        }
        for i, state in enumerate(path)
    ]
    order = {
        "id": n,
        "order_no": f"SF{created:%y%m%d}{n:010d}",
        "channel": (channel := rng.choice(CHANNELS)),
        "channel_order_no": None if channel == "own_store" else f"{channel[:2].upper()}{n:012d}",
        "idempotency_key": None,
        "status": status,
        "held_from": S.CONFIRMED if status == S.ON_HOLD else None,
        "hold_reason": "risk_review" if status == S.ON_HOLD else None,
        "contact": CONTACT,
        "phone_hash": "0" * 64,
        "ship_province": "上海",
        "buyer_ip": None,
        "note": None,
        "subtotal": total,
        "shipping_fee": shipping,
        "discount": 0,
        "total": total + shipping,
        "created_by": None,
        "created_at": created,
        "updated_at": audit[-1]["at"],
        "confirmed_at": at["confirmed"],
        "paid_at": at["paid"],
        "cancelled_at": audit[-1]["at"] if status == S.CANCELLED else None,
        "cancel_reason": "customer changed mind" if status == S.CANCELLED else None,
    }
    subject = f"order:{n}"
    clocks = [
        {
            "subject": subject,
            "kind": OrderClock.PAY,
            "owner_id": None,
            "state": "met" if paid else ("running" if status == S.CONFIRMED else "met"),
            "started_at": created,
            "deadline": created + timedelta(minutes=30),
            "paused_at": None,
            "stopped_at": at["paid"] or (None if status == S.CONFIRMED else audit[-1]["at"]),
            "breached_at": None,
        }
    ]
    if status == S.CONFIRMED and clocks[0]["deadline"] <= now:  # swept: breached, not yet cancelled
        clocks[0].update(state="breached", breached_at=clocks[0]["deadline"])
    if paid:
        late = status == S.PAID and at["paid"] + timedelta(hours=48) <= now  # swept by the worker
        clocks.append(
            {
                "subject": subject,
                "kind": OrderClock.SHIP,
                "owner_id": None,
                "state": "running" if status == S.PAID and not late else ("breached" if late else "met"),
                "started_at": at["paid"],
                "deadline": at["paid"] + timedelta(hours=48),
                "paused_at": None,
                "stopped_at": None if status == S.PAID else audit[-1]["at"],
                "breached_at": at["paid"] + timedelta(hours=48) if late else None,
            }
        )
    payment = receipt = None
    if paid:
        payment = {
            "id": n,
            "order_id": n,
            "provider": "sandbox",
            "method": rng.choice(("alipay", "wechat", "card")),
            "amount": order["total"],
            "status": "succeeded",
            "created_by": None,
            "created_at": at["paid"],
            "updated_at": at["paid"],
        }
        receipt = {
            "payment_id": n,
            "order_id": n,
            "customer_hash": "0" * 64,
            "method": payment["method"],
            "amount": order["total"],
            "received_at": at["paid"],
        }
    return {
        "orders": [order],
        "order_lines": lines,
        "audit_log": audit,
        "sla_clocks": clocks,
        "payments": [payment] if payment else [],
        "payment_receipts": [receipt] if receipt else [],
        **_fulfilled(order, lines, path, audit),
    }


def _fulfilled(
    order: dict[str, Any], lines: list[dict[str, Any]], path: list[S], audit: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """A shipped order's pick task, shipment and tracking events, as rows per table."""
    if order["status"] not in SHIPPED:
        return {}
    n = order["id"]
    shipped_at = audit[path.index(S.SHIPPED)]["at"]
    delivered_at = audit[path.index(S.DELIVERED)]["at"] if S.DELIVERED in path else None
    events = [
        ("picked_up", shipped_at + timedelta(seconds=10)),
        ("in_transit", shipped_at + timedelta(seconds=20)),
    ]
    if delivered_at is not None:
        events.append(("delivered", delivered_at))
    task = {
        "id": n,
        "wave_id": (n - 1) // WAVE_SIZE + 1,
        "order_id": n,
        "order_no": order["order_no"],
        "warehouse_id": WAREHOUSE_ID,
        "status": "shipped",
        "weight_g": 600,
        "materials": ["纸箱 M"],
        "qc_failures": 0,
        "created_at": order["paid_at"],
        "updated_at": shipped_at,
    }
    shipment = {
        "id": n,
        "task_id": n,
        "order_id": n,
        "warehouse_id": WAREHOUSE_ID,
        "carrier_id": CARRIER_ID,
        "tracking_no": f"SF-{n:012d}",
        "status": "delivered" if delivered_at else "in_transit",
        "weight_g": 600,
        "expected_cost": 1200,
        "shipped_at": shipped_at,
        "deliver_by": shipped_at + timedelta(hours=policy.current().orders.deliver_within_hours),
        "delivered_at": delivered_at,
        "last_event": events[-1][0],
        "last_event_at": events[-1][1],
    }
    return {
        "pick_tasks": [task],
        "pick_task_lines": [
            {key: line[key] for key in ("sku_id", "sku_code", "name", "quantity")} | {"task_id": n}
            for line in lines
        ],
        "shipments": [shipment],
        "tracking_events": [
            {"shipment_id": n, "status": status, "occurred_at": at, "source": "push", "received_at": at}
            for status, at in events
        ],
    }


TABLES = {
    "orders": Order,
    "order_lines": OrderLine,
    "audit_log": AuditEntry,
    "sla_clocks": sla.SlaClock,
    "payments": Payment,
    "payment_receipts": PaymentReceipt,
    "pick_tasks": PickTask,
    "pick_task_lines": PickTaskLine,
    "shipments": Shipment,
    "tracking_events": TrackingEvent,
}
ORDERS = 100_000
BATCH = 5_000


async def _load(db: Database, count: int, skus: list[tuple[int, str, str, int]]) -> list[int]:
    """The orders and their history; the ids of the shipments among them."""
    rng = random.Random(11)
    now = clock.now()
    shipped = []
    async with db.transaction() as session:
        waves_at = [
            now - timedelta(days=60) * (1 - k * WAVE_SIZE / count) for k in range(count // WAVE_SIZE + 1)
        ]
        rows = [
            {
                "id": k + 1,
                "wave_no": f"W{k + 1:010d}",
                "warehouse_id": WAREHOUSE_ID,
                "status": "done",
                "created_at": at,
                "done_at": at + timedelta(days=1),
            }
            for k, at in enumerate(waves_at)
        ]
        await session.execute(insert(Wave), rows)
    for start in range(1, count + 1, BATCH):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        for n in range(start, min(start + BATCH, count + 1)):
            for name, rows in _rows(n, count, skus, now, rng).items():
                batch[name].extend(rows)
        async with db.transaction() as session:
            for name, model in TABLES.items():
                if batch[name]:
                    await session.execute(insert(model), batch[name])
        shipped += [row["id"] for row in batch["shipments"]]
        print(f"\r  loaded {min(start + BATCH - 1, count):,} orders", end="", flush=True)
    print()
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT setval('orders_id_seq', (SELECT max(id) FROM orders))"))
            await conn.execute(text("SELECT setval('payments_id_seq', (SELECT max(id) FROM payments))"))
            for table in ("waves", "pick_tasks", "shipments"):
                await conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
            await conn.commit()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    else:
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    return shipped


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _timed(work: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    await work()  # warm caches and templates
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


async def _signed_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    reply = await client.post("/login", data={"csrf": token, "username": "manager", "password": PASSWORD})
    assert reply.status_code == 303, reply.text


def _baselines(
    db: Database, count: int, shipped: list[int], rng: random.Random, key: str
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The queries of each page through the same services, without HTTP and templates; `key` is
    a console session's, looked up as every page looks up its reader's."""

    def unit(work: Callable[[AsyncSession], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with db.transaction() as session:
                await access.session_actor(session, key)
                return await work(session)

        return run

    async def listing(session: AsyncSession, **filters: Any) -> None:
        found, _, _ = await orders.list_orders(session, **filters)
        await orders.clocks(session, [o.id for o in found])

    async def detail(session: AsyncSession) -> None:
        order_id = rng.randint(1, count)
        await orders.get_order(session, order_id)
        await orders.history(session, order_id)
        await inventory.list_warehouses(session)
        await sla.of_subject(session, f"order:{order_id}")
        await payments.payments_of(session, order_id)
        await orders.reservations(session, order_id)

    async def today(session: AsyncSession) -> None:
        await orders.status_counts(session)
        await sla.late_by_kind(session, clock.now())
        await sla.late(session, clock.now(), SHORT_LIST)
        await alerts.page(session, alerts.AlertFilter(state=alerts.AlertState.OPEN), 0, 5)
        await inventory.low_stock(session, SHORT_LIST)
        await payments.takings(session, clock.local_day_bounds(clock.today()))

    async def wave_list(session: AsyncSession) -> None:
        await waves.list_waves(session, None, None, 1, policy.current().orders.page_size)
        await inventory.list_warehouses(session)

    async def shipment(session: AsyncSession) -> None:
        found = await shipping.get_shipment(session, rng.choice(shipped))
        await shipping.timeline(session, found.id)
        cases = await shipping.exceptions_of(session, found.id)
        await carriers.carriers_by_id(session, {found.carrier_id})
        await waves.order_numbers(session, {found.task_id})
        await inventory.list_warehouses(session)
        await tracking.contact_clocks(session, [case.id for case in cases])
        await sla.of_subject(session, shipment_subject(found.id))

    since = (clock.now() - timedelta(days=7)).astimezone(UTC)
    return {
        "list": unit(lambda s: listing(s)),
        "list paid": unit(lambda s: listing(s, status=S.PAID)),
        "list tmall 7 days": unit(lambda s: listing(s, channel="tmall", created_from=since)),
        "list page 1000": unit(lambda s: listing(s, page=1000)),
        "search": unit(lambda s: listing(s, number=f"TM{count // 2:012d}")),
        "detail": unit(detail),
        "today": unit(today),
        "waves": unit(wave_list),
        "shipment": unit(shipment),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shopflow-bench-"))
    settings = Settings(
        database_url=args.database_url, secret_key=Fernet.generate_key().decode(), data_dir=tmp
    )
    crypto.install(settings.fernet_key())
    policy.install(policy.Policy())
    print(f"database: {args.database_url} (wiped)")
    await asyncio.to_thread(fresh_database, args.database_url)
    db = Database.from_url(args.database_url)
    began = time.perf_counter()
    skus = await _store(db)
    shipped = await _load(db, args.orders, skus)
    print(f"  {args.orders:,} orders loaded in {time.perf_counter() - began:.1f} s")

    rng = random.Random(5)
    since = (clock.now() - timedelta(days=7)).astimezone(clock.store_zone()).date()
    paths: dict[str, Callable[[], str]] = {
        "list": lambda: "/orders",
        "list paid": lambda: "/orders?status=paid",
        "list tmall 7 days": lambda: f"/orders?channel=tmall&date_from={since}",
        "list page 1000": lambda: "/orders?page=1000",
        "search": lambda: f"/orders?q=TM{args.orders // 2:012d}",
        "detail": lambda: f"/orders/{rng.randint(1, args.orders)}",
        "today": lambda: "/",
        "waves": lambda: "/fulfillment",
        "shipment": lambda: f"/fulfillment/shipments/{rng.choice(shipped)}",
    }
    app = create_app(db=db, settings=settings)
    async with db.transaction() as session:
        key = await access.start_session(session, (await auth.find_user(session, "manager")).actor())
    baselines = _baselines(db, args.orders, shipped, random.Random(5), key)
    transport = httpx.ASGITransport(app=app)
    failed = False
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await _signed_in(client)
        print(
            f"\n{'page':<20}{'p50 ms':>9}{'p95 ms':>9}{'queries p50':>13}{'queries p95':>13}{'p95 ratio':>11}"
        )
        for name, path in paths.items():

            async def page(path: Callable[[], str] = path) -> None:
                reply = await client.get(path())
                assert reply.status_code == 200, (reply.status_code, reply.text[:500])

            p50, p95 = _stats(await _timed(page, args.rounds))
            b50, b95 = _stats(await _timed(baselines[name], args.rounds))
            failed |= p95 > TARGET_MS
            flag = "" if p95 <= TARGET_MS else f"  over {TARGET_MS:.0f} ms"
            print(f"{name:<20}{p50:>9.1f}{p95:>9.1f}{b50:>13.1f}{b95:>13.1f}{p95 / b95:>10.1f}x{flag}")
    await db.dispose()
    print(f"\ntarget: p95 under {TARGET_MS:.0f} ms per page: {'missed' if failed else 'met'}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
