"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shopflow.core.crypto import Vault
from shopflow.core.settings import get_settings
from shopflow.schema import metadata
from tests.conftest import ROOT

# Indexes on an expression: SQLite's reflection skips them (with a warning) and PostgreSQL's gives
# the expression as the server rewrote it, so autogenerate cannot compare them (migration 0028
# writes it as the model's hybrid does).
EXPRESSION_INDEXES = frozenset({"ix_orders_counted_at"})


def _compared(found: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _compared})
    return list(compare_metadata(context, metadata))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


def test_revision_0007_names_old_breach_alerts_by_their_clock_and_gives_every_alert_its_owner(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0006_order_no_prefix")
    at = "2030-03-01 09:00:00"
    with sqlite3.connect(tmp_path / "old.db") as old:
        old.execute(
            "INSERT INTO sla_clocks (id, subject, kind, state, started_at, deadline)"
            " VALUES (7, 'order:1', 'order.ship', 'breached', ?, ?)",
            (at, at),
        )
        old.executemany(
            "INSERT INTO alerts (kind, subject, message, dedupe_key, state, created_at)"
            " VALUES (?, ?, ?, ?, 'open', ?)",
            [
                ("sla_breach", "order:1", "order.ship deadline passed", f"sla:7:{at}", at),
                ("payment_amount_mismatch", "payment:2", "¥1 vs ¥2", "pay:2", at),
                ("notification_failed", "order:3", "no order 3", "outbox:3", at),
            ],
        )

    command.upgrade(config, "heads")

    with sqlite3.connect(tmp_path / "old.db") as new:
        rows = new.execute("SELECT kind, owner, state FROM alerts ORDER BY id").fetchall()
    assert rows == [
        ("sla.breach.order.ship", "operations", "open"),
        ("payment_amount_mismatch", "finance", "open"),
        ("notification_failed", "admin", "open"),
    ]


def test_revision_0009_keeps_every_attempts_outcome_as_its_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0007_alerts")
    at = "2030-03-01 09:00:00"
    with sqlite3.connect(tmp_path / "old.db") as old:
        old.execute(
            "INSERT INTO outbox (id, event, subject, payload, created_at, available_at, attempts)"
            " VALUES (1, 'order.completed', 'order:1', '{}', ?, ?, 0)",
            (at, at),
        )
        old.execute(
            "INSERT INTO notification_deliveries (id, outbox_id, event, subject, channel, target,"
            " idempotency_id, recipient, message, state, failures, next_attempt_at, created_at)"
            " VALUES (1, 1, 'order.completed', 'order:1', 'webhook', 'webhook:1', 'abc', 'https://x',"
            " x'00', 'delivered', 1, ?, ?)",
            (at, at),
        )
        old.executemany(
            "INSERT INTO notification_attempts (delivery_id, at, ok, status_code, duration_ms)"
            " VALUES (1, ?, ?, ?, 5)",
            [(at, False, 500), (at, True, 200)],
        )

    command.upgrade(config, "heads")

    with sqlite3.connect(tmp_path / "old.db") as new:
        attempts = new.execute("SELECT status, status_code FROM notification_attempts ORDER BY id").fetchall()
        claims = new.execute("SELECT claimed_by, lease_until FROM notification_deliveries").fetchall()
    assert attempts == [("failed", 500), ("sent", 200)]
    assert claims == [(None, None)]


def test_revision_0015_encrypts_the_staff_emails_kept_in_clear_and_0014_decrypts_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0014_delivery_interruptions")
    with sqlite3.connect(tmp_path / "old.db") as old:
        old.executemany(
            "INSERT INTO users (id, username, role, active, created_at, on_duty, email)"
            " VALUES (?, ?, 'finance', 1, '2030-03-01 09:00:00', 1, ?)",
            [(1, "li", "li@shop.example"), (2, "wang", None)],
        )

    command.upgrade(config, "heads")

    with sqlite3.connect(tmp_path / "old.db") as new:
        stored = dict(new.execute("SELECT id, email FROM users").fetchall())
    assert stored[2] is None and b"li@shop.example" not in stored[1]
    assert Vault(get_settings().fernet_key()).open(stored[1]) == "li@shop.example"

    command.downgrade(config, "0014_delivery_interruptions")
    with sqlite3.connect(tmp_path / "old.db") as old:
        assert old.execute("SELECT id, email FROM users ORDER BY id").fetchall() == [
            (1, "li@shop.example"),
            (2, None),
        ]


def test_revision_0026_gives_old_order_lines_the_skus_current_cost_flagged_as_backfilled(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "0025_sla_budget_source")
    with sqlite3.connect(tmp_path / "old.db") as old:
        old.executemany(
            "INSERT INTO skus (id, product_id, code, name, price, cost, weight_g, price_band, sellable)"
            " VALUES (?, 1, ?, '杯', 9900, ?, 300, 'profit', 1)",
            [(1, "CUP-1", 4000), (2, "CUP-2", 1250)],
        )
        old.executemany(
            "INSERT INTO order_lines (id, order_id, sku_id, sku_code, name, quantity, unit_price, discount,"
            " line_total) VALUES (?, 1, ?, 'x', '杯', 1, 9900, 0, 9900)",
            [(1, 1), (2, 2), (3, 1)],
        )

    command.upgrade(config, "0026_metrics")

    with sqlite3.connect(tmp_path / "old.db") as new:
        lines = new.execute("SELECT id, unit_cost, cost_backfilled FROM order_lines ORDER BY id").fetchall()
    assert lines == [(1, 4000, 1), (2, 1250, 1), (3, 4000, 1)]
