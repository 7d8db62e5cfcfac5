"""`shopflow import tracking` and `shopflow import freight-bill`, run in-process against a fresh
SQLite file whose parcels were shipped through the API (FUL-5, FUL-8)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from shopflow.cli import app
from shopflow.core.db import Database
from shopflow.core.settings import get_settings
from tests.builders import fulfillment as ful
from tests.builders.store import small_store
from tests.conftest import SETTINGS, make_app

runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated store database file; the CLI is pointed at it."""
    db_file = tmp_path / "shop.db"
    monkeypatch.setenv("SHOPFLOW_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("SHOPFLOW_SECRET_KEY", str(SETTINGS.secret_key))
    monkeypatch.setenv("SHOPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SHOPFLOW_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    assert shopflow("migrate").exit_code == 0
    yield db_file
    get_settings.cache_clear()


def shopflow(*args: str) -> Result:
    return runner.invoke(app, list(args))


def shipped(db_file: Path, parcels: int) -> list[str]:
    """A store with carriers, and `parcels` single-parcel orders shipped with SF; their waybills."""

    async def build() -> list[str]:
        db = Database.from_url(f"sqlite:///{db_file}")
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=make_app(db)),  # type: ignore[arg-type]
                base_url="http://test",
            ) as client:
                await small_store(db)
                team = await ful.crew(db)
                await ful.carriers_with_rules(client, team.ops)
                return [
                    (await ful.shipped_order(client, team, weight_g=1000))[0]["tracking_no"]
                    for _ in range(parcels)
                ]
        finally:
            await db.dispose()

    return asyncio.run(build())


def count(db_file: Path, sql: str) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_import_tracking_keeps_good_rows_and_lists_each_bad_row_with_its_reason(
    shop: Path, tmp_path: Path
) -> None:
    first, second = shipped(shop, 2)
    good = (
        f"{first},picked_up,2030-05-06T10:00:00+08:00,上海\n"
        f"{first},运输中,2030-05-06 18:00,杭州\n"
        f"{second},delivered,2030-05-07T09:30:00+08:00,北京\n"
    )
    bad = (
        "SF-NO-SUCH-PARCEL,in_transit,2030-05-06T10:00:00+08:00,\n"
        f"{first},at_hub,2030-05-32 10:00,\n"
        f"{first},beamed_up,2030-05-06T10:00:00+08:00,\n"
    )
    csv_file = tmp_path / "tracking.csv"
    csv_file.write_text("waybill,status,time,location\n" + good + bad, encoding="utf-8")

    result = shopflow("import", "tracking", str(csv_file))

    assert result.exit_code == 1, result.output
    assert "3 events stored, 0 duplicates ignored, 3 rows with errors" in result.output
    report = [line for line in result.output.splitlines() if "│" in line]
    assert any("5" in line and "unknown waybill 'SF-NO-SUCH-PARCEL'" in line for line in report)
    assert any("6" in line and "bad time '2030-05-32 10:00'" in line for line in report)
    assert any("7" in line and "unknown status 'beamed_up'" in line for line in report)
    assert count(shop, "SELECT count(*) FROM tracking_events") == 3
    assert count(shop, "SELECT count(*) FROM shipments WHERE status = 'delivered'") == 1
    assert count(shop, "SELECT count(*) FROM orders WHERE status = 'delivered'") == 1

    clean = tmp_path / "again.csv"
    clean.write_text("waybill,status,time,location\n" + good, encoding="utf-8")
    again = shopflow("import", "tracking", str(clean))

    assert again.exit_code == 0, again.output
    assert "0 events stored, 3 duplicates ignored, 0 rows with errors" in again.output
    assert count(shop, "SELECT count(*) FROM tracking_events") == 3


def test_import_tracking_without_the_needed_columns_exits_1_and_stores_nothing(
    shop: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "tracking.csv"
    csv_file.write_text("waybill,when\nSF1,2030-05-06\n", encoding="utf-8")

    result = shopflow("import", "tracking", str(csv_file))

    assert result.exit_code == 1
    assert "missing: status, time" in result.output
    assert count(shop, "SELECT count(*) FROM tracking_events") == 0


def test_import_freight_bill_reports_every_outcome_and_exits_0_only_when_all_match(
    shop: Path, tmp_path: Path
) -> None:
    matched, over, missing, later = shipped(shop, 4)
    bill = tmp_path / "sf-2030-05.csv"
    bill.write_text(
        f"waybill,amount\n{matched},12.00\n{over},18.50\nSF-UNKNOWN-77,6.00\n",
        encoding="utf-8",
    )

    result = shopflow("import", "freight-bill", "SF", str(bill))

    assert result.exit_code == 1, result.output
    for outcome, n in (("matched", 1), ("over_charged", 1), ("unknown_waybill", 1), ("missing_bill", 2)):
        assert any(outcome in line and f" {n} " in line for line in result.output.splitlines()), outcome
    assert any(over in line and "18.50" in line and "12.00" in line for line in result.output.splitlines())
    assert any(missing in line and "missing_bill" in line for line in result.output.splitlines())
    assert count(shop, "SELECT count(*) FROM freight_bill_lines") == 5
    assert count(shop, f"SELECT billed_cost FROM shipments WHERE tracking_no = '{over}'") == 1850

    settled = tmp_path / "sf-2030-05-b.csv"
    settled.write_text(f"waybill,amount\n{missing},12.00\n{later},11.00\n", encoding="utf-8")
    second = shopflow("import", "freight-bill", "SF", str(settled))
    assert second.exit_code == 0, second.output
    replay = shopflow("import", "freight-bill", "SF", str(settled))
    assert replay.exit_code == 1 and "imported already" in replay.output
