"""`shopflow report` (ANA-4) on the hand-built store kept in a SQLite file (`shop`): each report's
file is the API's (the same JSON, the same CSV), written where asked or under the API's file
name; `report metrics` prints what `GET /api/v1/analytics/metrics` answers; bad input is a clear
line and a non-zero exit code, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from shopflow.app import create_app
from shopflow.core.db import Database
from shopflow.core.settings import Settings
from tests.builders.analytics import hand_built_store
from tests.conftest import SETTINGS
from tests.test_cli import Shop, migrated, shopflow

REPORT = "/api/v1/reports/monthly?date=2030-04-01&lang=en"
METRICS = "/api/v1/analytics/metrics?from=2030-03-01&to=2030-04-30&period=month"


def answers(shop: Shop, *paths: str) -> list[httpx.Response]:
    """Build the hand-built store in the shop's file and ask the API for `paths` as finance."""

    async def build() -> list[httpx.Response]:
        db = Database.from_url(shop.url)
        settings = Settings(
            database_url=shop.url,
            secret_key=SETTINGS.secret_key,
            data_dir=shop.data_dir,
            sandbox=True,
            sandbox_secret="test-sandbox-secret",
        )
        try:
            transport = httpx.ASGITransport(app=create_app(db=db, settings=settings))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                headers = await hand_built_store(client, db)
                return [await client.get(path, headers=headers) for path in paths]
        finally:
            await db.dispose()

    return asyncio.run(build())


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    """Run in `tmp_path`, where a report without --out is written."""
    before = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(before)


def without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "made_at"}


def test_each_report_file_is_the_apis(shop: Shop, in_tmp: Path) -> None:
    migrated(shop)
    json_reply, csv_reply = answers(shop, REPORT + "&format=json", REPORT + "&format=csv")

    written = shopflow("report", "monthly", "--date", "2030-04-01", "--format", "json", "--lang", "en")
    csv_file = shopflow(
        "report", "monthly", "--date", "2030-04-30", "--format", "csv", "--lang", "en", "--out", "april.csv"
    )
    xlsx_file = shopflow("report", "monthly", "--date", "2030-04-15")

    assert written.exit_code == 0, written.output
    assert "wrote shopflow-monthly-2030-04.json" in written.output
    made = json.loads((in_tmp / "shopflow-monthly-2030-04.json").read_text(encoding="utf-8"))
    assert without_time(made) == without_time(json_reply.json())
    assert csv_file.exit_code == 0 and "wrote april.csv" in csv_file.output
    # The same file but for the line saying when it was made.
    made_lines = (in_tmp / "april.csv").read_text(encoding="utf-8-sig").splitlines()
    api_lines = csv_reply.content.decode("utf-8-sig").splitlines()
    assert [line for line in made_lines if not line.startswith("Made ")] == [
        line for line in api_lines if not line.startswith("Made ")
    ]
    assert xlsx_file.exit_code == 0, xlsx_file.output
    book = load_workbook(in_tmp / "shopflow-monthly-2030-04.xlsx")  # XLSX and Chinese by default
    assert book.sheetnames == ["概览", "趋势", "品类", "SKU", "流程状态"]


def test_report_metrics_prints_the_metric_apis_json_or_csv(shop: Shop, tmp_path: Path) -> None:
    migrated(shop)
    (api,) = answers(shop, METRICS)
    span = ("--from", "2030-03-01", "--to", "2030-04-30", "--period", "month")

    printed = shopflow("report", "metrics", *span)
    written = shopflow("report", "metrics", *span, "--format", "csv", "--out", str(tmp_path / "m.csv"))
    manual = shopflow("report", "metrics", "--channel", "manual")

    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == api.json()
    assert written.exit_code == 0 and "wrote" in written.output
    lines = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "period,metric,value,numerator,denominator"
    assert "2030-03,net_sales,100.00,100.00," in lines
    assert "2030-04,repurchase_rate,50.00,1,2" in lines
    assert "2030-04,repurchase_cycle_days,21.60,21.60,1" in lines
    (everything,) = json.loads(manual.stdout)["rows"]
    assert (everything["period"], everything["metrics"]["orders"]["value"]) == (
        "all",
        0,
    )  # every order came through web


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("report", "monthly", "--date", "2030-02-30"), "is not a date"),
        (("report", "yearly"), "No such command"),
        (("report", "weekly", "--format", "pdf"), "pdf"),
        (("report", "daily", "--channel", "tmall"), "channel: unknown channel 'tmall'"),
        (("report", "metrics", "--from", "2030-03-01"), "to: give both from and to, or neither"),
        (("report", "metrics", "--period", "week"), "period: a period other than all needs from and to"),
        (("report", "metrics", "--from", "2030-04-01", "--to", "2030-03-01"), "to: must not be before from"),
    ],
)
def test_bad_input_is_one_clear_error_and_a_non_zero_exit(
    shop: Shop, args: tuple[str, ...], said: str
) -> None:
    migrated(shop)

    result = shopflow(*args)

    assert result.exit_code != 0
    assert said in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
