"""The `shopflow` command, run in-process against a fresh SQLite file per test."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from shopflow.app import create_app
from shopflow.cli import app, staff
from shopflow.core.auth import Role
from shopflow.core.db import async_url
from shopflow.core.settings import Settings, get_settings
from shopflow.demo import risk
from tests.builders.console import csrf_of
from tests.conftest import ROOT, SETTINGS

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

    def sign_in(self, username: str, password: str) -> int:
        """The status of signing in to the console of this store: 303 when the password is right."""

        async def attempt() -> int:
            served = create_app(settings=self.settings())
            transport = httpx.ASGITransport(app=served)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                    form = await client.get("/login")
                    data = {"username": username, "password": password, "csrf": csrf_of(form.text)}
                    return (await client.post("/login", data=data)).status_code
            finally:
                await served.state.db.dispose()

        return asyncio.run(attempt())


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


def test_users_passwd_asks_twice_and_the_user_signs_in_with_the_new_password(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "li.na", "--role", "warehouse", "--password", "first-password")

    asked = runner.invoke(app, ["users", "passwd", "li.na"], input="second-password\nsecond-password\n")

    assert asked.exit_code == 0, asked.output
    assert "Repeat for confirmation" in asked.output and "second-password" not in asked.output
    assert shop.sign_in("li.na", "second-password") == 303
    assert shop.sign_in("li.na", "first-password") == 401

    ok("users", "passwd", "li.na", "--password", "third-password")
    assert shop.sign_in("li.na", "third-password") == 303


def test_users_passwd_with_two_different_entries_changes_nothing(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "li.na", "--role", "warehouse", "--password", "first-password")

    mismatched = runner.invoke(app, ["users", "passwd", "li.na"], input="second-password\nsecond-passwort\n")

    assert mismatched.exit_code == 1
    assert "do not match" in mismatched.output
    assert shop.sign_in("li.na", "first-password") == 303


def test_users_passwd_of_an_unknown_user_exits_1(shop: Shop) -> None:
    migrated(shop)
    result = shopflow("users", "passwd", "nobody", "--password", "long-enough")
    assert result.exit_code == 1 and "no user 'nobody'" in result.output


def test_a_password_shorter_than_the_policy_minimum_is_refused_everywhere(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated(shop)
    short = shopflow("users", "add", "li.na", "--role", "sales", "--password", "7-chars")
    assert short.exit_code == 1
    assert short.output.splitlines() == [
        "error: the password is too short; nothing was changed",
        "  password: must have at least 8 characters",
    ]
    assert shop.count("users") == 0

    ok("users", "add", "li.na", "--role", "sales", "--password", "8-chars!")
    assert shopflow("users", "passwd", "li.na", "--password", "shorter").exit_code == 1
    assert shop.sign_in("li.na", "8-chars!") == 303

    path = tmp_path / "policy.toml"
    path.write_text("[security]\npassword_min_length = 12\n", encoding="utf-8")
    monkeypatch.setenv("SHOPFLOW_POLICY_FILE", str(path))
    get_settings.cache_clear()
    stricter = shopflow("users", "passwd", "li.na", "--password", "eleven-char")
    assert stricter.exit_code == 1 and "must have at least 12 characters" in stricter.output
    ok("users", "passwd", "li.na", "--password", "twelve-chars")
    assert shop.sign_in("li.na", "twelve-chars") == 303


def test_users_add_without_a_password_says_how_to_set_one_when_nobody_types(shop: Shop) -> None:
    migrated(shop)

    result = ok("users", "add", "li.na", "--role", "warehouse")

    assert (
        "cannot sign in to the console until a password is set: shopflow users passwd li.na" in result.output
    )
    assert shop.count("users", "username = 'li.na' AND password_hash IS NULL") == 1
    assert shop.sign_in("li.na", "") == 401


def test_users_add_at_a_terminal_asks_for_the_password_twice(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated(shop)
    monkeypatch.setattr(staff, "_interactive", lambda: True)

    result = runner.invoke(app, ["users", "add", "li.na", "--role", "sales"], input="typed-password\n" * 2)

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output and "cannot sign in" not in result.output
    assert shop.sign_in("li.na", "typed-password") == 303


def test_tokens_list_shows_label_owner_and_dates_never_the_token(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "wang.wei", "--role", "customer_service")
    ok("users", "add", "li.na", "--role", "warehouse")
    laptop = last_token(ok("tokens", "create", "wang.wei", "--label", "laptop"))
    scanner = last_token(ok("tokens", "create", "li.na", "--label", "scanner"))

    everyone = ok("tokens", "list").output
    mine = ok("tokens", "list", "wang.wei").output

    assert "laptop" in everyone and "wang.wei" in everyone and "scanner" in everyone and "li.na" in everyone
    assert "laptop" in mine and "scanner" not in mine and "li.na" not in mine
    for token in (laptop, scanner):
        assert token not in everyone and token[3:12] not in everyone
    unknown = shopflow("tokens", "list", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output


def test_an_empty_or_overlong_name_or_label_is_refused(shop: Shop) -> None:
    migrated(shop)
    long = shopflow("users", "add", "x" * 81, "--role", "sales", "--password", "long-enough")
    assert long.exit_code == 1 and "username: at most 80 characters" in long.output
    ok("users", "add", "li.na", "--role", "sales", "--password", "long-enough")
    empty = shopflow("tokens", "create", "li.na", "--label", "")
    assert empty.exit_code == 1 and "label: is required" in empty.output
    assert (shop.count("users"), shop.count("api_tokens")) == (1, 0)


def test_tokens_create_for_an_unknown_user_exits_1(shop: Shop) -> None:
    migrated(shop)
    result = shopflow("tokens", "create", "nobody")
    assert result.exit_code == 1 and "nobody" in result.output
    assert shop.count("api_tokens") == 0


def test_tokens_revoke_refuses_the_token_on_the_next_request_audited(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "wang.wei", "--role", "operations")
    token = last_token(ok("tokens", "create", "wang.wei", "--label", "erp"))
    [before] = shop.get(token, "/api/v1/policy")
    assert before.status_code == 200

    result = ok("tokens", "revoke", "1")
    assert "token 1 (erp) revoked" in result.output
    [after] = shop.get(token, "/api/v1/policy")
    assert after.status_code == 401 and after.json()["code"] == "invalid_token"
    assert "erp" in ok("tokens", "list").output and shop.count("api_tokens", "revoked_at IS NULL") == 0
    assert shop.count("audit_log", "action = 'token.revoked'") == 1
    missing = shopflow("tokens", "revoke", "99")
    assert missing.exit_code == 1 and "no token 99" in missing.output


def test_users_disable_signs_out_and_revokes_until_enable_gives_back_sign_in(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "li.na", "--role", "sales", "--password", "long-enough")
    token = last_token(ok("tokens", "create", "li.na"))

    assert "li.na disabled" in ok("users", "disable", "li.na").output
    assert shop.get(token, "/api/v1/policy")[0].status_code == 401
    assert shop.sign_in("li.na", "long-enough") == 401
    assert "li.na" in ok("users", "list").output and shop.count("users", "active") == 0

    assert "li.na enabled" in ok("users", "enable", "li.na").output
    assert shop.sign_in("li.na", "long-enough") == 303
    assert shop.get(token, "/api/v1/policy")[0].status_code == 401  # old tokens stay revoked
    actions = "action IN ('user.disabled', 'user.enabled')"
    assert shop.count("audit_log", actions) == 2
    unknown = shopflow("users", "disable", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output


def test_users_add_and_set_give_a_team_a_manager_duty_and_an_email(shop: Shop) -> None:
    migrated(shop)
    ok("users", "add", "zhao.lei", "--role", "cs_supervisor", "--team", "售后", "--email", "zhao@shop.cn")
    ok("users", "add", "li.na", "--role", "customer_service", "--team", "售后", "--manager", "zhao.lei")
    ok("users", "set", "li.na", "--off-duty", "--email", "li@shop.example")

    listing = ok("users", "list").output
    with sqlite3.connect(shop.db_file) as conn:
        rows = conn.execute(
            "SELECT u.username, u.team, m.username, u.on_duty, u.email FROM users u"
            " LEFT JOIN users m ON m.id = u.manager_id ORDER BY u.id"
        ).fetchall()
    assert [row[:4] for row in rows] == [("zhao.lei", "售后", None, 1), ("li.na", "售后", "zhao.lei", 0)]
    assert all(b"@" not in row[4] for row in rows)  # the emails are encrypted at rest
    assert "售后" in listing and "zhao.lei" in listing.splitlines()[-2]  # li.na's manager
    assert "zhao@shop" in listing and "li@shop.e" in listing  # read back (the table cuts them short)

    cycle = shopflow("users", "set", "zhao.lei", "--manager", "li.na")
    assert cycle.exit_code == 1
    assert "manager: may not be the user or someone reporting to them" in cycle.output
    bad = shopflow("users", "set", "li.na", "--email", "li at shop")
    assert bad.exit_code == 1 and "email: is not an email address" in bad.output
    ok("users", "set", "li.na", "--manager", "", "--on-duty")
    with sqlite3.connect(shop.db_file) as conn:
        assert conn.execute("SELECT manager_id, on_duty FROM users WHERE username = 'li.na'").fetchone() == (
            None,
            1,
        )


# --- policy ----------------------------------------------------------------------------------


def test_policy_show_prints_the_effective_policy_as_json(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = json.loads(ok("policy", "show").stdout)
    assert defaults["orders"]["unpaid_cancel_minutes"] == 30
    assert defaults["authority"]["customer_service"]["compensation_amount"] == "500.00"

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
    # and the accepted quote's contract order (CRM-6) and the risk desk's, after a year of history
    assert shop.count("orders", "imported_at IS NULL") == 40 + 1 + risk.ORDERS
    assert shop.count("orders", "imported_at IS NOT NULL") > 1000
    for status in ("confirmed", "paid", "cancelled", "on_hold"):
        assert shop.count("orders", f"status = '{status}'") > 0, status
    listing, paid = shop.get(token, "/api/v1/orders?page_size=1", "/api/v1/orders?status=paid&page_size=1")
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] == shop.count("orders")  # history is listed too
    assert paid.json()["total"] == shop.count("orders", "status = 'paid'")

    wide = runner.invoke(app, ["aftersales", "list", "--state", "refunded"], env={"COLUMNS": "200"})
    assert wide.exit_code == 0, wide.output
    refunded = wide.output
    assert "1 cases" in refunded and "refund_only" in refunded and "wrong_item" in refunded
    assert shop.count("aftersales_cases") == 5
    unknown = shopflow("aftersales", "list", "--state", "lost")
    assert unknown.exit_code == 1 and "--state must be one of requested" in unknown.output

    # INV-5, ANA-5: suppliers, purchase orders in every state, the night's forecast (issue 18).
    for status in ("draft", "submitted", "confirmed", "partially_received", "received", "cancelled"):
        assert shop.count("purchase_orders", f"status = '{status}'") > 0, status
    assert shop.count("demand_forecasts") > 0
    shown = runner.invoke(app, ["forecast", "--sku", "SF-001-01", "--weeks", "1"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0, shown.output
    assert "forecast" in shown.output and "history" in shown.output and "WAPE" in shown.output
    assert "the last nightly run, by ABC class" in shown.output
    missing = shopflow("forecast", "--sku", "NOPE")
    assert missing.exit_code == 1 and "NOPE" in missing.output

    before = shop.count("orders")
    again = ok("demo", "--orders", "40")

    assert "already present" in again.output
    assert (shop.count("warehouses"), shop.count("orders")) == (3, before)
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


def _shopflow_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `shopflow` command in its own process, as a user runs it."""
    command = Path(sys.executable).with_name("shopflow")
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80", **env}
    return subprocess.run([command, *args], capture_output=True, text=True, env=environment, timeout=60)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql://postgres:hunter2@127.0.0.1:1/x",
            "error: cannot reach the database at postgresql://postgres:***@127.0.0.1:1/x: connection refused",
        ),
        (
            "postgresql://shop:hunter2@db:port/shop",
            "error: 'postgresql://shop:***@db:port/shop' is not a database URL: "
            "write postgresql://user@host:5432/db or sqlite:///path",
        ),
        (
            "mysql://shop@db/shop",
            "error: unsupported database 'mysql': use postgresql:// or sqlite:/// "
            "(the database URL is 'mysql://shop@db/shop')",
        ),
        (
            "sqlite:////nowhere/at/all/shop.db",
            "error: cannot reach the database at sqlite:////nowhere/at/all/shop.db: "
            "unable to open database file",
        ),
    ],
)
def test_migrate_with_a_bad_database_url_says_so_in_one_line(url: str, said: str) -> None:
    result = _shopflow_process("migrate", SHOPFLOW_DATABASE_URL=url)
    assert result.returncode == 1
    assert (result.stdout, result.stderr.splitlines()) == ("", [said])


@pytest.mark.parametrize(
    "command",
    [("users", "list"), ("tokens", "create", "li.na"), ("worker", "--once"), ("serve", "--port", "1")],
)
def test_every_command_on_an_unreachable_database_says_so_in_one_line(command: tuple[str, ...]) -> None:
    result = _shopflow_process(*command, SHOPFLOW_DATABASE_URL="postgresql://postgres@127.0.0.1:1/x")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: cannot reach the database at postgresql://postgres@127.0.0.1:1/x: connection refused"
    ]


# --- serve -----------------------------------------------------------------------------------


@pytest.fixture
def served(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `shopflow serve` hands uvicorn, and the public URL the served app would use."""
    migrated(shop)
    monkeypatch.delenv("SHOPFLOW_PUBLIC_URL", raising=False)  # restored (unset) after the test
    seen: dict[str, Any] = {}

    def run(target: str, **options: Any) -> None:
        seen.update(options, public_url=get_settings().public_url)

    monkeypatch.setattr("uvicorn.run", run)
    return seen


def test_links_point_at_the_port_served_unless_a_public_url_is_set(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("serve", "--port", "8100")
    assert (served["port"], served["public_url"]) == (8100, "http://127.0.0.1:8100")

    monkeypatch.delenv("SHOPFLOW_PUBLIC_URL")  # a new process
    ok("serve", "--host", "::1", "--port", "8200")
    assert served["public_url"] == "http://[::1]:8200"

    monkeypatch.setenv("SHOPFLOW_PUBLIC_URL", "https://shop.example.cn")
    ok("serve", "--port", "8100")
    assert served["public_url"] == "https://shop.example.cn"
