"""NTF-1 and ORD-8 end to end: outbox events, through the worker's `dispatch` and `deliver`
sweeps, reach a real local SMTP server, the SMS log and a local HTTP receiver; retries follow
the policy's back-off (a FakeClock makes the times exact) into the dead letter."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from shopflow.core import policy
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.settings import get_settings
from shopflow.notify import repository, service
from shopflow.notify.errors import WebhookDeleted
from shopflow.orders.models import Order
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import fulfillment_steps, intake, lifecycle
from tests.builders.inventory import receive
from tests.builders.notify import (
    SECRET,
    Receiver,
    add_webhook,
    body_of,
    deliveries,
    free_port,
    pending_outbox,
    record_event,
    sms_lines,
    sms_texts,
    sweep,
)
from tests.builders.orders import order_body
from tests.builders.rows import alerts_for, audit_rows
from tests.builders.store import small_store
from tests.notify.conftest import START, Outside

PARCEL = {
    "carrier": "SF",
    "carrier_name": "顺丰速运",
    "tracking_no": "SF1234567890",
    "tracking_url": "https://t.example.cn/SF1234567890",
}


async def place(db: Database, lines: list[tuple[str, int, str]] | None = None) -> Order:
    body = OrderIn.model_validate(order_body(lines or [("SKU-1", 2, "99.00")]))
    async with db.transaction() as session:
        return (await intake.place_order(session, SYSTEM, body, None)).order


async def test_an_order_confirmation_reaches_the_mailbox_the_phone_and_the_subscriber(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    await small_store(db)
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url, ["order.*"])
        order = await place(db)
        await sweep(db)

        [mail] = outside.mailbox.messages
        assert mail["Subject"] == f"【Shopflow】订单 {order.order_no} 已确认"
        assert (mail["To"], mail["From"]) == ("zhang@example.cn", "Shopflow <noreply@shop.example.cn>")
        assert outside.mailbox.recipients == [["zhang@example.cn"]]
        text = body_of(mail, "plain")
        assert text.startswith("张三，您好")
        assert "¥198.00" in text and "2030-03-03 09:00" in text  # 48 h promise, shown in Shanghai time
        assert order.order_no in body_of(mail, "html")

        [sms] = await deliveries(db, channel="sms")
        assert sms_lines(outside.sms_log) == [
            [START.isoformat(), "138****8000", "order.confirmed", sms.idempotency_id]
        ]
        assert sms.message["text"].startswith(f"【Shopflow】您的订单{order.order_no}已确认")
        [email] = await deliveries(db, channel="email")
        assert mail["Message-ID"] == f"<{email.idempotency_id}@shop.example.cn>"  # the same on a retry

        [post] = receiver.received
        assert post.signed_by(SECRET)
        assert not post.signed_by("another-secret-0123456789")
        assert post.headers["x-shopflow-event"] == "order.confirmed"
        assert post.headers["content-type"] == "application/json"
        payload = post.json()
        assert payload["id"] == post.delivery_id
        assert (payload["event"], payload["subject"]) == ("order.confirmed", f"order:{order.id}")
        assert payload["data"]["order_no"] == order.order_no

        sent = await deliveries(db)
        assert sorted(d.channel for d in sent) == ["email", "sms", "webhook"]
        assert {d.state for d in sent} == {"delivered"}
        assert [[a.ok for a in d.log] for d in sent] == [[True]] * 3
        assert {d.recipient for d in sent} == {"z***@example.cn", "138****8000", receiver.url}
        assert await pending_outbox(db) == []

        await sweep(db)  # nothing is sent twice
        assert (len(outside.mailbox.messages), len(receiver.received)) == (1, 1)
        assert len(sms_lines(outside.sms_log)) == 1


async def test_the_log_email_provider_writes_each_message_to_its_file_and_sends_no_mail(
    db: Database, outside: Outside, now: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mail_log = tmp_path / "mail.log"
    monkeypatch.setenv("SHOPFLOW_EMAIL_PROVIDER", "log")
    monkeypatch.setenv("SHOPFLOW_EMAIL_LOG", str(mail_log))
    get_settings.cache_clear()
    await small_store(db)
    order = await place(db)
    await sweep(db)

    [email] = await deliveries(db, channel="email")
    assert (email.state, [a.ok for a in email.log]) == ("delivered", [True])
    written = mail_log.read_text("utf-8")
    assert [line.split("\t") for line in written.splitlines()] == [
        [
            START.isoformat(),
            "z***@example.cn",
            "order.confirmed",
            f"【Shopflow】订单 {order.order_no} 已确认",
            email.idempotency_id,
        ]
    ]
    assert "zhang@" not in written and "张三" not in written  # no address, no name, no text
    assert mail_log.stat().st_mode & 0o777 == 0o600
    assert outside.mailbox.messages == []


async def test_every_order_notice_of_ord_8_reaches_the_customer(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    await small_store(db)
    shipped = await place(db)
    cancelled = await place(db, [("SKU-2", 1, "45.50")])
    short = await place(db, [("SKU-3", 999, "12.00")])  # more than in stock: on hold (ORD-4)
    async with db.transaction() as session:
        await lifecycle.mark_paid(session, SYSTEM, shipped.id)
        await fulfillment_steps.start_picking(session, SYSTEM, shipped.id)
        await fulfillment_steps.mark_packed(session, SYSTEM, shipped.id)
        await fulfillment_steps.mark_shipped(session, SYSTEM, shipped.id, [PARCEL])
        await lifecycle.mark_delivered(session, SYSTEM, shipped.id)
        await lifecycle.cancel(session, SYSTEM, cancelled.id, "unpaid_timeout")
    await sweep(db)

    mails = {m["Subject"]: m for m in outside.mailbox.messages}
    assert len(outside.mailbox.messages) == len(mails) == 7
    assert set(mails) == {
        f"【Shopflow】订单 {shipped.order_no} 已确认",
        f"【Shopflow】订单 {cancelled.order_no} 已确认",
        f"【Shopflow】订单 {short.order_no} 暂缓发货",
        f"【Shopflow】订单 {shipped.order_no} 支付成功",
        f"【Shopflow】订单 {shipped.order_no} 已发货",
        f"【Shopflow】订单 {shipped.order_no} 已送达",
        f"【Shopflow】订单 {cancelled.order_no} 已取消",
    }
    shipping_mail = mails[f"【Shopflow】订单 {shipped.order_no} 已发货"]
    assert "顺丰速运　运单号：SF1234567890　物流查询：https://t.example.cn/SF1234567890" in body_of(
        shipping_mail, "plain"
    )
    assert '<a href="https://t.example.cn/SF1234567890">' in body_of(shipping_mail, "html")
    assert "部分商品暂时缺货" in body_of(mails[f"【Shopflow】订单 {short.order_no} 暂缓发货"], "plain")
    assert "订单超时未支付" in body_of(mails[f"【Shopflow】订单 {cancelled.order_no} 已取消"], "plain")
    texts = await sms_texts(db)
    assert len(texts) == len(sms_lines(outside.sms_log)) == 7
    [shipping_sms] = [text for text in texts if "已发货" in text]
    assert "SF1234567890" in shipping_sms and "https://t.example.cn/SF1234567890" in shipping_sms


async def test_an_order_released_from_a_stock_hold_is_confirmed_with_an_expected_ship_time(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    await small_store(db)
    short = await place(db, [("SKU-3", 40, "12.00")])  # 30 in stock
    await receive(db, "WH-B", {"SKU-3": 20})
    now.advance(hours=5)
    async with db.transaction() as session:
        await lifecycle.release(session, SYSTEM, short.id)
    await sweep(db)

    mails = {m["Subject"]: m for m in outside.mailbox.messages}
    assert set(mails) == {
        f"【Shopflow】订单 {short.order_no} 暂缓发货",
        f"【Shopflow】订单 {short.order_no} 已确认",
    }
    # 48 hours from the confirmation at 06:00 UTC, shown in Shanghai time (ORD-6)
    assert "预计发货时间：2030-03-03 14:00" in body_of(
        mails[f"【Shopflow】订单 {short.order_no} 已确认"], "plain"
    )


async def test_customer_notices_follow_the_policys_language_and_channels(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    policy.install(policy.validate({"notify": {"language": "en", "customer_channels": ["email"]}}))
    await small_store(db)
    order = await place(db)
    await sweep(db)

    [mail] = outside.mailbox.messages
    assert mail["Subject"] == f"[Shopflow] Order {order.order_no} is confirmed"
    assert body_of(mail, "plain").startswith("Dear 张三,")
    assert sms_lines(outside.sms_log) == []
    assert [d.channel for d in await deliveries(db)] == ["email"]


async def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_idempotency_id(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    async with Receiver(plan=[500, 503]) as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        await sweep(db)
        assert len(receiver.received) == 1

        now.advance(seconds=29)
        await sweep(db)
        assert len(receiver.received) == 1  # the 30-second back-off is kept
        now.advance(seconds=1)
        await sweep(db)
        assert len(receiver.received) == 2
        now.advance(seconds=60)  # doubled
        await sweep(db)
        now.advance(days=1)
        await sweep(db)

    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.delivered_at) == ("delivered", START + timedelta(seconds=90))
    assert [(a.ok, a.status_code) for a in delivery.log] == [(False, 500), (False, 503), (True, 200)]
    assert [a.at - START for a in delivery.log] == [
        timedelta(0),
        timedelta(seconds=30),
        timedelta(seconds=90),
    ]
    assert receiver.ids() == [delivery.idempotency_id] * 3
    assert len({r.body for r in receiver.received}) == 1
    assert all(r.signed_by(SECRET) for r in receiver.received)


async def test_a_receiver_that_always_fails_is_dead_after_n_attempts_with_growing_back_off(
    db: Database, outside: Outside, now: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Receiver(default=500) as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        sent_at: list[datetime] = []
        for _ in range(10):
            await sweep(db)
            if len(receiver.received) > len(sent_at):
                sent_at.append(now())
            [delivery] = await deliveries(db)
            if delivery.state != "pending":
                break
            now.current = delivery.next_attempt_at

        assert (delivery.state, delivery.failures, delivery.dead_at) == ("dead", 6, sent_at[-1])
        assert delivery.last_error == "HTTP 500"
        gaps = [(b - a).total_seconds() for a, b in pairwise(sent_at)]
        assert gaps == [30, 60, 120, 240, 480]
        assert [a.status_code for a in delivery.log] == [500] * 6
        [trail] = await audit_rows(db, "notification_delivery", delivery.id)
        assert (trail.action, trail.before, (trail.after or {}).get("state")) == (
            "notification.dead",
            {"state": "pending"},
            "dead",
        )

        now.advance(days=2)
        await sweep(db)
        assert len(receiver.received) == 6  # a dead letter is not sent again by itself

        receiver.default = 200
        async with db.transaction() as session:
            await service.retry(session, SYSTEM, delivery.id)
        await sweep(db)

    [delivery] = await deliveries(db)
    assert (delivery.state, len(delivery.log)) == ("delivered", 7)
    assert set(receiver.ids()) == {delivery.idempotency_id}
    assert SECRET not in caplog.text
    assert "webhook 1: HTTP 500" in caplog.text


async def test_an_smtp_outage_delays_the_email_without_holding_back_the_sms(
    db: Database, outside: Outside, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await small_store(db)
    monkeypatch.setenv("SHOPFLOW_SMTP_PORT", str(free_port()))  # nothing listens there
    get_settings.cache_clear()
    order = await place(db)
    await sweep(db)

    [email] = await deliveries(db, channel="email")
    assert (email.state, email.failures) == ("pending", 1)
    assert email.log[0].status_code is None and email.log[0].error
    assert email.next_attempt_at == START + timedelta(seconds=30)
    assert [d.state for d in await deliveries(db, channel="sms")] == ["delivered"]

    monkeypatch.setenv("SHOPFLOW_SMTP_PORT", str(outside.mailbox.port))
    get_settings.cache_clear()
    now.advance(seconds=30)
    await sweep(db)
    [email] = await deliveries(db, channel="email")
    assert email.state == "delivered"
    assert [m["Subject"] for m in outside.mailbox.messages] == [f"【Shopflow】订单 {order.order_no} 已确认"]


async def test_a_deleted_webhook_gets_nothing_more_and_its_deliveries_are_dead(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    async with Receiver(plan=[500]) as receiver:
        hook = await add_webhook(db, receiver.url)
        await record_event(db)
        await sweep(db)
        async with db.transaction() as session:
            await service.delete_webhook(session, SYSTEM, hook.id)
        await record_event(db, "order.closed")
        now.advance(minutes=5)
        await sweep(db)
        assert len(receiver.received) == 1

    [delivery] = await deliveries(db)  # the event after the deletion fanned out to no one
    assert (delivery.state, delivery.last_error) == ("dead", "the webhook was deleted")
    with pytest.raises(WebhookDeleted):
        async with db.transaction() as session:
            await service.retry(session, SYSTEM, delivery.id)


async def test_a_dispatch_that_dies_mid_batch_leaves_every_event_queued(
    db: Database, outside: Outside, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        for n in range(5):
            await record_event(db, subject=f"order:{n}")

        async def dies(*_: Any) -> None:
            raise RuntimeError("worker killed")

        with monkeypatch.context() as patched:
            patched.setattr(repository, "mark_outbox_delivered", dies)
            with pytest.raises(RuntimeError):
                await sweep(db)
        assert await deliveries(db) == []
        assert len(await pending_outbox(db)) == 5

        await sweep(db)
        await sweep(db)

    sent = await deliveries(db)
    assert sorted(d.subject for d in sent) == [f"order:{n}" for n in range(5)]
    assert {d.state for d in sent} == {"delivered"}
    assert sorted(receiver.ids()) == sorted(d.idempotency_id for d in sent)
    assert await pending_outbox(db) == []


async def test_an_event_that_cannot_be_rendered_waits_and_is_alerted_without_blocking_others(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db, "order.paid", "order:999999")  # no such order: no customer to tell
        await record_event(db, "order.completed", "order:7")
        await sweep(db)
        assert [r.json()["subject"] for r in receiver.received] == ["order:7"]

        for _ in range(6):
            [stuck] = await pending_outbox(db)
            now.current = stuck.available_at
            await sweep(db)

    [stuck] = await pending_outbox(db)
    assert stuck.attempts == 7
    [alert] = await alerts_for(db, "order:999999")
    assert alert.kind == "notification_failed" and "OrderNotFound" in alert.message
    # The stuck event never went out; its alert did, to the subscriber of every event.
    assert [r.json()["event"] for r in receiver.received] == ["order.completed", "alert.raised"]


async def test_messages_and_webhook_secrets_are_encrypted_at_rest(db: Database, outside: Outside) -> None:
    await small_store(db)
    await add_webhook(db, "https://erp.example.cn/hooks")
    await place(db)
    async with db.transaction() as session:
        await service.dispatch(session, 100)
        messages = (
            (await session.execute(text("SELECT message FROM notification_deliveries"))).scalars().all()
        )
        secrets = (await session.execute(text("SELECT secret FROM webhooks"))).scalars().all()
    assert len(messages) == 3 and len(secrets) == 1
    assert all(b"zhang@example.cn" not in bytes(m) and b"13800138000" not in bytes(m) for m in messages)
    assert SECRET.encode() not in bytes(secrets[0])
