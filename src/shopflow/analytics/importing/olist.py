"""Olist's public dataset (Kaggle `olistbr/brazilian-ecommerce`) as order history: whichever of
its files a directory holds.

Every order id in the items or payments file becomes an order of the `olist` channel (BRL): its
items become lines (one per item row, at its price) and their freight the order's shipping; its
payment rows become captures (several rows, several captures; the payment types mapped to
methods); its products become SKUs (the product id as code) under their category translated to
English (the Portuguese name when the translation file has none). Where the orders file has the
order's row, its customer (by `customer_unique_id`, through the customers file), status and
timestamps are used, and the payments were captured when Olist approved the order (never, when it
has no approval time: they stay uncaptured); otherwise the order is `completed` with its dates
unknown. Timestamps are read in Kaggle's format and in the re-saved sample's `M/D/YYYY H:MM`,
as times of São Paulo.

Memory: Kaggle's items and payments files are not grouped by order, so the files are first copied
row by row into a staging SQLite database in a temporary file (each row checked, a bad one
reported with its file and line), indexed by order id, and the orders are then read back a batch
of ids at a time. Memory stays that of one batch whatever the size of the files; the staging file
takes about the files' size on disk and is deleted afterwards. (A pass keeping an index of file
offsets per order would hold every order id in memory; sorting the files would need the same
temporary space and more code.)"""

from __future__ import annotations

import csv
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shopflow.analytics.importing.records import (
    Bad,
    Capture,
    HistoricalLine,
    HistoricalOrder,
    Identity,
    RowError,
    amount,
    count,
    timestamp,
)
from shopflow.orders.models import OrderStatus

CHANNEL = "olist"
CURRENCY = "BRL"
ZONE = ZoneInfo("America/Sao_Paulo")
BATCH = 1000  # orders read back from the staging database at a time

FILES = {
    "orders": "olist_orders_dataset.csv",
    "items": "olist_order_items_dataset.csv",
    "payments": "olist_order_payments_dataset.csv",
    "customers": "olist_customers_dataset.csv",
    "products": "olist_products_dataset.csv",
    "translation": "product_category_name_translation.csv",
}

S = OrderStatus
STATUSES = {
    "delivered": S.COMPLETED,
    "shipped": S.SHIPPED,
    "canceled": S.CANCELLED,
    "unavailable": S.CANCELLED,
    "invoiced": S.PAID,
    "processing": S.PAID,
    "approved": S.PAID,
    "created": S.PENDING,
}
METHODS = {
    "credit_card": "card",
    "debit_card": "card",
    "boleto": "bank_transfer",
    "voucher": "voucher",
    "not_defined": "other",
}

SCHEMA = """
CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, purchase TEXT,
    approved TEXT, carrier TEXT, delivered TEXT, line INTEGER);
CREATE TABLE items (order_id TEXT, item_no INTEGER, product_id TEXT, price INTEGER, freight INTEGER,
    line INTEGER, PRIMARY KEY (order_id, item_no));
CREATE TABLE payments (order_id TEXT, seq INTEGER, type TEXT, installments INTEGER, value INTEGER,
    line INTEGER, PRIMARY KEY (order_id, seq));
CREATE TABLE customers (customer_id TEXT PRIMARY KEY, unique_id TEXT);
CREATE TABLE products (product_id TEXT PRIMARY KEY, category TEXT);
CREATE TABLE translation (name TEXT PRIMARY KEY, english TEXT);
"""

Stager = Callable[[dict[str, str]], tuple[Any, ...]]


def _key(row: dict[str, str], name: str) -> str:
    value = (row.get(name) or "").strip()
    if not value:
        raise Bad(f"{name} is blank")
    return value


def _time(row: dict[str, str], name: str) -> str | None:
    found = timestamp(row.get(name) or "", name, ZONE)
    return None if found is None else found.isoformat()


def _order(row: dict[str, str]) -> tuple[Any, ...]:
    status = (row.get("order_status") or "").strip()
    if status not in STATUSES:
        raise Bad(f"order_status: {status!r} is not one of {', '.join(STATUSES)}")
    purchase = _time(row, "order_purchase_timestamp")
    if purchase is None:
        raise Bad("order_purchase_timestamp is blank")
    return (
        _key(row, "order_id"),
        (row.get("customer_id") or "").strip() or None,
        status,
        purchase,
        _time(row, "order_approved_at"),
        _time(row, "order_delivered_carrier_date"),
        _time(row, "order_delivered_customer_date"),
    )


def _item(row: dict[str, str]) -> tuple[Any, ...]:
    return (
        _key(row, "order_id"),
        count(row.get("order_item_id") or "", "order_item_id"),
        _key(row, "product_id"),
        amount(row.get("price") or "", "price"),
        amount(row.get("freight_value") or "", "freight_value", blank=0),
    )


def _payment(row: dict[str, str]) -> tuple[Any, ...]:
    kind = (row.get("payment_type") or "").strip()
    if kind not in METHODS:
        raise Bad(f"payment_type: {kind!r} is not one of {', '.join(METHODS)}")
    installments = (row.get("payment_installments") or "0").strip()
    return (
        _key(row, "order_id"),
        count(row.get("payment_sequential") or "", "payment_sequential"),
        kind,
        int(installments) if installments.isdigit() else 0,
        amount(row.get("payment_value") or "", "payment_value"),
    )


def _customer(row: dict[str, str]) -> tuple[Any, ...]:
    return _key(row, "customer_id"), _key(row, "customer_unique_id")


def _product(row: dict[str, str]) -> tuple[Any, ...]:
    return _key(row, "product_id"), (row.get("product_category_name") or "").strip() or None


def _translation(row: dict[str, str]) -> tuple[Any, ...]:
    return _key(row, "product_category_name"), _key(row, "product_category_name_english")


# Each file: its staging table, the columns its rows must have, how a row is read, whether the
# staged row keeps its line.
STAGING: dict[str, tuple[str, tuple[str, ...], Stager, bool]] = {
    "orders": ("orders", ("order_id", "order_status", "order_purchase_timestamp"), _order, True),
    "items": ("items", ("order_id", "order_item_id", "product_id", "price"), _item, True),
    "payments": (
        "payments",
        ("order_id", "payment_sequential", "payment_type", "payment_value"),
        _payment,
        True,
    ),
    "customers": ("customers", ("customer_id", "customer_unique_id"), _customer, False),
    "products": ("products", ("product_id", "product_category_name"), _product, False),
    "translation": (
        "translation",
        ("product_category_name", "product_category_name_english"),
        _translation,
        False,
    ),
}


class OlistDirectory:
    """Olist's files in `directory`, staged (`stage`) and read back as historical orders
    (`orders`); `errors` holds every row not imported. A context manager: the staging database
    is deleted on leaving it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.errors: list[RowError] = []
        self.found = [name for name, file in FILES.items() if (directory / file).is_file()]
        self._tmp = tempfile.TemporaryDirectory(prefix="shopflow-olist-")
        self._staging = sqlite3.connect(Path(self._tmp.name) / "staging.db")
        self._staging.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)

    def __enter__(self) -> OlistDirectory:
        return self

    def __exit__(self, *_: object) -> None:
        self._staging.close()
        self._tmp.cleanup()

    def stage(self, progress: Callable[[int], None] | None = None) -> int:
        """Copy each file found into the staging database, row by row; how many orders there
        are. `progress` is told the bytes read after each file."""
        with self._staging:  # the staging file's own transaction (stdlib sqlite3), not the store's
            for name in STAGING:
                if name in self.found:
                    self._stage(name)
                    if progress is not None:
                        progress((self.directory / FILES[name]).stat().st_size)
        return int(self._staging.execute(f"SELECT count(*) FROM ({ORDER_IDS})").fetchone()[0])

    def _stage(self, name: str) -> None:
        table, required, read, with_line = STAGING[name]
        file = FILES[name]
        with (self.directory / file).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                self.errors.append(RowError(1, f"no column {', '.join(missing)}: file not read", file))
                return
            width = 0
            start = reader.line_num + 1
            for row in reader:
                try:
                    values = read(row)
                    if with_line:
                        values = (*values, start)
                    width = len(values)
                    self._staging.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", values)
                except Bad as exc:
                    self.errors.append(RowError(start, str(exc), file))
                except sqlite3.IntegrityError:
                    self.errors.append(
                        RowError(start, f"repeats the key of an earlier row ({values[:2]})", file)
                    )
                start = reader.line_num + 1

    def orders(self) -> Iterator[HistoricalOrder]:
        """Every order, by order id, read back a batch at a time."""
        ids = self._staging.cursor()
        ids.execute(f"{ORDER_IDS} ORDER BY order_id")
        while batch := [row[0] for row in ids.fetchmany(BATCH)]:
            yield from self._batch(batch)

    def _batch(self, ids: list[str]) -> Iterator[HistoricalOrder]:
        marks = ", ".join("?" * len(ids))
        items: dict[str, list[tuple[Any, ...]]] = {i: [] for i in ids}
        for row in self._staging.execute(
            "SELECT i.order_id, i.product_id, i.price, i.freight, i.line, p.category, t.english"
            " FROM items i LEFT JOIN products p ON p.product_id = i.product_id"
            " LEFT JOIN translation t ON t.name = p.category"
            f" WHERE i.order_id IN ({marks}) ORDER BY i.order_id, i.item_no",
            ids,
        ):
            items[row[0]].append(row[1:])
        payments: dict[str, list[tuple[Any, ...]]] = {i: [] for i in ids}
        for row in self._staging.execute(
            f"SELECT order_id, type, installments, value, line FROM payments WHERE order_id IN ({marks})"
            " ORDER BY order_id, seq",
            ids,
        ):
            payments[row[0]].append(row[1:])
        orders = {
            row[0]: row[1:]
            for row in self._staging.execute(
                "SELECT o.order_id, o.status, o.purchase, o.approved, o.carrier, o.delivered, o.line,"
                " c.unique_id FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id"
                f" WHERE o.order_id IN ({marks})",
                ids,
            )
        }
        for order_id in ids:
            yield _historical(order_id, items[order_id], payments[order_id], orders.get(order_id))


ORDER_IDS = "SELECT order_id FROM items UNION SELECT order_id FROM payments"


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _historical(
    order_id: str,
    items: list[tuple[Any, ...]],
    payments: list[tuple[Any, ...]],
    known: tuple[Any, ...] | None,
) -> HistoricalOrder:
    lines = tuple(
        HistoricalLine(
            sku=product_id,
            name=f"{english or category or 'product'} {product_id[:8]}",
            quantity=1,
            unit_price=price,
            category=(english or category,) if (english or category) else (),
        )
        for product_id, price, _, _, category, english in items
    )
    first = min([line for *_, line in payments] + [row[3] for row in items])
    shipping = sum(freight for _, _, freight, *_ in items)
    if known is None:
        captures = tuple(
            Capture(value, _method(kind, installments), None) for kind, installments, value, _ in payments
        )
        return HistoricalOrder(
            channel=CHANNEL,
            channel_order_no=order_id,
            status=OrderStatus.COMPLETED,
            placed_at=None,
            line=first,
            lines=lines,
            captures=captures,
            currency=CURRENCY,
            shipping=shipping,
        )
    status, purchase, approved, carrier, delivered, line, unique_id = known
    approved_at = _at(approved)
    captures = tuple(
        Capture(value, _method(kind, installments), approved_at, captured=approved_at is not None)
        for kind, installments, value, _ in payments
    )
    final = STATUSES[status]
    delivered_at = _at(delivered)
    return HistoricalOrder(
        channel=CHANNEL,
        channel_order_no=order_id,
        status=final,
        placed_at=_at(purchase),
        line=line,
        lines=lines,
        captures=captures,
        customer=None if unique_id is None else Identity(platform=CHANNEL, key=unique_id),
        currency=CURRENCY,
        shipping=shipping,
        shipped_at=_at(carrier),
        delivered_at=delivered_at,
        completed_at=delivered_at if final is OrderStatus.COMPLETED else None,
        cancelled_at=None,
    )


def _method(kind: str, installments: int) -> str:
    method = METHODS[kind]
    return "card_instalment" if method == "card" and installments > 1 else method
