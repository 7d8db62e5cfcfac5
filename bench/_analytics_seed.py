"""The store history bench/analytics.py measures, built by the server (INSERT … SELECT over
generate_series; no row crosses the wire) into the real, migrated schema.

N orders spread evenly over the DAYS before the anchor (the time the data was made, which the
bench then uses as `clock.now()`), 3 lines each, among customers (one per four orders), 2,000 SKUs
of 500 products under a two-level category tree (one product in twenty without a category), in
six channels. Of the orders, by a hash of their number:
  6%    never paid: cancelled by the pay clock (the last minutes' still confirmed);
  1%    on credit (net30): count on confirmation, paid 20 days later;
  0.5%  replacements (the exchange channel, at 0): never count;
  1%    paid, then cancelled 2 hours later and refunded in full;
  2%    imported history without a customer (channel import);
  the rest paid within 20 minutes, shipped 1–60 hours later, delivered 12–91 hours after that,
  completed 7 days later and closed 15 days after that (each step only when before the anchor).
One paid order in 37 also has a failed payment attempt. One delivered order in 25 has a partial
refund settled 3 days after delivery with its after-sales case, one in 25 a failed refund; one in
50 a complaint ticket a day after delivery (one in ten never resolved), one in 40 an inquiry.
Clocks: every order's pay clock, each paid order's ship clock (48 h) and each shipped order's
deliver clock (72 h): met, breached (late), running, or breached and still open when overdue at the
anchor; each complaint's resolution clock and each case's review clock. The stock ledger: an
opening receipt of 200 and a weekly receipt for each SKU in each of 3 warehouses, and one shipment
row per line of each shipped order, with its running balance; the stock rows hold the final
balances. Daily traffic counts per channel. Then VACUUM ANALYZE.

A marker table (`bench_analytics_data`) records the size and the anchor, so a rerun with the same
size reuses the data."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

DAYS = 730
SKUS = 2000
PRODUCTS = 500
TOP_CATEGORIES = 8
SUBCATEGORIES = 4  # under each top-level category
WAREHOUSES = 3
CHANNELS = ("web", "tmall", "jd", "douyin", "manual")  # the sold channels, besides exchange and import
MARKER = "bench_analytics_data"
TABLES = (
    "categories",
    "products",
    "skus",
    "warehouses",
    "customers",
    "orders",
    "order_lines",
    "payments",
    "refunds",
    "aftersales_cases",
    "tickets",
    "sla_clocks",
    "stock_ledger",
    "stock",
    "traffic_counts",
)

CATALOG = [
    f"""
INSERT INTO categories (id, parent_id, name)
SELECT g, NULL, 'Category ' || g FROM generate_series(1, {TOP_CATEGORIES}) AS g
""",
    f"""
INSERT INTO categories (id, parent_id, name)
SELECT {TOP_CATEGORIES} + g, 1 + (g - 1) / {SUBCATEGORIES}, 'Subcategory ' || g
FROM generate_series(1, {TOP_CATEGORIES * SUBCATEGORIES}) AS g
""",
    f"""
INSERT INTO products (id, name, description, created_at, category_id)
SELECT g, 'Product ' || g, '', $1,
    CASE WHEN g % 20 = 0 THEN NULL ELSE {TOP_CATEGORIES} + 1 + g % {TOP_CATEGORIES * SUBCATEGORIES} END
FROM generate_series(1, {PRODUCTS}) AS g
""",
    f"""
INSERT INTO skus (id, product_id, code, name, price, cost, weight_g, price_band, sellable)
SELECT g, 1 + (g - 1) / {SKUS // PRODUCTS}, 'A-' || g, 'SKU ' || g, price,
    price * (40 + g % 30) / 100, 300, 'profit', TRUE
FROM (SELECT g, 1990 + (g * 37 % 200) * 100 AS price FROM generate_series(1, {SKUS}) AS g) AS s
""",
    f"""
INSERT INTO warehouses (id, code, name, province, priority, active)
SELECT g, 'W' || g, 'Warehouse ' || g, '上海', g, TRUE FROM generate_series(1, {WAREHOUSES}) AS g
""",
]

CUSTOMERS = """
INSERT INTO customers (id, personal, tags, tier, source, lifetime_value, order_count, created_at,
    updated_at)
SELECT g, $2, '[]', 'none', 'order', 0, 0, $3, $3 FROM generate_series(1, $1) AS g
"""

# Each order's fate and times; a time after the anchor has not happened (NULL).
PLAN = """
CREATE UNLOGGED TABLE bench_plan AS
WITH base AS (
    SELECT g, r,
        CAST($2 AS timestamptz)
            + make_interval(secs => (g - 1) * $3::float8 / $1 + (g::bigint * 7919) % 300) AS created,
        CASE WHEN r < 60 THEN 'unpaid' WHEN r < 70 THEN 'credit' WHEN r < 75 THEN 'exchange'
             WHEN r < 85 THEN 'refunded' ELSE 'paid' END AS kind
    FROM (SELECT g, (g * 2654435761) % 1000 AS r FROM generate_series(1, $1) AS g) AS numbered
), paid AS (
    SELECT *,
        CASE kind WHEN 'unpaid' THEN NULL WHEN 'credit' THEN created + interval '20 days'
             WHEN 'exchange' THEN created ELSE created + make_interval(mins => g % 20) END AS paid_at,
        CASE kind WHEN 'unpaid' THEN created + interval '30 minutes'
             WHEN 'refunded' THEN created + make_interval(mins => g % 20) + interval '2 hours'
        END AS cancelled_at
    FROM base
), shipped AS (
    SELECT *,
        CASE WHEN kind IN ('paid', 'exchange', 'credit')
             THEN CASE kind WHEN 'credit' THEN created ELSE paid_at END
                  + make_interval(hours => 1 + (g * 13) % 60) END AS shipped_at
    FROM paid
), planned AS (
    SELECT *, shipped_at + make_interval(hours => 12 + (g * 17) % 80) AS delivered_at FROM shipped
)
SELECT g, kind, created,
    CASE WHEN kind = 'exchange' THEN 'exchange' WHEN r BETWEEN 85 AND 104 THEN 'import'
         ELSE (CAST($5 AS text[]))[1 + g % cardinality(CAST($5 AS text[]))] END AS channel,
    CASE WHEN r BETWEEN 85 AND 104 THEN NULL ELSE 1 + (g::bigint * 48271) % $6 END AS customer_id,
    created AS confirmed_at,
    CASE WHEN paid_at <= $4 THEN paid_at END AS paid_at,
    CASE WHEN cancelled_at <= $4 THEN cancelled_at END AS cancelled_at,
    CASE WHEN shipped_at <= $4 THEN shipped_at END AS shipped_at,
    CASE WHEN delivered_at <= $4 THEN delivered_at END AS delivered_at,
    CASE WHEN delivered_at + interval '7 days' <= $4 THEN delivered_at + interval '7 days' END
        AS completed_at,
    CASE WHEN delivered_at + interval '22 days' <= $4 THEN delivered_at + interval '22 days' END
        AS closed_at
FROM planned
"""

LINES = f"""
CREATE UNLOGGED TABLE bench_lines AS
SELECT row_number() OVER (ORDER BY p.g, i) AS id, p.g AS order_id, s.id AS sku_id, s.code, s.name,
    q.quantity, CASE WHEN p.kind = 'exchange' THEN 0 ELSE s.price END AS unit_price, s.cost,
    CASE WHEN i = 0 AND p.g % 5 = 0 AND p.kind <> 'exchange' THEN 500 ELSE 0 END AS discount
FROM bench_plan AS p
CROSS JOIN generate_series(0, 2) AS i
CROSS JOIN LATERAL (SELECT 1 + ((p.g + i) * 31 % 5 = 0)::int AS quantity) AS q
JOIN skus AS s ON s.id = 1 + ((p.g::bigint * 3 + i) * 7907) % {SKUS}
"""

ORDERS = """
INSERT INTO orders (id, order_no, channel, channel_order_no, status, contact, phone_hash, customer_id,
    ship_province, subtotal, shipping_fee, discount, total, created_at, updated_at, confirmed_at,
    paid_at, cancelled_at, cancel_reason, shipped_at, delivered_at, completed_at, closed_at,
    payment_terms, payment_due_at)
SELECT p.g, 'SF' || lpad(p.g::text, 12, '0'), p.channel,
    CASE WHEN p.channel IN ('tmall', 'jd', 'douyin') THEN upper(left(p.channel, 2)) || p.g END,
    CASE WHEN p.cancelled_at IS NOT NULL THEN 'cancelled' WHEN p.closed_at IS NOT NULL THEN 'closed'
         WHEN p.completed_at IS NOT NULL THEN 'completed' WHEN p.delivered_at IS NOT NULL THEN 'delivered'
         WHEN p.shipped_at IS NOT NULL THEN 'shipped' WHEN p.paid_at IS NOT NULL AND p.kind <> 'credit'
         THEN 'paid' ELSE 'confirmed' END,
    $1, md5(coalesce(p.customer_id, -p.g)::text) || md5(coalesce(p.customer_id, -p.g)::text),
    p.customer_id, '上海', l.subtotal,
    CASE WHEN p.kind = 'exchange' OR l.subtotal >= 9900 THEN 0 ELSE 1000 END, l.discount,
    l.subtotal - l.discount + CASE WHEN p.kind = 'exchange' OR l.subtotal >= 9900 THEN 0 ELSE 1000 END,
    p.created,
    greatest(p.created, p.paid_at, p.cancelled_at, p.shipped_at, p.delivered_at, p.completed_at, p.closed_at),
    p.confirmed_at, p.paid_at, p.cancelled_at,
    CASE WHEN p.cancelled_at IS NOT NULL THEN 'bench' END,
    p.shipped_at, p.delivered_at, p.completed_at, p.closed_at,
    CASE WHEN p.kind = 'credit' THEN 'net30' END,
    CASE WHEN p.kind = 'credit' THEN p.created + interval '30 days' END
FROM bench_plan AS p
JOIN (SELECT order_id, sum(unit_price * quantity) AS subtotal, sum(discount) AS discount
      FROM bench_lines GROUP BY order_id) AS l ON l.order_id = p.g
"""

ORDER_LINES = """
INSERT INTO order_lines (id, order_id, sku_id, sku_code, name, quantity, unit_price, discount, line_total,
    unit_cost, cost_backfilled)
SELECT id, order_id, sku_id, code, name, quantity, unit_price, discount, unit_price * quantity - discount,
    cost, FALSE
FROM bench_lines
"""

# A captured payment per paid order (a credit order's when it was paid), and a failed attempt
# before it for one in 37.
PAYMENTS = """
INSERT INTO payments (id, order_id, provider, method, amount, status, created_at, updated_at, refund_reserved)
SELECT id, id, 'sandbox', (ARRAY['alipay', 'wechat', 'card'])[1 + id % 3], total, 'succeeded',
    paid_at, paid_at, 0
FROM orders WHERE paid_at IS NOT NULL AND channel <> 'exchange'
UNION ALL
SELECT $1 + id, id, 'sandbox', 'card', total, 'failed', paid_at - interval '5 minutes',
    paid_at - interval '5 minutes', 0
FROM orders WHERE paid_at IS NOT NULL AND channel <> 'exchange' AND id % 37 = 0
"""

REFUNDS = """
CREATE UNLOGGED TABLE bench_refunds AS
SELECT row_number() OVER (ORDER BY order_id, status) AS id, *
FROM (
    SELECT p.g AS order_id, o.total AS amount, p.cancelled_at AS requested_at,
        CASE WHEN p.cancelled_at + interval '1 hour' <= $1 THEN 'succeeded' ELSE 'pending' END AS status,
        CASE WHEN p.cancelled_at + interval '1 hour' <= $1 THEN p.cancelled_at + interval '1 hour' END
            AS settled_at,
        FALSE AS with_case
    FROM bench_plan AS p JOIN orders AS o ON o.id = p.g
    WHERE p.kind = 'refunded' AND p.cancelled_at IS NOT NULL
    UNION ALL
    SELECT p.g, greatest(1, o.total / 2), p.delivered_at + interval '1 day',
        CASE WHEN p.delivered_at + interval '3 days' <= $1 THEN 'succeeded' ELSE 'pending' END,
        CASE WHEN p.delivered_at + interval '3 days' <= $1 THEN p.delivered_at + interval '3 days' END,
        TRUE
    FROM bench_plan AS p JOIN orders AS o ON o.id = p.g
    WHERE p.kind = 'paid' AND p.g % 25 = 0 AND p.delivered_at + interval '1 day' <= $1
    UNION ALL
    SELECT p.g, greatest(1, o.total / 3), p.delivered_at + interval '1 day', 'failed', NULL, FALSE
    FROM bench_plan AS p JOIN orders AS o ON o.id = p.g
    WHERE p.kind = 'paid' AND p.g % 25 = 1 AND p.delivered_at + interval '1 day' <= $1
) AS planned
"""

CASES = """
INSERT INTO aftersales_cases (id, case_no, order_id, type, reason, opened, state, rule, deadline, items,
    discount_share, shipping, return_shipping, refund_total, refunded, created_at, updated_at,
    decided_at, refunded_at)
SELECT id, 'RMA' || lpad(id::text, 10, '0'), order_id, 'refund_only', 'quality', FALSE,
    CASE WHEN status = 'succeeded' THEN 'refunded' ELSE 'requested' END, 'bench',
    requested_at + interval '6 days', amount, 0, 0, 0, amount,
    CASE WHEN status = 'succeeded' THEN amount ELSE 0 END, requested_at, coalesce(settled_at, requested_at),
    CASE WHEN status = 'succeeded' THEN requested_at + interval '1 hour' END, settled_at
FROM bench_refunds WHERE with_case
"""

REFUND_ROWS = """
INSERT INTO refunds (id, payment_id, order_id, case_id, amount, status, idempotency_key, reason,
    requested_at, updated_at, settled_at)
SELECT id, order_id, order_id, CASE WHEN with_case THEN id END, amount, status, 'bench:' || id, 'bench',
    requested_at, coalesce(settled_at, requested_at), settled_at
FROM bench_refunds
"""

RESERVED = """
UPDATE payments SET refund_reserved = r.amount
FROM (SELECT payment_id, sum(amount) AS amount FROM refunds WHERE status <> 'failed' GROUP BY payment_id) AS r
WHERE payments.id = r.payment_id
"""

TICKETS = """
INSERT INTO tickets (type, channel, priority, category, state, subject, customer_id, order_id, created_at,
    updated_at, first_response_at, resolved_at, reopened)
SELECT 'complaint', 'chat', 'normal', 'quality',
    CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END, 'bench complaint', customer_id, g,
    created_at, coalesce(resolved_at, created_at), created_at + interval '5 minutes', resolved_at, 0
FROM (
    SELECT g, customer_id, created_at,
        CASE WHEN g / 50 % 10 <> 3 AND answered <= $1 THEN answered END AS resolved_at
    FROM (SELECT g, customer_id, delivered_at + interval '1 day' AS created_at,
              delivered_at + interval '1 day' + make_interval(hours => 1 + g * 7 % 60) AS answered
          FROM bench_plan WHERE g % 50 = 7) AS opened
    WHERE created_at <= $1
) AS complaints
UNION ALL
SELECT 'inquiry', 'chat', 'normal', 'other', 'resolved', 'bench inquiry', customer_id, g,
    paid_at + interval '1 hour', paid_at + interval '3 hours', paid_at + interval '70 minutes',
    paid_at + interval '3 hours', 0
FROM bench_plan WHERE g % 40 = 11 AND paid_at + interval '3 hours' <= $1
"""


def _clock(subject: str, kind: str, started: str, hours: float, done: str, ended: str = "NULL") -> str:
    """A clock of `kind` started at `started` with a `hours` budget, its goal reached at `done`
    (NULL: not yet) and its subject ended early at `ended`: met in time, breached (late), cancelled
    (ended before the deadline), running, or breached once overdue at the anchor ($1), stopped when
    its subject ended, else still open."""
    deadline = f"{started} + interval '{hours} hours'"
    cancelled = f"({done} IS NULL AND {ended} IS NOT NULL AND {ended} < {deadline})"
    late = f"coalesce({done} > {deadline}, {deadline} <= $1)"
    return f"""
SELECT {subject}, '{kind}',
    CASE WHEN {cancelled} THEN 'cancelled' WHEN {done} <= {deadline} THEN 'met'
         WHEN {late} THEN 'breached' ELSE 'running' END,
    {started}, {deadline}, coalesce({done}, {ended}),
    CASE WHEN NOT {cancelled} AND {late} THEN {deadline} END"""


CLOCKS = (
    "INSERT INTO sla_clocks (subject, kind, state, started_at, deadline, stopped_at, breached_at)"
    + _clock("'order:' || g", "order.pay", "created", 0.5, "paid_at", "cancelled_at")
    + " FROM bench_plan WHERE kind NOT IN ('credit', 'exchange') UNION ALL"
    + _clock(
        "'order:' || g", "order.ship", "coalesce(paid_at, confirmed_at)", 48, "shipped_at", "cancelled_at"
    )
    + " FROM bench_plan WHERE paid_at IS NOT NULL OR kind = 'credit' UNION ALL"
    + _clock("'order:' || g", "order.deliver", "shipped_at", 72, "delivered_at")
    + " FROM bench_plan WHERE shipped_at IS NOT NULL UNION ALL"
    + _clock("'ticket:' || id", "ticket.resolution", "created_at", 24, "resolved_at")
    + " FROM tickets WHERE type = 'complaint' UNION ALL"
    + _clock("'case:' || id", "aftersales.review", "created_at", 24, "decided_at")
    + " FROM aftersales_cases"
)

# The opening receipt and a weekly one for each SKU in each warehouse, and each shipped line
# leaving its order's warehouse; balances are the running sums in time order.
MOVES = f"""
CREATE UNLOGGED TABLE bench_moves AS
SELECT l.sku_id, 1 + l.order_id % {WAREHOUSES} AS warehouse_id, 'shipment' AS kind, -l.quantity AS quantity,
    'order:' || l.order_id AS reference, p.shipped_at AS at, l.id AS seq
FROM bench_lines AS l JOIN bench_plan AS p ON p.g = l.order_id
WHERE p.shipped_at IS NOT NULL
UNION ALL
SELECT s, w, 'receipt', CASE WHEN k = 0 THEN 200 ELSE 4 + (s * k) % 5 END, 'receipt:bench:' || k,
    at, 0
FROM (SELECT s, w, k,
          CAST($2 AS timestamptz) - interval '1 day' + make_interval(days => 7 * k, secs => s % 600) AS at
      FROM generate_series(1, {SKUS}) AS s, generate_series(1, {WAREHOUSES}) AS w,
           generate_series(0, {DAYS // 7 + 1}) AS k) AS receipts
WHERE at <= $1
"""

LEDGER = """
INSERT INTO stock_ledger (id, sku_id, warehouse_id, kind, quantity, balance_after, reference, at)
SELECT row_number() OVER (ORDER BY at, seq, sku_id, warehouse_id), sku_id, warehouse_id, kind, quantity,
    sum(quantity) OVER (PARTITION BY sku_id, warehouse_id ORDER BY at, seq ROWS UNBOUNDED PRECEDING),
    reference, at
FROM bench_moves
"""

STOCK = """
INSERT INTO stock (sku_id, warehouse_id, on_hand, reserved)
SELECT sku_id, warehouse_id, greatest(0, sum(quantity)), 0 FROM bench_moves GROUP BY sku_id, warehouse_id
"""

TRAFFIC = """
INSERT INTO traffic_counts (day, channel, visitors, inquiries, updated_at)
SELECT CAST($1 AS date) + d, c, 2000 + (d * 37 + length(c) * 101) % 500, 300 + (d * 11 + length(c)) % 100, $2
FROM generate_series(0, $3) AS d, unnest(CAST($4 AS text[])) AS c
"""

MARK = f"""
CREATE TABLE {MARKER} (orders BIGINT NOT NULL, anchor TIMESTAMPTZ NOT NULL, seeded_seconds FLOAT8 NOT NULL)
"""


async def marker(conn: asyncpg.Connection) -> tuple[int, datetime] | None:
    """The size and anchor of the data already there, or None."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", MARKER):
        return None
    row = await conn.fetchrow(f"SELECT orders, anchor FROM {MARKER}")
    return None if row is None else (int(row["orders"]), row["anchor"])


async def seed(
    conn: asyncpg.Connection, orders: int, anchor: datetime, contact: bytes, seconds: float
) -> None:
    """Build the history of `orders` orders ending at `anchor` (the schema freshly migrated and
    empty); `seconds` is recorded in the marker as the time it took so far."""
    start = anchor - timedelta(days=DAYS)
    customers = max(1, orders // 4)
    await conn.execute("SET synchronous_commit = off")
    for statement in CATALOG:
        await conn.execute(statement, *([start] if "$1" in statement else []))
    await conn.execute(CUSTOMERS, customers, contact, start)
    await conn.execute(PLAN, orders, start, DAYS * 86400, anchor, list(CHANNELS), customers)
    await conn.execute(LINES)
    await conn.execute(ORDERS, contact)
    await conn.execute(ORDER_LINES)
    await conn.execute(PAYMENTS, orders)
    await conn.execute(REFUNDS, anchor)
    await conn.execute(CASES)
    await conn.execute(REFUND_ROWS)
    await conn.execute(RESERVED)
    await conn.execute(TICKETS, anchor)
    await conn.execute(CLOCKS, anchor)
    await conn.execute(MOVES, anchor, start)
    await conn.execute(LEDGER)
    await conn.execute(STOCK)
    await conn.execute(TRAFFIC, start.date(), anchor, DAYS, list(CHANNELS))
    for table in TABLES:
        following = f"(SELECT coalesce(max(id), 0) + 1 FROM {table})"
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {following}, false)")
    for table in ("bench_plan", "bench_lines", "bench_refunds", "bench_moves"):
        await conn.execute(f"DROP TABLE {table}")
    await conn.execute(MARK)
    await conn.execute(f"INSERT INTO {MARKER} VALUES ($1, $2, $3)", orders, anchor, seconds)
