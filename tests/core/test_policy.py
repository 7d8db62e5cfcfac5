"""The policy document (POL-1): PROCESS_SPEC defaults, TOML overrides, errors naming the key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from shopflow.app import create_app
from shopflow.core import policy
from shopflow.core.db import Database
from shopflow.core.policy import Allocation, PolicyError
from shopflow.core.roles import Role
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.conftest import SETTINGS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_fields(caught: pytest.ExceptionInfo[PolicyError]) -> list[str]:
    return [error.field for error in caught.value.errors]


def test_defaults_are_the_numbers_of_process_spec() -> None:
    defaults = policy.Policy()
    assert defaults.orders.unpaid_cancel_minutes == 30  # ORD-5
    assert defaults.orders.ship_within_hours == 48  # ORD-6
    assert defaults.orders.deliver_within_hours == 72  # ORD-6
    assert defaults.orders.auto_receipt_days == 7  # ORD-7
    assert defaults.inventory.safety_stock == 50  # INV-4
    assert policy.authority("customer_service").compensation_amount == 50000  # ASV-5: 500 yuan, in fen
    assert defaults.aftersales.no_reason_return_days == 7  # ASV-1
    assert (defaults.aftersales.refund_min_working_days, defaults.aftersales.refund_max_working_days) == (
        3,
        5,
    )
    assert defaults.service.first_response_seconds == 30  # SVC-2
    assert defaults.staff.response_timeout_rate_percent == 5.0  # STF-3
    assert defaults.audit.retention_years == 3  # AUD-1
    assert defaults.calendar.weekend == frozenset({5, 6})  # POL-2: Saturday and Sunday


def test_intake_defaults_are_the_built_in_channels_and_sane_ceilings() -> None:
    orders = policy.Policy().orders
    assert orders.channels == ("web", "manual", "exchange", "import")  # ORD-1
    assert (orders.max_line_quantity, orders.max_order_value) == (999, 50_000_000)  # ORD-2: ¥500,000


def test_a_store_adds_its_marketplaces_to_the_built_in_channels(tmp_path: Path) -> None:
    text = '[orders]\nchannels = ["taobao", "jd", "douyin", "web"]\nmax_order_value = "20000.00"\n'
    orders = policy.load(write(tmp_path, text)).orders
    assert orders.channels == ("web", "manual", "exchange", "import", "taobao", "jd", "douyin")
    assert orders.max_order_value == 2_000_000


def test_no_file_means_the_defaults() -> None:
    assert policy.load(None) == policy.Policy()


def test_an_override_file_changes_only_what_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [orders]
        unpaid_cancel_minutes = 15
        ship_within_hours = 24

        [inventory]
        safety_stock = 80
        allocation = "whole_order"

        [aftersales]
        return_shipping_fee = "8.00"

        [calendar]
        holidays = [2026-10-01, 2026-10-02]
        """,
    )
    loaded = policy.load(path)
    assert loaded.orders.unpaid_cancel_minutes == 15
    assert loaded.orders.ship_within_hours == 24
    assert loaded.inventory.safety_stock == 80
    assert loaded.inventory.allocation is Allocation.WHOLE_ORDER
    assert loaded.aftersales.return_shipping_fee == 800
    assert loaded.calendar.holidays == frozenset({date(2026, 10, 1), date(2026, 10, 2)})
    # Everything not named keeps its default.
    assert loaded.orders.deliver_within_hours == 72
    assert loaded.fulfillment == policy.Fulfillment()
    assert loaded.calendar.weekend == frozenset({5, 6})


def test_overriding_one_band_floor_keeps_the_other_bands(tmp_path: Path) -> None:
    loaded = policy.load(write(tmp_path, "[catalog.band_floor_percent]\ntraffic = 50\n"))
    floors = loaded.model_dump(mode="json")["catalog"]["band_floor_percent"]
    assert floors == {"traffic": 50.0, "profit": 80.0, "image": 90.0}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[orders]\nunpaid_cancel_mins = 15\n", "orders.unpaid_cancel_mins"),
        ("[ordres]\nunpaid_cancel_minutes = 15\n", "ordres"),
        ("top_level = 1\n", "top_level"),
        ("[catalog.band_floor_percent]\ntrafic = 50\n", "catalog.band_floor_percent.trafic"),
    ],
)
def test_an_unknown_key_is_an_error_naming_it(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy.load(write(tmp_path, text))
    assert error_fields(caught) == [key]
    assert caught.value.errors[0].message == "unknown key"
    assert key in caught.value.detail


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[inventory]\nsafety_stock = -1\n", "inventory.safety_stock"),
        ("[orders]\nunpaid_cancel_minutes = 0\n", "orders.unpaid_cancel_minutes"),
        ('[orders]\nship_within_hours = "two days"\n', "orders.ship_within_hours"),
        ('[inventory]\nallocation = "cheapest"\n', "inventory.allocation"),
        ("[staff]\nresponse_timeout_rate_percent = 150\n", "staff.response_timeout_rate_percent"),
        ("[catalog.band_floor_percent]\nimage = 120\n", "catalog.band_floor_percent.image"),
        ('[calendar]\ntimezone = "Asia/Shangai"\n', "calendar.timezone"),
        ('[orders]\nchannels = ["Tmall"]\n', "orders.channels.0"),
        ('[orders]\nchannels = ["taobao", "jd shop"]\n', "orders.channels.1"),
        ("[orders]\nmax_line_quantity = 0\n", "orders.max_line_quantity"),
        ("[orders]\nmax_line_quantity = 2147483648\n", "orders.max_line_quantity"),  # its INTEGER column
        ('[orders]\nmax_order_value = "0.00"\n', "orders.max_order_value"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy.load(write(tmp_path, text))
    assert error_fields(caught) == [key]
    assert key in caught.value.detail


@pytest.mark.parametrize(
    "value",
    [
        '"abc"',
        '"-5.00"',
        '"9.999"',
        # A bare number is ambiguous (yuan? fen?): money in the policy is written as text.
        "500",
        "500.5",
    ],
)
def test_a_bad_money_value_is_rejected_naming_its_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy.load(write(tmp_path, f"[aftersales]\nreturn_shipping_fee = {value}\n"))
    assert error_fields(caught) == ["aftersales.return_shipping_fee"]


def test_every_bad_key_is_named_at_once(tmp_path: Path) -> None:
    text = "[orders]\nunpaid_cancel_mins = 15\n[inventory]\nsafety_stock = -1\n"
    with pytest.raises(PolicyError) as caught:
        policy.load(write(tmp_path, text))
    assert sorted(error_fields(caught)) == ["inventory.safety_stock", "orders.unpaid_cancel_mins"]


def test_each_role_may_grant_up_to_its_authority_and_a_store_changes_one_role(tmp_path: Path) -> None:
    limits = {
        role: (policy.authority(role).discount_percent, policy.authority(role).compensation_amount)
        for role in Role
    }
    assert limits == {
        "sales": (5.0, 0),
        "customer_service": (0.0, 50000),  # ASV-5: 500 yuan
        "cs_supervisor": (10.0, 500000),
        "manager": (30.0, 2000000),
        "admin": (100.0, None),  # no limit
        "operations": (0.0, 0),
        "warehouse": (0.0, 0),
        "purchasing": (0.0, 0),
        "finance": (0.0, 0),
    }
    text = (
        '[authority.customer_service]\ncompensation_amount = "80.00"\n'
        "[authority.finance]\ndiscount_percent = 2\n"
    )
    policy.install(policy.load(write(tmp_path, text)))
    assert (
        policy.authority("customer_service").discount_percent,
        policy.authority("customer_service").compensation_amount,
    ) == (0.0, 8000)
    assert (
        policy.authority("finance").discount_percent,
        policy.authority("finance").compensation_amount,
    ) == (2.0, 0)
    assert policy.authority("manager").compensation_amount == 2000000  # not named: its default


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[authority.intern]\ndiscount_percent = 5\n", "authority.intern.[key]"),
        ("[authority.sales]\ndiscount_percent = 101\n", "authority.sales.discount_percent"),
        ("[authority.sales]\ncompensation_amount = 50\n", "authority.sales.compensation_amount"),
        ("[authority.sales]\nlimit = 5\n", "authority.sales.limit"),
    ],
)
def test_a_bad_authority_is_an_error_naming_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy.load(write(tmp_path, text))
    assert error_fields(caught) == [key]


def test_a_file_that_is_not_toml_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        policy.load(write(tmp_path, "[orders\nunpaid_cancel_minutes = \n"))


def test_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        policy.load(tmp_path / "nowhere.toml")


def test_the_policy_cannot_be_changed_in_place() -> None:
    with pytest.raises(ValueError):
        policy.Policy().orders.unpaid_cancel_minutes = 1  # type: ignore[misc]


# --- through the API -------------------------------------------------------------------------


@pytest.fixture
async def override_client(db: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app started with a policy file, as a store would run it."""
    path = write(
        tmp_path,
        '[orders]\nunpaid_cancel_minutes = 20\n[fulfillment]\nshipping_fee = "12.50"\n',
    )
    app = create_app(db=db, settings=SETTINGS.model_copy(update={"policy_file": path}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_get_policy_shows_the_defaults_with_money_as_strings(
    client: httpx.AsyncClient, db: Database
) -> None:
    reply = await client.get("/api/v1/policy", headers=await bearer(db, "warehouse"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["orders"]["unpaid_cancel_minutes"] == 30
    assert body["orders"]["ship_within_hours"] == 48
    assert body["orders"]["deliver_within_hours"] == 72
    assert body["inventory"]["safety_stock"] == 50
    assert body["authority"]["customer_service"]["compensation_amount"] == "500.00"
    assert body["fulfillment"]["shipping_fee"] == "10.00"
    assert body["fulfillment"]["free_shipping_threshold"] == "99.00"


async def test_get_policy_shows_the_store_overrides(override_client: httpx.AsyncClient, db: Database) -> None:
    reply = await override_client.get("/api/v1/policy", headers=await bearer(db, "sales"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["orders"]["unpaid_cancel_minutes"] == 20
    assert body["fulfillment"]["shipping_fee"] == "12.50"
    assert body["orders"]["ship_within_hours"] == 48


async def test_orders_are_priced_with_the_overridden_shipping_fee(
    override_client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    reply = await override_client.post(
        "/api/v1/orders", json=order_body([("SKU-3", 2, "12.00")]), headers=await bearer(db, "sales")
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["totals"]["shipping"] == "12.50"
    assert reply.json()["totals"]["total"] == "36.50"


def test_an_app_does_not_start_with_a_bad_policy_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[inventory]\nsafety_stock = -1\n")
    with pytest.raises(PolicyError) as caught:
        create_app(settings=SETTINGS.model_copy(update={"policy_file": path}))
    assert error_fields(caught) == ["inventory.safety_stock"]


async def test_get_policy_needs_a_token(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/v1/policy")
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["code"] == "missing_token"
