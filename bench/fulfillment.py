"""Fulfillment: paid orders through waves, packing and shipping per second, and the ratio to a baseline.

    .venv/bin/python bench/fulfillment.py [--orders 10000 --concurrency 4 --wave-size 200 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_ful] [--quick]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.
Create it once: psql -h 127.0.0.1 -U postgres -d test -c 'CREATE DATABASE shopflow_bench_ful'

Set-up: two warehouses, 40 SKUs, two carriers with rules, and 2 x N paid orders written by bulk
SQL as the services leave them (order, 2 lines, active reservations with the stock's reserved
units raised to match, the running ship-by clock); a fifth of them split over both warehouses.
The first N (earlier ship-by) go to the baseline, the last N to Shopflow.

Measured, each phase over N orders, for Shopflow's services (one transaction per wave build,
per pack, check, ship, as the API runs them) and for a baseline of the same writes in bare SQL
through asyncpg (no ORM, no services), with the same transactions and concurrency:
  waves     build waves of --wave-size orders until none is left (one builder)
  packing   pack and pass the check of every parcel (--concurrency stations)
  shipping  ship every parcel: carrier by rule, waybill, stock out through the ledger, the
            order shipped with its clocks and outbox notice when its last parcel leaves
Afterwards the database is checked: every order shipped, every reservation consumed, each
stock row's on-hand equal to its ledger sum and its reserved units to its active reservations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from common import CONTACT, fresh_database, run
from cryptography.fernet import Fernet
from sqlalchemy import text

from shopflow.catalog import service as catalog
from shopflow.catalog.models import PriceBand
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import crypto, money, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.fulfillment.models.shipments import new_waybill
from shopflow.fulfillment.schemas import CarrierIn, CheckIn, PackIn, RuleIn, ShipIn
from shopflow.fulfillment.service import carriers, packing, shipping, waves
from shopflow.inventory import service as inventory
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_ful"
WAREHOUSES = (("BW-1", "上海"), ("BW-2", "广东"))
SKUS = 40
UNITS = 1_000_000
SPLIT_EVERY = 5  # every fifth order takes its second line from the second warehouse
PRICE = 5000  # fen per unit; two lines: 100.00, above the free-shipping threshold
ACTOR = Actor(user_id=None, name="bench", role="admin")
T = TypeVar("T")


# --- the store and its paid orders ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Store:
    skus: list[tuple[int, str, str]]  # id, code, name
    stock: dict[tuple[int, int], int]  # (sku id, warehouse id) -> stock row id
    warehouses: list[int]


async def _store(db: Database) -> Store:
    async with db.transaction() as session:
        for priority, (code, province) in enumerate(WAREHOUSES, start=1):
            data = WarehouseIn(code=code, name=f"仓库 {code}", province=province, priority=priority)
            await inventory.create_warehouse(session, ACTOR, data)
        codes = [f"FUL-{n:03d}" for n in range(SKUS)]
        skus = [
            SkuIn(
                code=code,
                name=f"茶叶礼盒 {code}",
                price=money.fmt(PRICE),
                cost=money.fmt(PRICE // 2),
                weight_g=600,
                price_band=PriceBand.PROFIT,
            )
            for code in codes
        ]
        await catalog.create_product(session, ACTOR, ProductIn(name="茶叶礼盒", skus=skus))
        for code, _ in WAREHOUSES:
            lines = [ReceiptLineIn(sku=sku, quantity=UNITS) for sku in codes]
            await inventory.receive(
                session, ACTOR, ReceiptIn(warehouse=code, reference="opening", lines=lines)
            )
        for code, name, url in (
            ("SF", "顺丰速运", "https://sf.example/t/{tracking_no}"),
            ("YTO", "圆通速递", "https://yto.example/t/{tracking_no}"),
        ):
            data = CarrierIn(code=code, name=name, tracking_url=url, base_fee="12.00", per_kg_fee="2.00")
            await carriers.create_carrier(session, ACTOR, data)
        await carriers.add_rule(session, ACTOR, RuleIn(carrier="SF", priority=10, province="上海"))
        await carriers.add_rule(session, ACTOR, RuleIn(carrier="YTO", priority=100))
        rows = await session.execute(text("SELECT id, code, name FROM skus ORDER BY id"))
        sku_rows = [(r.id, r.code, r.name) for r in rows]
        stock = await session.execute(text("SELECT id, sku_id, warehouse_id FROM stock"))
        stock_ids = {(r.sku_id, r.warehouse_id): r.id for r in stock}
        found = await session.execute(text("SELECT id FROM warehouses ORDER BY priority"))
        return Store(sku_rows, stock_ids, [r.id for r in found])


async def _paid_orders(url: str, store: Store, count: int) -> None:
    """`count` paid orders as the services leave them, by COPY."""
    sealed = crypto.vault().seal(CONTACT)
    phone_hash = crypto.vault().lookup_hash("13800138000")
    start = datetime.now(UTC) - timedelta(hours=1)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            paid = [start + timedelta(milliseconds=i) for i in range(count)]
            await conn.copy_records_to_table(
                "orders",
                columns=[
                    "order_no",
                    "channel",
                    "status",
                    "contact",
                    "phone_hash",
                    "ship_province",
                    "subtotal",
                    "shipping_fee",
                    "discount",
                    "total",
                    "created_at",
                    "updated_at",
                    "confirmed_at",
                    "paid_at",
                ],
                records=[
                    (
                        f"BF{i:010d}",
                        "bench",
                        "paid",
                        sealed,
                        phone_hash,
                        "上海" if i % 3 else "广东",
                        2 * PRICE,
                        0,
                        0,
                        2 * PRICE,
                        at,
                        at,
                        at,
                        at,
                    )
                    for i, at in enumerate(paid)
                ],
            )
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM orders ORDER BY id")]
            lines, held = [], []
            reserved: dict[int, int] = {}
            for i, order_id in enumerate(ids):
                first, second = store.skus[i % SKUS], store.skus[(i + 1) % SKUS]
                where = (
                    store.warehouses[0],
                    store.warehouses[1] if i % SPLIT_EVERY == 0 else store.warehouses[0],
                )
                for (sku_id, code, name), warehouse_id in zip((first, second), where, strict=True):
                    stock_id = store.stock[(sku_id, warehouse_id)]
                    lines.append((order_id, sku_id, code, name, 1, PRICE, 0, PRICE))
                    held.append((order_id, sku_id, warehouse_id, stock_id, 1, "active"))
                    reserved[stock_id] = reserved.get(stock_id, 0) + 1
            await conn.copy_records_to_table(
                "order_lines",
                columns=[
                    "order_id",
                    "sku_id",
                    "sku_code",
                    "name",
                    "quantity",
                    "unit_price",
                    "discount",
                    "line_total",
                ],
                records=lines,
            )
            await conn.copy_records_to_table(
                "reservations",
                columns=["order_id", "sku_id", "warehouse_id", "stock_id", "quantity", "state"],
                records=held,
            )
            await conn.executemany(
                "UPDATE stock SET reserved = reserved + $2 WHERE id = $1", sorted(reserved.items())
            )
            ship_within = timedelta(hours=policy.current().orders.ship_within_hours)
            await conn.copy_records_to_table(
                "sla_clocks",
                columns=["subject", "kind", "state", "started_at", "deadline"],
                records=[
                    (f"order:{order_id}", "order.ship", "running", at, at + ship_within)
                    for order_id, at in zip(ids, paid, strict=True)
                ],
            )
    finally:
        await conn.close()


# --- Shopflow's services -----------------------------------------------------------------------


async def _stations(concurrency: int, items: list[int], one: Callable[[int], Awaitable[None]]) -> None:
    queue = list(reversed(items))

    async def station() -> None:
        while queue:
            await one(queue.pop())

    await asyncio.gather(*(station() for _ in range(concurrency)))


async def service_waves(db: Database, size: int) -> list[int]:
    """Build waves until no paid order is left (the baseline took its orders first); the tasks made."""
    made: list[int] = []
    while True:
        async with db.transaction() as session:
            built = await waves.build_waves(session, ACTOR, size)
        if not built:
            break
        made += [w.id for w in built]
    async with db.transaction() as session:
        found = await session.execute(
            text("SELECT id FROM pick_tasks WHERE wave_id = ANY(:waves)"), {"waves": made}
        )
        return sorted(r.id for r in found)


async def service_pack(db: Database, tasks: list[int], concurrency: int) -> None:
    async def one(task_id: int) -> None:
        async with db.transaction() as session:
            await packing.pack(session, ACTOR, task_id, PackIn(weight_g=1250, materials=["纸箱 M"]))
        async with db.transaction() as session:
            await packing.check(session, ACTOR, task_id, CheckIn(passed=True))

    await _stations(concurrency, tasks, one)


async def service_ship(db: Database, tasks: list[int], concurrency: int) -> None:
    async def one(task_id: int) -> None:
        async with db.transaction() as session:
            await shipping.ship(session, ACTOR, task_id, ShipIn())

    await _stations(concurrency, tasks, one)


# --- the baseline: the same writes in bare SQL ----------------------------------------------------

READY = """
SELECT o.id, o.order_no FROM orders o WHERE o.status = 'paid'
ORDER BY coalesce((SELECT c.deadline FROM sla_clocks c
                   WHERE c.subject = 'order:' || o.id::text AND c.kind = 'order.ship'), o.paid_at), o.id
LIMIT $1 FOR UPDATE OF o SKIP LOCKED
"""
AUDIT = (
    "INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after)"
    " SELECT $1, NULL, 'bench', a, e, i, b::jsonb, f::jsonb"
    " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS x(a, e, i, b, f)"
)


async def audit(
    conn: asyncpg.Connection, at: datetime, rows: list[tuple[str, str, object, Any, Any]]
) -> None:
    columns = list(
        zip(*((a, e, str(i), json.dumps(b), json.dumps(f)) for a, e, i, b, f in rows), strict=True)
    )
    await conn.execute(AUDIT, at, *(list(c) for c in columns))


async def baseline_waves(pool: asyncpg.Pool, orders: int, size: int) -> list[int]:
    made: list[int] = []
    taken = 0
    while taken < orders:
        async with pool.acquire() as conn, conn.transaction():
            at = datetime.now(UTC)
            picked = await conn.fetch(READY, min(size, orders - taken))
            ids = [r["id"] for r in picked]
            numbers = {r["id"]: r["order_no"] for r in picked}
            held = await conn.fetch(
                "SELECT order_id, warehouse_id, sku_id, quantity FROM reservations"
                " WHERE order_id = ANY($1::bigint[]) AND state = 'active' ORDER BY order_id, id",
                ids,
            )
            names = {
                (r["order_id"], r["sku_id"]): (r["sku_code"], r["name"])
                for r in await conn.fetch(
                    "SELECT order_id, sku_id, sku_code, name FROM order_lines"
                    " WHERE order_id = ANY($1::bigint[])",
                    ids,
                )
            }
            await conn.execute(
                "UPDATE orders SET status = 'picking', updated_at = $2 WHERE id = ANY($1::bigint[])", ids, at
            )
            await audit(
                conn,
                at,
                [("order.picking", "order", i, {"status": "paid"}, {"status": "picking"}) for i in ids],
            )
            plan: dict[int, dict[int, list[tuple[int, int]]]] = {}
            for r in held:
                plan.setdefault(r["warehouse_id"], {}).setdefault(r["order_id"], []).append(
                    (r["sku_id"], r["quantity"])
                )
            for warehouse_id, per_order in sorted(plan.items()):
                wave_id = await conn.fetchval(
                    "INSERT INTO waves (wave_no, warehouse_id, status, created_at)"
                    " VALUES ($1, $2, 'open', $3) RETURNING id",
                    f"B{secrets.token_hex(8)}",
                    warehouse_id,
                    at,
                )
                ranked = [i for i in ids if i in per_order]
                task_ids = await conn.fetch(
                    "INSERT INTO pick_tasks (wave_id, order_id, order_no, warehouse_id, status, qc_failures,"
                    " created_at, updated_at) SELECT $1, o, n, $2, 'picking', 0, $3, $3"
                    " FROM unnest($4::bigint[], $5::text[]) WITH ORDINALITY AS x(o, n, k)"
                    " ORDER BY k RETURNING id",
                    wave_id,
                    warehouse_id,
                    at,
                    ranked,
                    [numbers[i] for i in ranked],
                )
                task_lines = [
                    (task["id"], sku_id, *names[(order_id, sku_id)], quantity)
                    for task, order_id in zip(task_ids, ranked, strict=True)
                    for sku_id, quantity in per_order[order_id]
                ]
                await conn.executemany(
                    "INSERT INTO pick_task_lines (task_id, sku_id, sku_code, name, quantity)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    task_lines,
                )
                await audit(conn, at, [("wave.built", "wave", wave_id, None, {"orders": ranked})])
                made += [task["id"] for task in task_ids]
            taken += len(ids)
    return sorted(made)


async def _lock_task(conn: asyncpg.Connection, task_id: int) -> asyncpg.Record:
    order_id = await conn.fetchval("SELECT order_id FROM pick_tasks WHERE id = $1", task_id)
    await conn.execute("SELECT id FROM orders WHERE id = $1 FOR UPDATE", order_id)
    return await conn.fetchrow("SELECT * FROM pick_tasks WHERE id = $1 FOR UPDATE", task_id)


async def baseline_pack(pool: asyncpg.Pool, tasks: list[int], concurrency: int) -> None:
    async def one(task_id: int) -> None:
        async with pool.acquire() as conn:
            async with conn.transaction():
                at = datetime.now(UTC)
                task = await _lock_task(conn, task_id)
                await conn.execute(
                    "UPDATE pick_tasks SET status = 'packed', weight_g = 1250, materials = $2::jsonb,"
                    " updated_at = $3 WHERE id = $1",
                    task_id,
                    json.dumps(["纸箱 M"]),
                    at,
                )
                await audit(
                    conn,
                    at,
                    [("pick_task.packed", "pick_task", task_id, {"status": "picking"}, {"status": "packed"})],
                )
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pick_tasks WHERE order_id = $1 AND status = 'picking'",
                    task["order_id"],
                )
                if waiting == 0:
                    await conn.execute(
                        "UPDATE orders SET status = 'packed', updated_at = $2 WHERE id = $1",
                        task["order_id"],
                        at,
                    )
                    await audit(
                        conn,
                        at,
                        [
                            (
                                "order.packed",
                                "order",
                                task["order_id"],
                                {"status": "picking"},
                                {"status": "packed"},
                            )
                        ],
                    )
            async with conn.transaction():
                at = datetime.now(UTC)
                await _lock_task(conn, task_id)
                await conn.execute(
                    "UPDATE pick_tasks SET status = 'checked', updated_at = $2 WHERE id = $1", task_id, at
                )
                await audit(
                    conn,
                    at,
                    [
                        (
                            "pick_task.check_passed",
                            "pick_task",
                            task_id,
                            {"status": "packed"},
                            {"status": "checked"},
                        )
                    ],
                )

    await _stations(concurrency, tasks, one)


async def baseline_ship(pool: asyncpg.Pool, tasks: list[int], concurrency: int) -> None:
    stuck_after = timedelta(hours=policy.current().fulfillment.stuck_without_event_hours)
    deliver_within = timedelta(hours=policy.current().orders.deliver_within_hours)

    async def one(task_id: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            at = datetime.now(UTC)
            task = await _lock_task(conn, task_id)
            order = await conn.fetchrow(
                "SELECT ship_province, subtotal FROM orders WHERE id = $1", task["order_id"]
            )
            await conn.execute(
                "UPDATE pick_tasks SET status = 'shipped', updated_at = $2 WHERE id = $1", task_id, at
            )
            carrier = await conn.fetchrow(
                "SELECT c.id, c.code, c.base_fee, c.per_kg_fee FROM carrier_rules r"
                " JOIN carriers c ON c.id = r.carrier_id WHERE c.active"
                " AND (r.province IS NULL OR r.province = $1) ORDER BY r.priority, r.id LIMIT 1",
                order["ship_province"],
            )
            cost = carrier["base_fee"] + -(-(task["weight_g"] - 1000) // 1000) * carrier["per_kg_fee"]
            tracking_no = new_waybill(carrier["code"])
            shipment_id = await conn.fetchval(
                "INSERT INTO shipments (task_id, order_id, warehouse_id, carrier_id, tracking_no, status,"
                " weight_g, expected_cost, shipped_at, deliver_by)"
                " VALUES ($1, $2, $3, $4, $5, 'shipped', $6, $7, $8, $9)"
                " ON CONFLICT (tracking_no) DO NOTHING RETURNING id",
                task_id,
                task["order_id"],
                task["warehouse_id"],
                carrier["id"],
                tracking_no,
                task["weight_g"],
                cost,
                at,
                at + deliver_within,
            )
            consumed = await conn.fetch(
                "UPDATE reservations SET state = 'consumed' WHERE order_id = $1 AND warehouse_id = $2"
                " AND state = 'active' RETURNING stock_id, sku_id, quantity",
                task["order_id"],
                task["warehouse_id"],
            )
            balances = await conn.fetch(
                "UPDATE stock SET on_hand = stock.on_hand - x.q, reserved = stock.reserved - x.q"
                " FROM unnest($1::bigint[], $2::bigint[]) AS x(id, q) WHERE stock.id = x.id"
                " RETURNING stock.id, stock.on_hand",
                [r["stock_id"] for r in consumed],
                [r["quantity"] for r in consumed],
            )
            on_hand = {r["id"]: r["on_hand"] for r in balances}
            await conn.executemany(
                "INSERT INTO stock_ledger (sku_id, warehouse_id, kind, quantity, balance_after, reference,"
                " at) VALUES ($1, $2, 'shipment', $3, $4, $5, $6)",
                [
                    (
                        r["sku_id"],
                        task["warehouse_id"],
                        -r["quantity"],
                        on_hand[r["stock_id"]],
                        f"shipment:{shipment_id}",
                        at,
                    )
                    for r in consumed
                ],
            )
            await conn.execute(
                "INSERT INTO sla_clocks (subject, kind, state, started_at, deadline)"
                " VALUES ($1, 'shipment.no_event', 'running', $2, $3) ON CONFLICT DO NOTHING",
                f"shipment:{shipment_id}",
                at,
                at + stuck_after,
            )
            await audit(
                conn,
                at,
                [
                    ("pick_task.shipped", "pick_task", task_id, {"status": "checked"}, {"status": "shipped"}),
                    ("shipment.created", "shipment", shipment_id, None, {"tracking_no": tracking_no}),
                ],
            )
            left = await conn.fetchval(
                "SELECT count(*) FROM pick_tasks WHERE order_id = $1 AND status <> 'shipped'",
                task["order_id"],
            )
            if left == 0:
                order_id = task["order_id"]
                await conn.execute(
                    "UPDATE orders SET status = 'shipped', shipped_at = $2, updated_at = $2 WHERE id = $1",
                    order_id,
                    at,
                )
                await conn.execute(
                    "UPDATE sla_clocks SET state = 'met', stopped_at = $2 WHERE subject = $1"
                    " AND kind = 'order.ship' AND state IN ('running', 'paused')",
                    f"order:{order_id}",
                    at,
                )
                await conn.execute(
                    "INSERT INTO sla_clocks (subject, kind, state, started_at, deadline)"
                    " VALUES ($1, 'order.deliver', 'running', $2, $3) ON CONFLICT DO NOTHING",
                    f"order:{order_id}",
                    at,
                    at + deliver_within,
                )
                parcels = await conn.fetch(
                    "SELECT s.tracking_no, c.code FROM shipments s JOIN carriers c ON c.id = s.carrier_id"
                    " WHERE s.order_id = $1",
                    order_id,
                )
                notice = {
                    "order_id": order_id,
                    "shipments": [{"carrier": p["code"], "tracking_no": p["tracking_no"]} for p in parcels],
                }
                await conn.execute(
                    "INSERT INTO outbox (event, subject, payload, created_at, available_at, attempts)"
                    " VALUES ('order.shipped', $1, $2::jsonb, $3, $3, 0)",
                    f"order:{order_id}",
                    json.dumps(notice),
                    at,
                )
                await audit(
                    conn,
                    at,
                    [("order.shipped", "order", order_id, {"status": "packed"}, {"status": "shipped"})],
                )
            await conn.execute("SELECT id FROM waves WHERE id = $1 FOR UPDATE", task["wave_id"])
            open_tasks = await conn.fetchval(
                "SELECT count(*) FROM pick_tasks WHERE wave_id = $1 AND status <> 'shipped'", task["wave_id"]
            )
            if open_tasks == 0:
                await conn.execute(
                    "UPDATE waves SET status = 'done', done_at = $2 WHERE id = $1", task["wave_id"], at
                )

    await _stations(concurrency, tasks, one)


# --- checks and the report -----------------------------------------------------------------------

CHECKS = {
    "orders not shipped": "SELECT count(*) FROM orders WHERE status <> 'shipped'",
    "active reservations": "SELECT count(*) FROM reservations WHERE state = 'active'",
    "parcels without a shipment": "SELECT count(*) FROM pick_tasks t"
    " LEFT JOIN shipments s ON s.task_id = t.id WHERE s.id IS NULL",
    "stock rows off their ledger": "SELECT count(*) FROM stock s WHERE s.on_hand <> (SELECT"
    " coalesce(sum(quantity), 0) FROM stock_ledger l"
    " WHERE l.sku_id = s.sku_id AND l.warehouse_id = s.warehouse_id)",
    "stock rows off their reservations": "SELECT count(*) FROM stock s WHERE s.reserved <> (SELECT"
    " coalesce(sum(quantity), 0) FROM reservations r WHERE r.stock_id = s.id AND r.state = 'active')",
    "waves not done": "SELECT count(*) FROM waves WHERE status <> 'done'",
}


async def check(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        return {name: int(await conn.fetchval(sql)) for name, sql in CHECKS.items()}
    finally:
        await conn.close()


async def timed(work: Awaitable[T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = await work
    return result, time.perf_counter() - began


async def main_async(url: str, orders: int, size: int, concurrency: int) -> int:
    began = time.perf_counter()
    db = Database.from_url(url)
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    try:
        store = await _store(db)
        await _paid_orders(url, store, 2 * orders)
        print(
            f"store: {SKUS} SKUs x {len(WAREHOUSES)} warehouses, {2 * orders} paid orders"
            f" (1 in {SPLIT_EVERY} split), ready in {time.perf_counter() - began:.1f} s"
        )
        base_tasks, base_waves = await timed(baseline_waves(pool, orders, size))
        tasks, waves_s = await timed(service_waves(db, size))
        print(f"parcels: {len(base_tasks)} baseline, {len(tasks)} Shopflow for {orders} orders each")
        _, base_pack = await timed(baseline_pack(pool, base_tasks, concurrency))
        _, pack_s = await timed(service_pack(db, tasks, concurrency))
        _, base_ship = await timed(baseline_ship(pool, base_tasks, concurrency))
        _, ship_s = await timed(service_ship(db, tasks, concurrency))
    finally:
        await pool.close()
        await db.dispose()
    print(f"{'phase':<10}{'Shopflow orders/s':>20}{'baseline orders/s':>20}{'ratio':>8}")
    for name, ours, theirs in (
        ("waves", waves_s, base_waves),
        ("packing", pack_s, base_pack),
        ("shipping", ship_s, base_ship),
    ):
        print(f"{name:<10}{orders / ours:>20,.0f}{orders / theirs:>20,.0f}{theirs / ours:>8.2f}")
    failed = {name: n for name, n in (await check(url)).items() if n}
    print("checks: " + ("all hold" if not failed else ", ".join(f"{k}: {v}" for k, v in failed.items())))
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="paid orders per side")
    parser.add_argument("--wave-size", type=int, default=policy.Policy().fulfillment.wave_size)
    parser.add_argument("--concurrency", type=int, default=4, help="packing and shipping stations")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 500 orders")
    args = parser.parse_args()
    orders = 500 if args.quick else args.orders
    policy.install(policy.Policy())
    crypto.install(Fernet.generate_key())
    fresh_database(args.database_url)
    sys.exit(run(main_async(args.database_url, orders, args.wave_size, args.concurrency)))


if __name__ == "__main__":
    main()
