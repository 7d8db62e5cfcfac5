"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shopflow.schema import metadata
from tests.conftest import ROOT


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


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
