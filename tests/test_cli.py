"""The `shopflow` command, run in-process against a fresh SQLite file per test."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from shopflow.app import create_app
from shopflow.cli import app
from shopflow.core.auth import Role
from shopflow.core.db import async_url
from shopflow.core.settings import Settings, get_settings
from tests.conftest import SETTINGS

runner = CliRunner()


class Shop:
    """One store on disk: its database file, data directory and environment."""

    def __init__(self, root: Path) -> None:
        self.db_file = root / "shop.db"
        self.url = f"sqlite:///{self.db_file}"
        self.data_dir = root / "data"

    def settings(self) -> Settings:
        assert SETTINGS.secret_key is not None
        return Settings(database_url=self.url, secret_key=SETTINGS.secret_key, data_dir=self.data_dir)

    def count(self, table: str, where: str = "1 = 1") -> int:
        with sqlite3.connect(self.db_file) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])

    def get(self, token: str, *paths: str) -> list[httpx.Response]:
        """GET each path from an app started on this store's database, as `shopflow serve` would."""

        async def calls() -> list[httpx.Response]:
            served = create_app(settings=self.settings())
            transport = httpx.ASGITransport(app=served)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                    headers = {"Authorization": f"Bearer {token}"}
                    return [await client.get(path, headers=headers) for path in paths]
            finally:
                await served.state.db.dispose()

        return asyncio.run(calls())


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    store = Shop(tmp_path)
    monkeypatch.setenv("SHOPFLOW_DATABASE_URL", store.url)
    # The test session's key, so the in-process CLI installs the key the other tests use.
    monkeypatch.setenv("SHOPFLOW_SECRET_KEY", str(SETTINGS.secret_key))
    monkeypatch.setenv("SHOPFLOW_DATA_DIR", str(store.data_dir))
    monkeypatch.delenv("SHOPFLOW_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def shopflow(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = shopflow(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def last_token(result: Result) -> str:
    last = result.stdout.strip().splitlines()[-1]
    token = last.rsplit(" ", 1)[-1]
    assert token.startswith("sf_"), last
    return token


def migrated(shop: Shop) -> Shop:
    ok("migrate")
    return shop


def bad_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[inventory]\nsafety_stock = -5\n", encoding="utf-8")
    monkeypatch.setenv("SHOPFLOW_POLICY_FILE", str(path))
    get_settings.cache_clear()


# --- migrate ---------------------------------------------------------------------------------


def test_migrate_creates_the_schema_and_can_run_again(shop: Shop) -> None:
    result = ok("migrate")
    assert "up to date" in result.output
    assert shop.count("orders") == 0 and shop.count("audit_log") == 0
    ok("migrate")
    assert shop.count("alembic_version") == 1


# --- users and tokens ------------------------------------------------------------------------


def test_users_add_creates_a_user_with_the_role(shop: Shop) -> None:
    migrated(shop)
    result = ok("users", "add", "li.na", "--role", "warehouse")
    assert "li.na" in result.output
    assert shop.count("users", "username = 'li.na' AND role = 'warehouse'") == 1
    listing = ok("users", "list")
    assert "li.na" in listing.output and "warehouse" in listing.output


def test_users_add_with_an_unknown_role_exits_1_listing_the_roles(shop: Shop) -> None:
    migrated(shop)
    result = shopflow("users", "add", "bob", "--role", "boss")
    assert result.exit_code == 1
    assert "boss" in result.output
    for role in Role:
        assert role.value in result.output
    assert shop.count("users") == 0


def test_users_add_twice_exits_1(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "li.na", "--role", "sales")
    result = shopflow("users", "add", "li.na", "--role", "admin")
    assert result.exit_code == 1 and "exists" in result.output
    assert shop.count("users", "username = 'li.na' AND role = 'sales'") == 1


def test_a_created_token_authenticates_against_the_api(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "wang.wei", "--role", "customer_service")

    token = last_token(ok("tokens", "create", "wang.wei", "--label", "laptop"))

    policy_reply, receipt_list = shop.get(token, "/api/v1/policy", "/api/v1/payments/receipts")
    assert policy_reply.status_code == 200, policy_reply.text
    assert policy_reply.json()["orders"]["unpaid_cancel_minutes"] == 30
    # It acts with the user's role: customer service may not read the payment receipts.
    assert receipt_list.status_code == 403
    [refused] = shop.get(token + "x", "/api/v1/policy")
    assert refused.status_code == 401


def test_tokens_create_for_an_unknown_user_exits_1(shop: Shop) -> None:
    migrated(shop)
    result = shopflow("tokens", "create", "nobody")
    assert result.exit_code == 1 and "nobody" in result.output
    assert shop.count("api_tokens") == 0


# --- policy ----------------------------------------------------------------------------------


def test_policy_show_prints_the_effective_policy_as_json(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = json.loads(ok("policy", "show").stdout)
    assert defaults["orders"]["unpaid_cancel_minutes"] == 30
    assert defaults["aftersales"]["agent_compensation_limit"] == "500.00"

    path = tmp_path / "policy.toml"
    path.write_text('[orders]\nship_within_hours = 36\n[fulfillment]\nshipping_fee = "8.00"\n', "utf-8")
    monkeypatch.setenv("SHOPFLOW_POLICY_FILE", str(path))
    get_settings.cache_clear()
    effective = json.loads(ok("policy", "show").stdout)
    assert effective["orders"]["ship_within_hours"] == 36
    assert effective["fulfillment"]["shipping_fee"] == "8.00"
    assert effective["orders"]["deliver_within_hours"] == 72


def test_the_example_policy_file_is_valid(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "policy.example.toml"
    monkeypatch.setenv("SHOPFLOW_POLICY_FILE", str(example))
    get_settings.cache_clear()
    assert json.loads(ok("policy", "show").stdout)["inventory"]["allocation"] == "priority"


def test_policy_show_with_a_bad_file_exits_1_naming_the_key(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_policy(tmp_path, monkeypatch)
    result = shopflow("policy", "show")
    assert result.exit_code == 1
    assert "inventory.safety_stock" in result.output
    assert result.stdout == ""


def test_any_command_with_a_bad_policy_file_exits_1_naming_the_key(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated(shop)
    bad_policy(tmp_path, monkeypatch)
    result = shopflow("users", "add", "li.na", "--role", "sales")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert "inventory.safety_stock" in result.output
    assert shop.count("users") == 0


# --- demo ------------------------------------------------------------------------------------


def test_demo_loads_a_store_with_orders_in_several_states_and_prints_a_token(shop: Shop) -> None:
    migrated(shop)

    token = last_token(ok("demo", "--orders", "40"))

    assert shop.count("warehouses") == 3
    assert shop.count("skus") >= 10
    assert shop.count("orders") == 40
    for status in ("confirmed", "paid", "cancelled", "on_hold"):
        assert shop.count("orders", f"status = '{status}'") > 0, status
    listing, paid = shop.get(token, "/api/v1/orders?page_size=1", "/api/v1/orders?status=paid&page_size=1")
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] == 40
    assert paid.json()["total"] == shop.count("orders", "status = 'paid'")

    again = ok("demo", "--orders", "40")

    assert "already present" in again.output
    assert (shop.count("warehouses"), shop.count("orders")) == (3, 40)
    assert shop.count("users", "username = 'admin'") == 1
    [works] = shop.get(last_token(again), "/api/v1/policy")
    assert works.status_code == 200


# --- database URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://postgres@127.0.0.1:5432/shop", "postgresql+asyncpg://postgres@127.0.0.1:5432/shop"),
        ("postgres://shop:secret@db.internal/shop", "postgresql+asyncpg://shop:secret@db.internal/shop"),
        ("postgresql+psycopg://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
        ("postgresql+asyncpg://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
        ("postgresql://shop:p%40ss%2Fword@db/shop", "postgresql+asyncpg://shop:p%40ss%2Fword@db/shop"),
        ("postgresql://shop@db/shop?ssl=require", "postgresql+asyncpg://shop@db/shop?ssl=require"),
        ("sqlite:///./shopflow.db", "sqlite+aiosqlite:///./shopflow.db"),
        ("sqlite:////var/lib/shopflow/shop.db", "sqlite+aiosqlite:////var/lib/shopflow/shop.db"),
        ("sqlite+aiosqlite:///shop.db", "sqlite+aiosqlite:///shop.db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(given: str, used: str) -> None:
    assert async_url(given) == used


@pytest.mark.parametrize("url", ["mysql://shop@db/shop", "oracle://shop@db/shop"])
def test_an_unsupported_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        async_url(url)
