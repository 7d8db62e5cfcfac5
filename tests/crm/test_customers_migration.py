"""Revision 0019 gives the orders stored before it their customers (CRM-1): one per phone, named
from its latest order, with the value of its paid orders less their settled refunds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config

from shopflow.core.crypto import Vault
from shopflow.core.settings import get_settings
from tests.conftest import ROOT

ZHANG, LI = "13800138000", "13911112222"


def test_revision_0019_backfills_one_customer_per_phone_with_its_paid_value(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0018_leads")
    vault = Vault(get_settings().fernet_key())

    def contact(name: str, phone: str, street: str) -> bytes:
        return vault.seal(
            {
                "customer": {"name": name, "phone": phone, "email": None},
                "shipping_address": {"street": street},
            }
        )

    orders = [  # id, phone, name, street, total, created, paid
        (1, ZHANG, "张三", "旧地址", 10000, "2030-03-01 09:00:00", "2030-03-01 09:05:00"),
        (2, LI, "李四", "建国路1号", 5000, "2030-03-02 09:00:00", None),
        (3, ZHANG, "张三丰", "世纪大道100号", 25050, "2030-03-03 09:00:00", "2030-03-03 09:01:00"),
        (4, ZHANG, "张三丰", "世纪大道100号", 7000, "2030-03-04 09:00:00", None),
    ]
    with sqlite3.connect(tmp_path / "old.db") as old:
        for order_id, phone, name, street, total, created, paid in orders:
            old.execute(
                "INSERT INTO orders (id, order_no, channel, status, contact, phone_hash, ship_province,"
                " subtotal, shipping_fee, discount, total, created_at, updated_at, paid_at)"
                " VALUES (?, ?, 'web', ?, ?, ?, '上海', ?, 0, 0, ?, ?, ?, ?)",
                (
                    order_id,
                    f"SF{order_id}",
                    "paid" if paid else "confirmed",
                    contact(name, phone, street),
                    vault.lookup_hash(phone),
                    total,
                    total,
                    created,
                    created,
                    paid,
                ),
            )
        payments = [(1, 1, 10000, "succeeded"), (2, 3, 25050, "failed"), (3, 3, 25050, "succeeded")]
        old.executemany(
            "INSERT INTO payments (id, order_id, provider, method, amount, status, created_at, updated_at,"
            " refund_reserved) VALUES (?, ?, 'sandbox', 'alipay', ?, ?, '2030-03-03 09:01:00',"
            " '2030-03-03 09:01:00', 0)",
            payments,
        )
        old.executemany(
            "INSERT INTO refunds (id, payment_id, order_id, amount, status, idempotency_key, reason,"
            " requested_at, updated_at, settled_at) VALUES (?, 3, 3, ?, ?, ?, 'r', '2030-03-05 09:00:00',"
            " '2030-03-05 09:00:00', '2030-03-05 10:00:00')",
            [(1, 1001, "succeeded", "k1"), (2, 2000, "failed", "k2")],
        )

    command.upgrade(config, "heads")

    with sqlite3.connect(tmp_path / "old.db") as new:
        customers = new.execute(
            "SELECT c.id, c.personal, c.lifetime_value, c.order_count, c.first_order_at, c.last_order_at,"
            " c.source, p.phone, p.is_primary FROM customers c JOIN customer_phones p ON p.customer_id = c.id"
            " WHERE p.phone_hash = ?",
            (vault.lookup_hash(ZHANG),),
        ).fetchall()
        links = dict(new.execute("SELECT id, customer_id FROM orders").fetchall())
        li = new.execute(
            "SELECT lifetime_value, order_count, last_order_at FROM customers WHERE id = ?", (links[2],)
        )
        entries = new.execute(
            "SELECT source, amount FROM customer_value_entries WHERE customer_id = ? ORDER BY id", (links[1],)
        ).fetchall()
        count = new.execute("SELECT count(*) FROM customers").fetchone()[0]
        li_row = li.fetchone()

    [(zhang, personal, value, paid_orders, first, last, source, phone, primary)] = customers
    assert count == 2
    assert links == {1: zhang, 2: links[2], 3: zhang, 4: zhang} and links[2] != zhang
    assert vault.open(personal)["name"] == "张三丰"  # the latest order's name and address
    assert vault.open(personal)["addresses"] == [{"street": "世纪大道100号"}]
    assert (vault.open(phone), primary, source) == (ZHANG, 1, "order")
    assert (value, paid_orders) == (10000 + 25050 - 1001, 2)
    assert (first[:19], last[:19]) == ("2030-03-01 09:00:00", "2030-03-03 09:00:00")
    assert entries == [("payment:1", 10000), ("payment:3", 25050), ("refund:1", -1001)]
    assert li_row == (0, 0, None)
