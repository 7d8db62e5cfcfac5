"""The customer's notices of an after-sales case (issue 11, item 7; NTF-1): one email and one
SMS at approve, reject (with the agent's reason), received and refunded (with the amount), in
the policy's language, to the order's customer; nothing for the steps the customer does not wait
for (the return shipment, the inspection, the refund request, a cancellation, closing)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow.aftersales import service
from shopflow.aftersales.schemas import CaseIn, InspectIn, ReturnShipmentIn
from shopflow.core import clock, policy
from shopflow.core.audit import Actor
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.notify import tasks
from shopflow.notify.models import Delivery
from tests.builders.aftersales import delivered_order
from tests.builders.lifecycle import order
from tests.builders.notify import deliveries

START = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)
AGENT = Actor(user_id=None, name="agent", role="customer_service")
REASON = "划痕不影响使用 / the scratch does not affect use"


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


def request(order_id: int, sku: str, case_type: str = "return_refund") -> CaseIn:
    return CaseIn.model_validate(
        {
            "order_id": order_id,
            "type": case_type,
            "reason": "quality",
            "lines": [{"sku": sku, "quantity": 1}],
        }
    )


async def dispatched(db: Database) -> list[Delivery]:
    """Run the worker's notification fan-out until the outbox is empty; the case notices made."""
    while True:
        async with db.transaction() as session:
            if await tasks.dispatch(session) == 0:
                break
    return [d for d in await deliveries(db) if d.event.startswith("aftersales.")]


async def walk_cases(db: Database, order_id: int) -> tuple[str, str, str]:
    """A return refunded all the way, a rejected request and a cancelled one, on one order;
    their case numbers."""
    async with db.transaction() as session:
        returned = await service.open_case(session, AGENT, request(order_id, "SKU-1"))
        rejected = await service.open_case(session, AGENT, request(order_id, "SKU-2"))
        cancelled = await service.open_case(session, AGENT, request(order_id, "SKU-2", "refund_only"))
    async with db.transaction() as session:
        await service.approve(session, AGENT, returned.id)
        await service.reject(session, AGENT, rejected.id, REASON)
        await service.cancel(session, AGENT, cancelled.id)
    shipment = ReturnShipmentIn(carrier="SF", tracking_no="SF7001")
    inspection = InspectIn.model_validate({"lines": [{"sku": "SKU-1", "quantity": 1, "result": "restock"}]})
    async with db.transaction() as session:
        await service.record_return_shipment(session, AGENT, returned.id, shipment)
    async with db.transaction() as session:
        await service.receive(session, AGENT, returned.id)
    async with db.transaction() as session:
        await service.inspect(session, AGENT, returned.id, inspection)
    async with db.transaction() as session:
        await service.request_refund(session, AGENT, returned.id)
    async with db.transaction() as session:
        await service.refund_settled(session, returned.id, 9900)
    async with db.transaction() as session:
        await service.close(session, AGENT, returned.id)
    return returned.case_no, rejected.case_no, cancelled.case_no


async def test_the_four_case_notices_reach_the_customer_once_each_in_chinese(
    db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)
    order_no = (await order(db, order_id)).order_no
    await dispatched(db)  # the order's own notices
    returned, rejected, cancelled = await walk_cases(db, order_id)

    found = await dispatched(db)

    assert sorted((d.event, d.channel, d.target) for d in found) == sorted(
        (event, channel, "customer")
        for event in (
            "aftersales.approved",
            "aftersales.rejected",
            "aftersales.received",
            "aftersales.refunded",
        )
        for channel in ("email", "sms")
    )
    mail = {d.event: d.message for d in found if d.channel == "email"}
    sms = {d.event: d.message for d in found if d.channel == "sms"}
    assert {m["to"] for m in mail.values()} == {"zhang@example.cn"}  # the order's customer
    assert (
        mail["aftersales.approved"]["subject"] == f"【Shopflow】订单 {order_no} 的售后申请 {returned} 已通过"
    )
    assert f"售后申请 {rejected} 未通过审核：{REASON}" in mail["aftersales.rejected"]["text"]
    assert sms["aftersales.rejected"]["text"].endswith(f"未通过审核：{REASON}")
    assert f"售后申请 {returned}（订单 {order_no}）寄回的商品已收到" in mail["aftersales.received"]["text"]
    assert "已退款 ¥99.00" in mail["aftersales.refunded"]["text"]
    assert "已退款¥99.00" in sms["aftersales.refunded"]["text"]
    assert all(cancelled not in str(d.message) for d in found)


async def test_the_case_notices_follow_the_policys_language(db: Database, now: FakeClock) -> None:
    policy.install(policy.validate({"notify": {"language": "en", "customer_channels": ["email", "sms"]}}))
    order_id = await delivered_order(db)
    order_no = (await order(db, order_id)).order_no
    await dispatched(db)
    returned, rejected, _ = await walk_cases(db, order_id)

    found = await dispatched(db)

    mail = {d.event: d.message for d in found if d.channel == "email"}
    sms = {d.event: d.message for d in found if d.channel == "sms"}
    assert len(mail) == len(sms) == 4
    assert (
        mail["aftersales.approved"]["subject"]
        == f"[Shopflow] After-sales request {returned} (order {order_no}) is approved"
    )
    assert (
        f"we cannot accept your after-sales request {rejected} for order {order_no}: {REASON}"
        in (mail["aftersales.rejected"]["text"])
    )
    assert sms["aftersales.rejected"]["text"].endswith(f"is declined: {REASON}")
    assert (
        f"we received the goods you sent back for after-sales request {returned}"
        in (mail["aftersales.received"]["text"])
    )
    assert (
        mail["aftersales.refunded"]["subject"]
        == f"[Shopflow] ¥99.00 refunded for {returned} (order {order_no})"
    )
    assert sms["aftersales.refunded"]["text"].startswith(f"[Shopflow] ¥99.00 refunded for request {returned}")


async def test_a_reject_reason_is_escaped_in_the_html_mail(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    await dispatched(db)
    async with db.transaction() as session:
        case = await service.open_case(session, AGENT, request(order_id, "SKU-1"))
    async with db.transaction() as session:
        await service.reject(session, AGENT, case.id, "<script>x</script>")

    [mail] = [d.message for d in await dispatched(db) if d.channel == "email"]

    assert "&lt;script&gt;x&lt;/script&gt;" in mail["html"] and "<script>" not in mail["html"]
    assert "<script>x</script>" in mail["text"]
