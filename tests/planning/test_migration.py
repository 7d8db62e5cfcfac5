"""Migration 0038 (issue 18): its tables come and go with upgrade and downgrade, and a store's data
before it is kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from tests.conftest import ROOT

TABLES = {
    "safety_levels",
    "daily_demand",
    "demand_forecasts",
    "forecast_runs",
    "suppliers",
    "supplier_items",
    "purchase_orders",
    "purchase_order_lines",
    "shortage_notices",
}


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_revision_0038_adds_the_planning_tables_and_0037_takes_them_away(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = f"sqlite:///{path}"
    command.upgrade(config, "0037_erasure")
    with sqlite3.connect(path) as old:
        old.execute(
            "INSERT INTO warehouses (id, code, name, province, priority, active)"
            " VALUES (1, 'W', 'W', '上海', 1, 1)"
        )
    assert not TABLES & tables(path)

    command.upgrade(config, "0038_inventory_planning")
    assert tables(path) >= TABLES
    with sqlite3.connect(path) as new:
        watch = (
            "INSERT INTO safety_levels (sku_id, warehouse_id, threshold, alerted, falls)"
            " VALUES (1, NULL, ?, 0, 0)"
        )
        new.execute(watch, (None,))
        with pytest.raises(sqlite3.IntegrityError):  # one watch over all warehouses per SKU
            new.execute(watch, (5,))

    command.downgrade(config, "0037_erasure")
    assert not TABLES & tables(path)
    with sqlite3.connect(path) as old:
        assert old.execute("SELECT code FROM warehouses").fetchall() == [("W",)]
    command.upgrade(config, "heads")
    assert tables(path) >= TABLES
