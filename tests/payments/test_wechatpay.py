"""WeChat Pay API v3 (issue 20, PAY-1..3): a payment started with method `wechat` gets a Native QR
code from a request signed over the bytes sent; a notification verified on its raw body with the
key its Wechatpay-Serial names (the WeChat Pay public key or a platform certificate) and decrypted
under the APIv3 key pays the order once, also delivered 5 times at once; a tampered body, the wrong
key, a stale timestamp, a probe signature, another merchant or app, an amount that differs are
refused with nothing changed (the amount alerted); a refund whose answer timed out is retried under
the same out_refund_no, made once, and settled by WeChat Pay's refund notification."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import clock
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.payments import signing, wechatpay
from tests.builders.auth import bearer
from tests.builders.payments import place_order, start_payment
from tests.builders.providers import (
    APPID,
    PLATFORM_SERIAL_TEXT,
    Fakes,
    encrypt_resource,
    provider_app,
    provider_settings,
    rsa_key,
    transaction,
    wechat_notification,
    wechat_signed,
)
from tests.builders.rows import counts
from tests.builders.store import small_store


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def shop(db: Database, tmp_path: Path, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = provider_app(db, provider_settings(tmp_path), fakes.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _started(client: httpx.AsyncClient, db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(client, sales)
    return order, await start_payment(client, sales, order["id"], method="wechat")


async def _order_status(client: httpx.AsyncClient, db: Database, order_id: int) -> str:
    shown = await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "sales"))
    return str(shown.json()["status"])


async def _notify(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(wechatpay.CALLBACK_PATH, content=body, headers=headers)


async def test_a_payment_gets_a_native_qr_code_from_a_request_signed_over_the_bytes_sent(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes
) -> None:
    _, payment = await _started(shop, db)

    assert payment["provider"] == "wechat" and payment["pay_url"] is None
    assert payment["qr_code"] == "weixin://wxpay/bizpayurl?pr=test" + payment["out_trade_no"]
    [(method, path, sent)] = fakes.wechat.calls  # its Authorization verified there (FakeWechatPay.check)
    assert (method, path) == ("POST", "/v3/pay/transactions/native")
    assert sent["amount"] == {"total": 9900, "currency": "CNY"}
    assert sent["notify_url"] == "http://127.0.0.1:8000/api/v1/payments/callbacks/wechat"


async def test_a_jsapi_payment_gets_prepay_parameters_signed_for_the_buyers_page(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes
) -> None:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(shop, sales)
    url = f"/api/v1/orders/{order['id']}/payments"

    missing = await shop.post(url, json={"method": "wechat", "channel": "jsapi"}, headers=sales)
    reply = await shop.post(
        url,
        json={"method": "wechat", "channel": "jsapi", "payer_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        headers=sales,
    )

    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "payer_openid")
    assert reply.status_code == 201, reply.text
    prepay = reply.json()["prepay"]
    assert (prepay["appId"], prepay["package"], prepay["signType"]) == (
        APPID,
        "prepay_id=wx201410272009395522657a690389285100",
        "RSA",
    )
    message = f"{APPID}\n{prepay['timeStamp']}\n{prepay['nonceStr']}\n{prepay['package']}\n".encode()
    assert signing.verify(rsa_key("wechat-merchant").public_key(), message, prepay["paySign"])
    [(_, path, sent)] = fakes.wechat.calls
    assert (path, sent["payer"]) == ("/v3/pay/transactions/jsapi", {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})


async def test_a_channel_wechat_pay_does_not_offer_is_refused_by_name(
    shop: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(shop, sales)
    before = await counts(db)

    reply = await shop.post(
        f"/api/v1/orders/{order['id']}/payments", json={"method": "wechat", "channel": "page"}, headers=sales
    )

    assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "channel"
    assert await counts(db) == before


@pytest.mark.parametrize("serial", ["public key", "platform certificate"])
async def test_a_valid_notification_pays_the_order_once(
    shop: httpx.AsyncClient, db: Database, serial: str
) -> None:
    order, payment = await _started(shop, db)
    body = wechat_notification(transaction(payment["out_trade_no"], 9900))
    if serial == "public key":
        headers = wechat_signed(body)
    else:  # during a switch-over both are accepted
        headers = wechat_signed(body, key=rsa_key("wechat-platform-cert"), serial=PLATFORM_SERIAL_TEXT)

    first = await _notify(shop, body, headers)
    again = await _notify(shop, body, wechat_signed(body))

    assert (first.status_code, first.content, again.status_code) == (204, b"", 204)
    assert await _order_status(shop, db, order["id"]) == "paid"
    shown = await shop.get(f"/api/v1/payments/{payment['payment_id']}", headers=await bearer(db, "sales"))
    assert shown.json()["provider_reference"] == "4200000000202612080000000001"
    assert (await counts(db))["payment_receipts"] == 1


CASES = [
    "tampered body",
    "wrong key",
    "unknown serial",
    "stale timestamp",
    "probe signature",
    "another merchant",
    "another app",
    "tampered ciphertext",
]


@pytest.mark.parametrize("case", CASES)
async def test_a_notification_that_does_not_verify_or_fit_is_refused_and_changes_nothing(
    shop: httpx.AsyncClient, db: Database, case: str
) -> None:
    order, payment = await _started(shop, db)
    number = payment["out_trade_no"]
    body = wechat_notification(transaction(number, 9900))
    headers = wechat_signed(body)
    match case:
        case "tampered body":
            notice = json.loads(body)
            notice["event_type"] = "TRANSACTION.SUCCESS "
            body = json.dumps(notice).encode()  # the signature was over the original bytes
        case "wrong key":
            headers = wechat_signed(body, key=rsa_key("wechat-merchant"))
        case "unknown serial":
            headers = wechat_signed(body, serial="PUB_KEY_ID_0000")
        case "stale timestamp":
            headers = wechat_signed(body, at=clock.now() - timedelta(minutes=5, seconds=2))
        case "probe signature":
            headers = wechat_signed(body, signature="WECHATPAY/SIGNTEST/" + "A" * 300)
        case "another merchant":
            body = wechat_notification(transaction(number, 9900, mchid="1900000999"))
            headers = wechat_signed(body)
        case "another app":
            body = wechat_notification(transaction(number, 9900, appid="wx0000000000000000"))
            headers = wechat_signed(body)
        case _:
            notice = json.loads(body)
            notice["resource"]["ciphertext"] = notice["resource"]["ciphertext"][:-4] + "AAA="
            body = json.dumps(notice).encode()
            headers = wechat_signed(body)  # signed by WeChat Pay, but sealed under another key
    before = await counts(db)

    reply = await _notify(shop, body, headers)

    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["code"] == "FAIL" and reply.json()["message"]
    assert await counts(db) == before
    assert await _order_status(shop, db, order["id"]) == "confirmed"


async def test_an_amount_that_differs_is_refused_and_alerted(shop: httpx.AsyncClient, db: Database) -> None:
    order, payment = await _started(shop, db)
    body = wechat_notification(transaction(payment["out_trade_no"], 1))

    reply = await _notify(shop, body, wechat_signed(body))

    assert (reply.status_code, reply.json()["code"]) == (422, "FAIL")
    assert await _order_status(shop, db, order["id"]) == "confirmed"
    async with db.transaction() as session:
        kinds = list(await session.scalars(select(Alert.kind)))
    assert kinds == ["payment_amount_mismatch"]


async def test_a_refund_whose_answer_timed_out_is_retried_under_its_key_and_made_once(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes
) -> None:
    _, payment = await _started(shop, db)
    paid = wechat_notification(transaction(payment["out_trade_no"], 9900))
    assert (await _notify(shop, paid, wechat_signed(paid))).status_code == 204
    fakes.wechat.timeouts = 1
    manager = await bearer(db, "manager")
    key = "order:SO-1:compensation:7"  # not a valid out_refund_no: a digest of it is used
    asked = {"json": {"amount": "30.00", "reason": "damaged"}, "headers": {**manager, "Idempotency-Key": key}}
    url = f"/api/v1/payments/{payment['payment_id']}/refunds"

    first = await shop.post(url, **asked)
    retried = await shop.post(url, **asked)

    assert (first.json()["status"], retried.json()["status"]) == ("failed", "pending")
    [number] = fakes.wechat.refunds
    assert fakes.wechat.refunds == {number: 3000}  # one refund at WeChat Pay
    sent = [
        call[2]["out_refund_no"] for call in fakes.wechat.calls if call[1] == "/v3/refund/domestic/refunds"
    ]
    assert sent == [number, number]
    refunded = {
        "mchid": "1900000001",
        "out_trade_no": payment["out_trade_no"],
        "transaction_id": "4200000000202612080000000001",
        "out_refund_no": number,
        "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS",
        "amount": {"total": 9900, "refund": 3000, "payer_total": 9900, "payer_refund": 3000},
    }
    notice = wechat_notification(refunded, "REFUND.SUCCESS")
    for _ in range(2):
        assert (await _notify(shop, notice, wechat_signed(notice))).status_code == 204
    ledger = (await shop.get(url, headers=manager)).json()
    assert (ledger["refunded"], ledger["pending"], len(ledger["items"])) == ("30.00", "0.00", 1)


async def test_five_deliveries_at_once_pay_once(committed: Database, tmp_path: Path) -> None:
    """Five copies of one notification at the same moment, each in its own transaction with real
    commits (PostgreSQL's row locks and the unique event id): one payment, one receipt."""
    app = provider_app(committed, provider_settings(tmp_path), Fakes().transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        order, payment = await _started(client, committed)
        body = wechat_notification(transaction(payment["out_trade_no"], 9900))
        headers = wechat_signed(body)
        replies = await asyncio.gather(*(_notify(client, body, headers) for _ in range(5)))
        assert [reply.status_code for reply in replies] == [204] * 5
        assert await _order_status(client, committed, order["id"]) == "paid"
    rows = await counts(committed)
    assert (rows["payment_receipts"], rows["payment_callbacks"]) == (1, 1)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"resource": 1}', "订单=1&sign=%ZZ".encode()])
@pytest.mark.parametrize("path", [wechatpay.CALLBACK_PATH, "/api/v1/payments/callbacks/alipay"])
async def test_garbage_at_a_notification_url_is_refused_with_a_4xx(
    shop: httpx.AsyncClient, db: Database, path: str, body: bytes
) -> None:
    before = await counts(db)
    reply = await shop.post(path, content=body, headers=wechat_signed(body))
    assert 400 <= reply.status_code < 500, reply.text
    assert await counts(db) == before


async def test_a_genuine_notification_whose_resource_is_not_an_object_is_refused(
    shop: httpx.AsyncClient, db: Database
) -> None:
    notice = json.loads(wechat_notification({}))
    notice["resource"] = encrypt_resource([1, 2])  # type: ignore[arg-type]
    body = json.dumps(notice).encode()
    reply = await _notify(shop, body, wechat_signed(body))
    assert (reply.status_code, reply.json()["code"]) == (422, "FAIL")
