"""Missed notifications (issue 20, PAY-2): the worker asks Alipay and WeChat Pay about payments
pending longer than `payments.query_pending_after_seconds` and applies the answer as the
notification would, under the same event id: a notification arriving afterwards changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.payments import alipay, tasks, wechatpay
from tests.builders.auth import bearer
from tests.builders.payments import place_order, start_payment
from tests.builders.providers import (
    ALIPAY_APP_ID,
    Fakes,
    alipay_notification,
    form,
    provider_app,
    provider_settings,
    transaction,
    wechat_notification,
    wechat_signed,
)
from tests.builders.rows import counts
from tests.builders.store import small_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
async def shop(db: Database, tmp_path: Path, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    app = provider_app(db, provider_settings(tmp_path), fakes.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _started(
    client: httpx.AsyncClient, db: Database, method: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    await small_store(db)
    sales = await bearer(db, "sales")
    order = await place_order(client, sales)
    return order, await start_payment(client, sales, order["id"], method=method)


async def _sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await tasks.query_pending(session)


async def _status(client: httpx.AsyncClient, db: Database, order_id: int) -> str:
    shown = await client.get(f"/api/v1/orders/{order_id}", headers=await bearer(db, "sales"))
    return str(shown.json()["status"])


async def test_a_paid_alipay_trade_whose_notification_was_missed_is_applied_once(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes, now: FakeClock
) -> None:
    order, payment = await _started(shop, db, "alipay")
    number = payment["out_trade_no"]
    fakes.alipay.trades[number] = {
        "trade_no": "2026120822001400000000000001",
        "out_trade_no": number,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "99.00",
        "buyer_pay_amount": "99.00",
    }

    now.advance(seconds=599)
    assert await _sweep(db) == 0  # not before the policy's interval
    now.advance(seconds=1)
    assert await _sweep(db) == 1
    assert await _status(shop, db, order["id"]) == "paid"
    assert await _sweep(db) == 0  # paid: nothing more to ask

    late = alipay_notification(number, "99.00", app_id=ALIPAY_APP_ID)
    reply = await shop.post(
        alipay.CALLBACK_PATH,
        content=form(late),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.text == "success"
    rows = await counts(db)
    assert (rows["payment_receipts"], rows["payment_callbacks"]) == (1, 1)  # the same event, once


async def test_an_unpaid_wechat_trade_is_asked_about_once_per_interval(
    shop: httpx.AsyncClient, db: Database, fakes: Fakes, now: FakeClock
) -> None:
    order, payment = await _started(shop, db, "wechat")
    queries = "/v3/pay/transactions/out-trade-no/" + payment["out_trade_no"]

    now.advance(seconds=600)
    assert await _sweep(db) == 1  # ORDER_NOT_EXIST: still pending
    assert await _sweep(db) == 0  # asked just now
    now.advance(seconds=600)
    fakes.wechat.trades[payment["out_trade_no"]] = transaction(payment["out_trade_no"], 9900)
    assert await _sweep(db) == 1
    assert [call[1] for call in fakes.wechat.calls].count(queries) == 2
    assert await _status(shop, db, order["id"]) == "paid"

    body = wechat_notification(transaction(payment["out_trade_no"], 9900))
    assert (
        await shop.post(wechatpay.CALLBACK_PATH, content=body, headers=wechat_signed(body))
    ).status_code == 204
    rows = await counts(db)
    assert (rows["payment_receipts"], rows["payment_callbacks"]) == (1, 1)
