"""Alipay (issue 20, PAY-1..3): a payment started with method `alipay` goes to Alipay's cashier; its
notification is verified with Alipay's public key on the form as received and pays the order
once, also delivered 5 times at once; a tampered field, the wrong key, another app, an amount that
differs are refused with nothing changed (the amount alerted); a refund whose answer timed out is
retried under the same out_request_no and made once. Alipay is played by tests/builders/providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import select

from shopflow.core.alerts import Alert
from shopflow.core.console.i18n import LANG_COOKIE
from shopflow.core.db import Database
from shopflow.payments import alipay, signing
from tests.builders.auth import bearer, staff
from tests.builders.console import PASSWORD, Visitor
from tests.builders.payments import place_order, start_payment
from tests.builders.providers import (
    ALIPAY_APP_ID,
    ALIPAY_GATEWAY,
    Fakes,
    alipay_notification,
    form,
    provider_app,
    provider_settings,
    rsa_key,
)
from tests.builders.rows import counts
from tests.builders.store import small_store

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def shop(db: Database, tmp_path: Path, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = provider_app(db, provider_settings(tmp_path, pkcs1=True), fakes.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _started(client: httpx.AsyncClient, db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(client, sales)
    return order, await start_payment(client, sales, order["id"], method="alipay")


async def _order_status(client: httpx.AsyncClient, db: Database, order_id: int) -> str:
    shown = await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "sales"))
    return str(shown.json()["status"])


async def _notify(client: httpx.AsyncClient, params: dict[str, str]) -> httpx.Response:
    return await client.post(alipay.CALLBACK_PATH, content=form(params), headers=FORM)


async def test_a_payment_goes_to_alipays_cashier_signed_for_this_app(
    shop: httpx.AsyncClient, db: Database
) -> None:
    _, payment = await _started(shop, db)

    assert payment["provider"] == "alipay" and payment["out_trade_no"].startswith("SF")
    url = urlsplit(payment["pay_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == ALIPAY_GATEWAY
    params = dict(parse_qsl(url.query))
    assert (params["app_id"], params["method"], params["sign_type"]) == (
        ALIPAY_APP_ID,
        "alipay.trade.page.pay",
        "RSA2",
    )
    assert params["notify_url"] == "http://127.0.0.1:8000/api/v1/payments/callbacks/alipay"
    assert '"out_trade_no":"{}"'.format(payment["out_trade_no"]) in params["biz_content"]
    assert '"total_amount":"99.00"' in params["biz_content"]
    signed = alipay.signed_content(params, alipay.REQUEST_UNSIGNED).encode()
    assert signing.verify(rsa_key("alipay-app").public_key(), signed, params["sign"])


async def test_a_valid_notification_pays_the_order_once(shop: httpx.AsyncClient, db: Database) -> None:
    order, payment = await _started(shop, db)
    params = alipay_notification(payment["out_trade_no"], "99.00")

    first = await _notify(shop, params)
    again = await _notify(shop, params)
    finished = await _notify(
        shop, alipay_notification(payment["out_trade_no"], "99.00", trade_status="TRADE_FINISHED")
    )

    assert (first.status_code, first.text) == (200, "success")
    assert (again.text, finished.text) == ("success", "success")
    assert await _order_status(shop, db, order["id"]) == "paid"
    shown = await shop.get(f"/api/v1/payments/{payment['payment_id']}", headers=await bearer(db, "sales"))
    assert (shown.json()["status"], shown.json()["provider_reference"]) == (
        "succeeded",
        "2026120822001400000000000001",
    )
    assert (await counts(db))["payment_receipts"] == 1


def _tampered(payment: dict[str, Any]) -> dict[str, str]:
    params = alipay_notification(payment["out_trade_no"], "0.01")
    return {**params, "total_amount": "99.00", "receipt_amount": "99.00"}  # changed after signing


@pytest.mark.parametrize(
    "case",
    ["tampered", "the app's own key", "sign_type signed too", "another app", "not our payment"],
)
async def test_a_notification_that_does_not_verify_or_fit_is_refused_and_changes_nothing(
    shop: httpx.AsyncClient, db: Database, case: str
) -> None:
    order, payment = await _started(shop, db)
    number = payment["out_trade_no"]
    match case:
        case "tampered":
            params = _tampered(payment)
        case "the app's own key":  # the store's key, not Alipay's: the field's classic mistake
            params = alipay_notification(number, "99.00", key=rsa_key("alipay-app"))
        case "sign_type signed too":  # signed as a request is: notifications leave sign_type out
            params = alipay_notification(number, "99.00")
            content = alipay.signed_content(params, alipay.REQUEST_UNSIGNED)
            params["sign"] = signing.sign(rsa_key("alipay"), content.encode())
        case "another app":
            params = alipay_notification(number, "99.00", app_id="2021000000000999")
        case _:
            params = alipay_notification("SF999999999999", "99.00")
    before = await counts(db)

    reply = await _notify(shop, params)

    assert reply.text == "failure" and 400 <= reply.status_code < 500
    assert await counts(db) == before
    assert await _order_status(shop, db, order["id"]) == "confirmed"


async def test_an_amount_that_differs_is_refused_and_alerted(shop: httpx.AsyncClient, db: Database) -> None:
    order, payment = await _started(shop, db)

    reply = await _notify(shop, alipay_notification(payment["out_trade_no"], "0.01"))

    assert (reply.status_code, reply.text) == (422, "failure")
    assert await _order_status(shop, db, order["id"]) == "confirmed"
    async with db.transaction() as session:
        kinds = list(await session.scalars(select(Alert.kind)))
    assert kinds == ["payment_amount_mismatch"]


async def test_a_refund_whose_answer_timed_out_is_retried_under_its_key_and_made_once(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes
) -> None:
    _, payment = await _started(shop, db)
    assert (await _notify(shop, alipay_notification(payment["out_trade_no"], "99.00"))).text == "success"
    fakes.alipay.timeouts = 1
    manager = await bearer(db, "manager")
    asked = {
        "json": {"amount": "30.00", "reason": "damaged"},
        "headers": {**manager, "Idempotency-Key": "rf-a1"},
    }
    url = f"/api/v1/payments/{payment['payment_id']}/refunds"

    first = await shop.post(url, **asked)
    retried = await shop.post(url, **asked)

    assert (first.json()["status"], retried.json()["status"]) == ("failed", "succeeded")
    assert fakes.alipay.refunds == {"rf-a1": "30.00"}  # one refund at Alipay
    numbers = [
        call["out_request_no"] for call in fakes.alipay.calls if call["method"] == "alipay.trade.refund"
    ]
    assert numbers == ["rf-a1", "rf-a1"]
    ledger = (await shop.get(url, headers=manager)).json()
    assert (ledger["refunded"], ledger["pending"], len(ledger["items"])) == ("30.00", "0.00", 1)


async def test_five_deliveries_at_once_pay_once(committed: Database, tmp_path: Path) -> None:
    """Five copies of one notification at the same moment, each in its own transaction with real
    commits (PostgreSQL's row locks and the unique event id): one payment, one receipt."""
    app = provider_app(committed, provider_settings(tmp_path), Fakes().transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        order, payment = await _started(client, committed)
        params = alipay_notification(payment["out_trade_no"], "99.00")
        replies = await asyncio.gather(*(_notify(client, params) for _ in range(5)))
        assert [reply.text for reply in replies] == ["success"] * 5
        assert await _order_status(client, committed, order["id"]) == "paid"
    rows = await counts(committed)
    assert (rows["payment_receipts"], rows["payment_callbacks"]) == (1, 1)


@pytest.mark.parametrize(("lang", "provider"), [("zh_CN", "支付宝"), ("en", "Alipay")])
async def test_the_order_page_shows_the_provider_and_its_reference(
    shop: httpx.AsyncClient, db: Database, lang: str, provider: str
) -> None:
    order, payment = await _started(shop, db)
    assert (await _notify(shop, alipay_notification(payment["out_trade_no"], "99.00"))).text == "success"
    visitor = Visitor(shop)
    assert (await visitor.sign_in(await staff(db, "manager", PASSWORD))).status_code == 303
    shop.cookies.set(LANG_COOKIE, lang)

    page = (await visitor.get(f"/orders/{order['id']}")).text

    # method, then provider: both Alipay
    assert f"<td>{payment['payment_id']}</td><td>{provider}</td><td>{provider}</td>" in page
    assert "<td>2026120822001400000000000001</td>" in page
    assert ("渠道交易号" if lang == "zh_CN" else "Provider reference") in page
