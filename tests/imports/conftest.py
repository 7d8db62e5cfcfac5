"""Imports of order history tested through their real entry points: the `shopflow import` commands
(Typer's runner) against the test database with real commits, then the HTTP API of an app on the
same database. The shared data (`../shared/data` beside the checkout, or SHOPFLOW_SHARED_DATA) is
read where it is; a test needing it is skipped, saying so, when it is missing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from shopflow.app import create_app
from shopflow.cli import app
from shopflow.core.db import Database, create_engine
from shopflow.core.settings import Settings, get_settings
from tests.builders.auth import bearer
from tests.conftest import ROOT, SETTINGS, TEST_URL, truncate_all

SHARED = Path(os.environ.get("SHOPFLOW_SHARED_DATA") or ROOT.parent / "shared" / "data")
runner = CliRunner()


def shared(*parts: str) -> Path:
    """A path of the shared data; the test is skipped when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: the shared data (../shared/data, or SHOPFLOW_SHARED_DATA) is needed")
    return path


def summary(output: str) -> dict[str, int]:
    """The orders loaded, already present and rows rejected of an import's summary table."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if "already present" in line)
    values = [cell.strip() for cell in lines[header + 2].strip("│ ").split("│")]
    return dict(zip(("loaded", "already present", "rows rejected"), map(int, values[:3]), strict=True))


class Store:
    """The test database as the `shopflow` command and a served app see it."""

    def shopflow(self, *args: str) -> Result:
        return runner.invoke(app, list(args))

    def ok(self, *args: str) -> Result:
        result = self.shopflow(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def get(self, path: str) -> Any:
        """GET `path` as an admin from an app on the test database; the JSON answer."""

        async def call() -> Any:
            served = create_app(settings=Settings(database_url=TEST_URL, secret_key=SETTINGS.secret_key))
            try:
                headers = await bearer(served.state.db)
                transport = httpx.ASGITransport(app=served)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                    response = await client.get(path, headers=headers)
                assert response.status_code == 200, response.text
                return response.json()
            finally:
                await served.state.db.dispose()

        return asyncio.run(call())

    def all_time(self, channel: str | None = None) -> dict[str, Any]:
        """The all-time metric set from the API: each metric's value."""
        query = "" if channel is None else f"?channel={channel}"
        row = self.get(f"/api/v1/analytics/metrics{query}")["rows"][0]
        assert row["period"] == "all"
        return {name: m["value"] for name, m in row["metrics"].items()}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        async def read() -> list[tuple[Any, ...]]:
            db = Database.from_url(TEST_URL)
            try:
                async with db.transaction() as session:
                    return [tuple(r) for r in await session.execute(text(sql))]
            finally:
                await db.dispose()

        return asyncio.run(read())

    def one(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def counts(self) -> dict[str, int]:
        """How many rows each table history writes holds (a re-import must change none)."""
        tables = ("orders", "order_lines", "payments", "customers", "customer_keys", "skus", "products")
        return {t: int(self.one(f"SELECT count(*) FROM {t}")) for t in (*tables, "categories", "audit_log")}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The `shopflow` command on the test database (SQLite or PostgreSQL) with the test session's
    key; every table emptied afterwards (the commands commit)."""
    monkeypatch.setenv("SHOPFLOW_DATABASE_URL", TEST_URL)
    monkeypatch.setenv("SHOPFLOW_SECRET_KEY", str(SETTINGS.secret_key))
    monkeypatch.setenv("SHOPFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHOPFLOW_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    yield Store()
    get_settings.cache_clear()

    async def empty() -> None:
        engine = create_engine(TEST_URL)
        try:
            await truncate_all(engine)
        finally:
            await engine.dispose()

    asyncio.run(empty())
