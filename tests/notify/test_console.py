"""The notification pages over HTTP (no browser): the delivery log with its filters, search and
live part, a delivery's attempts and the retry of a dead one, webhook subscribers; roles and both
languages (NTF-1, AUD-1)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from shopflow.core import events, policy
from shopflow.core.db import Database
from shopflow.core.settings import get_settings
from shopflow.notify import tasks
from shopflow.notify.models import Delivery, Webhook
from tests.builders.auth import bearer
from tests.builders.console import Visitor, Visitors, signed_in, visitors
from tests.builders.notify import Receiver, add_webhook, deliveries, record_event, sweep
from tests.builders.payments import place_order
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

LIST = "/notifications/deliveries"


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _dead_and_delivered(db: Database, subject: str = "order:7") -> tuple[Delivery, Delivery]:
    """One event to two subscribers: dead after the one attempt the policy allows (HTTP 500), and
    delivered."""
    policy.install(policy.validate({"notify": {"max_attempts": 1}}))
    async with Receiver(default=500) as failing, Receiver() as working:
        await add_webhook(db, failing.url, ["order.*"])
        await add_webhook(db, working.url, ["order.*"])
        await record_event(db, "order.completed", subject)
        await sweep(db)
    by_state = {d.state: d for d in await deliveries(db)}
    return by_state["dead"], by_state["delivered"]


async def _delivery(db: Database, delivery_id: int) -> Delivery:
    [found] = await deliveries(db, id=delivery_id)
    return found


async def _webhooks(db: Database) -> list[Webhook]:
    async with db.transaction() as session:
        return list((await session.scalars(select(Webhook).order_by(Webhook.id))).all())


def _shown(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'<tr id="delivery-(\d+)">', html)}


async def test_the_pages_read_in_chinese_and_english_for_operations_and_admin(
    db: Database, visit: Visitors
) -> None:
    dead, _ = await _dead_and_delivered(db)
    for role in ("operations", "admin"):
        async with await signed_in(visit, db, role) as visitor:
            chinese = await visitor.get(LIST)
            assert chinese.status_code == 200
            assert '<html lang="zh-CN">' in chinese.text
            assert 'href="/notifications/deliveries" class="active">通知<' in chinese.text
            assert 'href="/webhooks">Webhook 订阅<' in chinese.text
            assert ">死信<" in chinese.text and ">已送达<" in chinese.text and "订单 7" in chinese.text
            detail = await visitor.get(f"{LIST}/{dead.id}")
            assert "投递" in detail.text and "尝试记录" in detail.text and "重新发送" in detail.text
            hooks = await visitor.get("/webhooks")
            assert hooks.status_code == 200 and "订阅 URL" in hooks.text

            await visitor.post("/language", {"locale": "en", "next": LIST})
            english = await visitor.get(LIST)
            assert '<html lang="en">' in english.text
            assert ">Notifications<" in english.text and ">dead letter<" in english.text
            assert "死信" not in english.text
            detail = await visitor.get(f"{LIST}/{dead.id}")
            assert "Attempt log" in detail.text and 'id="retry-delivery">Send again<' in detail.text
            hooks = await visitor.get("/webhooks")
            assert "Subscribe a URL" in hooks.text and ">Webhooks<" in hooks.text


async def test_the_log_filters_by_state_channel_and_event_searches_pages_and_polls(
    db: Database, visit: Visitors
) -> None:
    dead, delivered = await _dead_and_delivered(db)
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url, ["payment.*"])
        async with db.transaction() as session:
            await events.record(session, "payment.refund_requested", "order:987654", {"order_id": 987654})
        await sweep(db)
    [refund] = await deliveries(db, event="payment.refund_requested")
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        assert _shown((await visitor.get(LIST)).text) == {dead.id, delivered.id, refund.id}
        assert _shown((await visitor.get(f"{LIST}?state=dead")).text) == {dead.id}
        assert _shown((await visitor.get(f"{LIST}?state=delivered&channel=webhook")).text) == {
            delivered.id,
            refund.id,
        }
        assert _shown((await visitor.get(f"{LIST}?channel=sms")).text) == set()
        assert _shown((await visitor.get(f"{LIST}?event=order.*")).text) == {dead.id, delivered.id}
        assert _shown((await visitor.get(f"{LIST}?event=payment.refund_requested")).text) == {refund.id}
        assert _shown((await visitor.get(f"{LIST}?event=payment")).text) == set()  # a name, not a prefix
        assert _shown((await visitor.get(f"{LIST}?q=987654")).text) == {refund.id}  # order:987654
        assert _shown((await visitor.get(f"{LIST}?q=order:7")).text) == {dead.id, delivered.id}
        host_and_path = dead.recipient.removeprefix("http://")  # 127.0.0.1:<its port>/hooks/shopflow
        assert _shown((await visitor.get(f"{LIST}?q={host_and_path}")).text) == {dead.id}
        assert _shown((await visitor.get(f"{LIST}?q={delivered.idempotency_id}")).text) == {delivered.id}
        kept = (await visitor.get(f"{LIST}?state=dead&q=order:7")).text
        assert '<option value="dead" selected>' in kept and 'value="order:7"' in kept

        policy.install(policy.validate({"orders": {"page_size": 2}}))  # after the app loaded its policy
        first, second = (await visitor.get(LIST)).text, (await visitor.get(f"{LIST}?page=2")).text
        assert _shown(first) == {refund.id, delivered.id} and _shown(second) == {dead.id}  # newest first
        assert "第 1 / 2 页" in first and 'href="?page=2"' in first

        live = await visitor.get(f"{LIST}?state=dead", headers={"HX-Request": "true"})
        assert "<html" not in live.text and _shown(live.text) == {dead.id}
        assert 'hx-get="/notifications/deliveries?state=dead" hx-trigger="every 3s"' in live.text


async def test_a_dead_delivery_shows_its_attempts_and_is_sent_again_by_operations_audited(
    db: Database, visit: Visitors
) -> None:
    dead, _ = await _dead_and_delivered(db)
    async with await signed_in(visit, db, "operations") as visitor:
        page = await visitor.get(f"{LIST}/{dead.id}")
        assert f'<code id="idempotency-id">{dead.idempotency_id}</code>' in page.text
        attempts = re.search(r'<table id="attempts">.*?</table>', page.text, re.S)
        assert attempts is not None
        assert "失败" in attempts[0] and "<td>500</td>" in attempts[0] and "HTTP 500" in attempts[0]
        assert '"order_id": 1' in html.unescape(page.text)  # the webhook's event data

        sent = await visitor.post(f"{LIST}/{dead.id}/retry")
        assert (sent.status_code, sent.headers["location"]) == (303, f"{LIST}/{dead.id}")
        after = await visitor.get(sent.headers["location"])
        assert "已重新排队" in after.text and 'id="retry-delivery"' not in after.text
        assert ">待发送<" in after.text

    requeued = await _delivery(db, dead.id)
    assert (requeued.state, requeued.failures, requeued.dead_at) == ("pending", 0, None)
    assert requeued.idempotency_id == dead.idempotency_id
    trail = await audit_rows(db, "notification_delivery", dead.id)
    assert [(row.action, row.actor_name.split("-")[0]) for row in trail] == [
        ("notification.dead", "system"),
        ("notification.requeued", "operations"),
    ]
    assert (trail[1].before, (trail[1].after or {})["state"]) == ({"state": "dead"}, "pending")


async def test_sending_a_delivered_delivery_again_says_why_and_changes_nothing(
    db: Database, visit: Visitors
) -> None:
    _, delivered = await _dead_and_delivered(db)
    trail = len(await audit_rows(db, "notification_delivery", delivered.id))
    async with await signed_in(visit, db, "operations") as visitor:
        page = await visitor.get(f"{LIST}/{delivered.id}")
        assert 'id="retry-delivery"' not in page.text  # a delivered one offers no retry

        refused = await visitor.post(f"{LIST}/{delivered.id}/retry")
        assert refused.status_code == 409
        assert "当前无法执行：现为“已送达”，不能变为“待发送”。" in refused.text
        assert f'<code id="idempotency-id">{delivered.idempotency_id}</code>' in refused.text

        missing = await visitor.post(f"{LIST}/999999/retry")
        assert missing.status_code == 404 and "没有投递 999999。" in missing.text
    kept = await _delivery(db, delivered.id)
    assert (kept.state, kept.delivered_at, len(kept.log)) == ("delivered", delivered.delivered_at, 1)
    assert len(await audit_rows(db, "notification_delivery", delivered.id)) == trail


async def test_a_dead_delivery_of_a_deleted_webhook_cannot_be_sent_again(
    db: Database, visit: Visitors
) -> None:
    dead, _ = await _dead_and_delivered(db)
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/webhooks")
        await visitor.post(f"/webhooks/{dead.webhook_id}/delete")
        refused = await visitor.post(f"{LIST}/{dead.id}/retry")
        assert refused.status_code == 409
        assert f"投递 {dead.id} 的 Webhook {dead.webhook_id} 已删除，无法再次发送。" in refused.text
    assert (await _delivery(db, dead.id)).state == "dead"


async def test_customer_messages_and_event_data_are_shown_with_personal_data_masked(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        order = await place_order(visitor.client, await bearer(db))  # 张三, 13800138000
        await add_webhook(db, "https://crm.example.cn/hooks", ["customer.*"])
        async with db.transaction() as session:
            customer = {"name": "李四", "phone": "13912345678", "email": "lisi@example.cn"}
            await events.record(session, "customer.updated", "customer:5", {"customer": customer, **customer})
        async with db.transaction() as session:
            await tasks.dispatch(session)  # rendered and stored, not sent
        by_channel = {d.channel: d for d in await deliveries(db)}

        sms = (await visitor.get(f"{LIST}/{by_channel['sms'].id}")).text
        assert "138****8000" in sms and order["order_no"] in sms and "13800138000" not in sms
        email = (await visitor.get(f"{LIST}/{by_channel['email'].id}")).text
        assert "z***@example.cn" in email and order["order_no"] in email
        assert "zhang@example.cn" not in email and "张三" not in email
        hook = html.unescape((await visitor.get(f"{LIST}/{by_channel['webhook'].id}")).text)
        assert '"phone": "139****5678"' in hook and '"email": "l***@example.cn"' in hook
        assert '"customer": "***"' in hook and '"name": "***"' in hook
        assert "13912345678" not in hook and "李四" not in hook and "lisi@" not in hook
        assert 'href="/customers/5"' in hook  # the subject, linked to its page
        assert 'id="retry-delivery"' not in hook  # a manager reads the log but does not retry
        assert 'href="/webhooks"' not in hook


async def test_a_bad_subscription_names_the_field_keeps_what_was_typed_and_stores_nothing(
    db: Database, visit: Visitors, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/webhooks")
        typed = {"url": "erp.example.cn/hooks", "events": "order.*, Order Shipped"}
        reply = await visitor.post("/webhooks", typed)
        assert reply.status_code == 422
        assert '<div class="field-error" id="error-url">不是网址：请写成 https://…</div>' in reply.text
        assert 'id="error-events">每个事件写成 order.shipped、order.* 或 *' in reply.text
        assert 'value="erp.example.cn/hooks"' in reply.text and 'value="order.*, Order Shipped"' in reply.text
        assert 'id="webhook-secret"' not in reply.text

        ftp = await visitor.post("/webhooks", {"url": "ftp://files.example.cn/drop", "events": ""})
        assert ftp.status_code == 422 and 'id="error-url">必须以 https:// 或 http:// 开头' in ftp.text
        assert "error-events" not in ftp.text
        empty = await visitor.post("/webhooks", {"url": "  ", "events": "order.*"})
        assert 'id="error-url">必填' in empty.text

        monkeypatch.setenv("SHOPFLOW_WEBHOOK_ALLOW_PRIVATE", "false")
        get_settings.cache_clear()
        inside = await visitor.post("/webhooks", {"url": "http://10.0.0.8/erp", "events": "order.*"})
        get_settings.cache_clear()
        assert inside.status_code == 422
        assert 'id="error-url">指向内部网络地址（10.0.0.8），不允许作为 Webhook 地址<' in inside.text
    assert await _webhooks(db) == []


async def test_a_subscription_shows_its_secret_once_and_is_deleted_after_a_confirm(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/webhooks")
        created = await visitor.post(
            "/webhooks",
            {"url": "https://erp.example.cn/hooks", "events": "order.*，payment.refund_requested"},
        )
        assert created.status_code == 201
        [hook] = await _webhooks(db)
        assert (hook.url, hook.events) == (
            "https://erp.example.cn/hooks",
            ["order.*", "payment.refund_requested"],
        )
        assert f'<code id="webhook-secret">{hook.secret}</code>' in created.text and len(hook.secret) >= 32
        listed = await visitor.get("/webhooks")
        assert f'<tr id="webhook-{hook.id}">' in listed.text and hook.secret not in listed.text
        assert (
            f'hx-post="/webhooks/{hook.id}/delete" hx-confirm="删除发往 https://erp.example.cn/hooks'
            in listed.text
        )

        everything = await visitor.post("/webhooks", {"url": "https://bi.example.cn/in", "events": " "})
        assert everything.status_code == 201
        assert (await _webhooks(db))[1].events == ["*"]  # no events typed: every event, as in the API

        deleted = await visitor.post(f"/webhooks/{hook.id}/delete", headers={"HX-Request": "true"})
        assert (deleted.status_code, deleted.headers["HX-Redirect"]) == (204, "/webhooks")
        after = await visitor.get("/webhooks")
        assert f"Webhook {hook.id} 已删除" in after.text and f'id="webhook-{hook.id}"' not in after.text
        again = await visitor.post(f"/webhooks/{hook.id}/delete")
        assert again.status_code == 404 and f"没有 Webhook {hook.id}。" in again.text
    trail = await audit_rows(db, "webhook", hook.id)
    assert [(row.action, row.actor_name.split("-")[0]) for row in trail] == [
        ("webhook.created", "operations"),
        ("webhook.deleted", "operations"),
    ]
    assert hook.secret not in str([(row.before, row.after) for row in trail])


async def _refused_everywhere(visitor: Visitor, delivery_id: int, webhook_id: int) -> None:
    retry = await visitor.post(f"{LIST}/{delivery_id}/retry")
    create = await visitor.post("/webhooks", {"url": "https://evil.example.cn/", "events": "*"})
    delete = await visitor.post(f"/webhooks/{webhook_id}/delete")
    assert [retry.status_code, create.status_code, delete.status_code] == [403, 403, 403]
    assert "无权执行此操作" in retry.text


@pytest.mark.parametrize("role", ["sales", "warehouse", "finance"])
async def test_roles_without_the_permissions_see_no_entries_and_are_refused(
    db: Database, visit: Visitors, role: str
) -> None:
    dead, _ = await _dead_and_delivered(db)
    async with await signed_in(visit, db, role) as visitor:
        home = (await visitor.get("/orders")).text
        assert 'href="/notifications/deliveries"' not in home and 'href="/webhooks"' not in home
        assert (await visitor.get(LIST)).status_code == 403
        assert (await visitor.get(f"{LIST}/{dead.id}")).status_code == 403
        assert (await visitor.get("/webhooks")).status_code == 403
        await _refused_everywhere(visitor, dead.id, dead.webhook_id or 0)
    assert (await _delivery(db, dead.id)).state == "dead"
    assert [h.deleted_at for h in await _webhooks(db)] == [None, None]


async def test_a_supervisor_reads_the_log_but_may_not_retry_or_manage_webhooks(
    db: Database, visit: Visitors
) -> None:
    dead, _ = await _dead_and_delivered(db)
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        page = await visitor.get(f"{LIST}/{dead.id}")
        assert page.status_code == 200 and 'id="retry-delivery"' not in page.text
        assert 'href="/notifications/deliveries"' in page.text and 'href="/webhooks"' not in page.text
        await _refused_everywhere(visitor, dead.id, dead.webhook_id or 0)
    assert (await _delivery(db, dead.id)).state == "dead"
    assert len(await audit_rows(db, "notification_delivery", dead.id)) == 1
    assert len(await _webhooks(db)) == 2
