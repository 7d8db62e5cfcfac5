"""The SMS and email providers (NTF-1, issue 10): the log providers keep no personal data in
clear and their files are their owner's only; the HTTP SMS adapter posts signed, referenced
requests to a real local gateway and retries like webhooks; an email carries its attachments (a
scheduled report's XLSX)."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shopflow.core import policy
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.settings import Settings, get_settings
from shopflow.notify.channels import Senders
from shopflow.notify.models import Delivery
from shopflow.orders.models import Order
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake
from tests.builders.notify import Receiver, body_of, deliveries, sms_lines, sweep
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.notify.conftest import START, Outside

GATEWAY_SECRET = "sms-gateway-secret-0123456789"


async def place(db: Database) -> Order:
    body = OrderIn.model_validate(order_body([("SKU-1", 2, "99.00")]))
    async with db.transaction() as session:
        return (await intake.place_order(session, SYSTEM, body, None)).order


async def test_the_log_providers_write_masked_recipients_no_text_and_files_only_their_owner_reads(
    db: Database, outside: Outside, now: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mail_log = tmp_path / "logs" / "mail.log"  # a directory that does not exist yet
    monkeypatch.setenv("SHOPFLOW_EMAIL_PROVIDER", "log")
    monkeypatch.setenv("SHOPFLOW_EMAIL_LOG", str(mail_log))
    get_settings.cache_clear()
    outside.sms_log.write_text("")
    outside.sms_log.chmod(0o644)  # left readable by everyone by an older version
    await small_store(db)
    await place(db)
    await sweep(db)

    for path in (mail_log, outside.sms_log):
        assert path.stat().st_mode & 0o777 == 0o600, path
        written = path.read_text("utf-8")
        for personal in ("13800138000", "zhang@example.cn", "张三", "世纪大道"):
            assert personal not in written, (path, personal)
    [sms] = await deliveries(db, channel="sms")
    assert sms_lines(outside.sms_log) == [
        [START.isoformat(), "138****8000", "order.confirmed", sms.idempotency_id]
    ]


async def test_the_http_sms_adapter_posts_signed_requests_and_retries_with_the_same_reference(
    db: Database, outside: Outside, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Receiver(plan=[503]) as gateway:
        monkeypatch.setenv("SHOPFLOW_SMS_PROVIDER", "http")
        monkeypatch.setenv("SHOPFLOW_SMS_URL", gateway.url)
        monkeypatch.setenv("SHOPFLOW_SMS_SECRET", GATEWAY_SECRET)
        get_settings.cache_clear()
        await small_store(db)
        order = await place(db)
        await sweep(db)
        assert len(gateway.received) == 1
        now.advance(seconds=policy.current().notify.backoff_seconds - 1)
        await sweep(db)
        assert len(gateway.received) == 1  # the webhooks' back-off is kept
        now.advance(seconds=1)
        await sweep(db)

    [sms] = await deliveries(db, channel="sms")
    assert sms.state == "delivered" and sms.delivered_at == START + timedelta(seconds=30)
    assert [(a.status, a.status_code) for a in sms.log] == [("failed", 503), ("sent", 200)]
    first, second = gateway.received
    assert first.body == second.body
    assert all(request.signed_by(GATEWAY_SECRET) for request in gateway.received)
    assert not first.signed_by("another-secret-0123456789")
    request = first.json()
    assert (request["to"], request["reference"]) == ("13800138000", sms.idempotency_id)
    assert request["text"].startswith(f"【Shopflow】您的订单{order.order_no}已确认")
    assert first.delivery_id == sms.idempotency_id
    assert not outside.sms_log.exists()  # nothing written to the log provider's file


def test_the_http_sms_provider_needs_its_gateway_and_secret() -> None:
    with pytest.raises(ValidationError, match="SHOPFLOW_SMS_URL and SHOPFLOW_SMS_SECRET"):
        Settings(sms_provider="http", sms_url="https://sms.example.cn/send")
    with pytest.raises(ValidationError, match="sms_url"):
        Settings(sms_provider="http", sms_url="ftp://sms.example.cn", sms_secret=GATEWAY_SECRET)
    assert Settings(sms_provider="http", sms_url="https://sms.example.cn/send", sms_secret=GATEWAY_SECRET)


async def test_an_email_carries_its_attachments_beside_its_text_and_html(outside: Outside) -> None:
    content = b"PK\x03\x04 a workbook"
    attachment = {"filename": "shopflow-monthly-2030-03.xlsx", "content_type": "application/zip", "data": ""}
    attachment["data"] = base64.b64encode(content).decode()
    message = {"to": "fang@shop.example.cn", "subject": "月报", "text": "见附件", "html": "<p>见附件</p>"}
    delivery = Delivery(
        channel="email",
        event="report.ready",
        idempotency_id="0" * 32,
        message=message | {"attachments": [attachment]},
    )

    [outcome] = await Senders(get_settings()).send_all([delivery], {})

    assert outcome.ok, outcome.error
    [mail] = outside.mailbox.messages
    assert (body_of(mail, "plain").strip(), body_of(mail, "html").strip()) == ("见附件", "<p>见附件</p>")
    [part] = list(mail.iter_attachments())
    assert (part.get_filename(), part.get_content_type(), part.get_content()) == (
        "shopflow-monthly-2030-03.xlsx",
        "application/zip",
        content,
    )
