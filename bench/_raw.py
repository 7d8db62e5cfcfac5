"""The raw-SQL order transaction the baselines of bench/order_intake.py and bench/place_and_pay.py
run (asyncpg, no HTTP, no ORM): the order, its lines in one INSERT, one conditional UPDATE of its
stock rows (locked in primary-key order), the reservations, 2 audit rows and the outbox row."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from common import CONTACT, CUSTOMER
from cryptography.fernet import Fernet

from shopflow.core import crypto

LINES = 3  # every benchmark order has 3 lines of 1 unit
CHANNEL = "bench_raw"  # the channel of the baseline's orders, as INSERT_ORDER writes it
SHIP_WITHIN = timedelta(hours=48)
INSERT_ORDER = """
INSERT INTO orders (order_no, channel, channel_order_no, idempotency_key, status, contact, phone_hash,
    ship_province, buyer_ip, note, subtotal, shipping_fee, discount, total, created_by, created_at,
    updated_at, confirmed_at)
VALUES ($1, 'bench_raw', NULL, NULL, 'confirmed', $2, $3, $4, NULL, NULL, $5, $6, 0, $7, $8, $9, $9, $9)
ON CONFLICT DO NOTHING RETURNING id
"""
INSERT_LINES = (
    "INSERT INTO order_lines (order_id, sku_id, sku_code, name, quantity, unit_price, discount, line_total)"
    " VALUES "
    + ", ".join(
        f"($1, ${2 + 4 * i}, ${3 + 4 * i}, ${4 + 4 * i}, 1, ${5 + 4 * i}, 0, ${5 + 4 * i})"
        for i in range(LINES)
    )
)
# Plain parameters rather than arrays: PostgreSQL re-plans a statement with an array parameter at
# every execution, which would handicap the baseline.
WANTED = ", ".join(f"(${i + 1}::BIGINT, ${LINES + i + 1}::BIGINT)" for i in range(LINES))
RESERVE = f"""
UPDATE stock SET reserved = stock.reserved + wanted.quantity
FROM (VALUES {WANTED}) AS wanted(id, quantity)
WHERE stock.id = wanted.id AND stock.on_hand - stock.reserved >= wanted.quantity
  AND stock.id IN (
    SELECT id FROM stock WHERE id IN ({", ".join(f"${i + 1}" for i in range(LINES))}) ORDER BY id FOR UPDATE
  )
RETURNING stock.id
"""
INSERT_RESERVATIONS = (
    "INSERT INTO reservations (order_id, sku_id, warehouse_id, stock_id, quantity, state) VALUES "
    + ", ".join(f"($1, ${2 + 3 * i}, ${3 + 3 * i}, ${4 + 3 * i}, 1, 'active')" for i in range(LINES))
)
INSERT_AUDIT = """
INSERT INTO audit_log (at, actor_id, actor_name, action, entity, entity_id, before, after) VALUES
    ($1, $2, 'bench-admin', 'order.pending', 'order', $3, NULL, '{"status": "pending"}'),
    ($1, $2, 'bench-admin', 'order.confirmed', 'order', $3, '{"status": "pending"}',
        '{"status": "confirmed"}')
"""
INSERT_OUTBOX = (
    "INSERT INTO outbox (event, subject, payload, created_at, available_at, attempts) "
    "VALUES ('order.confirmed', $1, $2, $3, $3, 0)"
)


@dataclass(frozen=True, slots=True)
class SkuRow:
    id: int
    code: str
    name: str
    price: int
    stock_id: int  # the row the priority allocation takes from (first warehouse)
    warehouse_id: int


@dataclass(frozen=True, slots=True)
class Sealed:
    """The sample customer's contact as intake stores it: sealed, and its phone's blind index."""

    contact: str
    phone_hash: str

    @classmethod
    def new(cls) -> Sealed:
        vault = crypto.Vault(Fernet.generate_key())
        return cls(vault.seal(CONTACT), vault.lookup_hash(CUSTOMER["phone"]))


async def place_order(
    conn: asyncpg.Connection,
    skus: list[SkuRow],
    rng: random.Random,
    sealed: Sealed,
    admin_id: int,
    order_no: str,
) -> tuple[int, datetime]:
    """A confirmed order of `LINES` random SKUs, written in the caller's transaction; its id and
    time. RuntimeError when the stock runs short (it never should)."""
    picked = sorted(rng.sample(skus, LINES), key=lambda s: s.stock_id)
    subtotal = sum(s.price for s in picked)
    shipping = 0 if subtotal >= 9900 else 1000
    at = datetime.now(UTC)
    order_id = await conn.fetchval(
        INSERT_ORDER,
        order_no,
        sealed.contact,
        sealed.phone_hash,
        CONTACT["shipping_address"]["province"],
        subtotal,
        shipping,
        subtotal + shipping,
        admin_id,
        at,
    )
    line_args: list[Any] = []
    for s in picked:
        line_args += [s.id, s.code, s.name, s.price]
    await conn.execute(INSERT_LINES, order_id, *line_args)
    won = await conn.fetch(RESERVE, *[s.stock_id for s in picked], *[1] * LINES)
    if len(won) != LINES:
        raise RuntimeError("stock short in the baseline")
    reservations: list[Any] = []
    for s in picked:
        reservations += [s.id, s.warehouse_id, s.stock_id]
    await conn.execute(INSERT_RESERVATIONS, order_id, *reservations)
    await conn.execute(INSERT_AUDIT, at, admin_id, str(order_id))
    payload = {
        "order_id": order_id,
        "order_no": order_no,
        "channel": CHANNEL,
        "ship_by": (at + SHIP_WITHIN).isoformat(),
    }
    await conn.execute(INSERT_OUTBOX, f"order:{order_id}", json.dumps(payload), at)
    return order_id, at
