"""Issue #3, end to end: one order over HTTP against a real server with its worker running, from
placement to closed (ORD-3..8, FUL-1..5, NTF-1, SLA-1/2).

The server (uvicorn on a local port) and its worker (`create_app(with_worker=True)`, as
`shopflow serve --with-worker`) run in the test's event loop with a FakeClock injected for the
whole test, so ORD-7's receipt and after-sales windows pass in an instant. Each step must leave
its outbox row and, through the worker, reach a local SMTP server (the customer's notice, in the
store's language) and a local webhook receiver (signed with the subscription's secret, carrying
an idempotency id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shopflow.app import create_app
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders import fulfillment as ful
from tests.builders.e2e import serving, until
from tests.builders.notify import Mailbox, Received, Receiver, body_of, local_channels
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.rows import outbox
from tests.builders.store import small_store
from tests.conftest import SETTINGS

START = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
CUSTOMER = "zhang@example.cn"  # the customer of `order_body`
WORKER_INTERVAL = 0.1  # seconds between the worker's rounds
# The customer's notices (ORD-8) by event: what their subject says in zh_CN, the default language.
NOTICES = {
    "order.confirmed": "已确认",
    "order.paid": "支付成功",
    "order.shipped": "已发货",
    "order.delivered": "已送达",
}
EVENTS = [*NOTICES, "order.completed", "order.closed"]
SURVEY_TITLE = "请为我们的服务打分"  # the survey's subject after the store's name
SURVEYS = 2  # SVC-6: the satisfaction survey at delivery, the feedback survey 3 days later


@dataclass
class Shop:
    """The served shop as its staff and the outside world see it."""

    db: Database
    http: httpx.AsyncClient
    team: ful.Crew
    mailbox: Mailbox
    receiver: Receiver
    secret: str  # the webhook subscription's signing secret, as POST /webhooks showed it once
    rules: dict[str, Any]  # the effective policy (GET /policy)

    async def get(self, path: str) -> Any:
        reply = await self.http.get(path, headers=self.team.ops)
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def status(self, order_id: int) -> str:
        return str((await self.get(f"/api/v1/orders/{order_id}"))["status"])

    async def clocks(self, order_id: int) -> dict[str, dict[str, Any]]:
        found = await self.get(f"/api/v1/sla?subject=order:{order_id}")
        return {c["kind"]: c for c in found["clocks"]}

    def hooks(self, event: str) -> list[Received]:
        return [r for r in self.receiver.received if r.headers.get("x-shopflow-event") == event]

    async def surveyed(self, count: int) -> None:
        """Wait until the worker has mailed the customer `count` surveys (SVC-6)."""

        async def sent() -> bool:
            return sum(m["Subject"].endswith(SURVEY_TITLE) for m in self.mailbox.messages) == count

        await until(
            sent, lambda: f"{count} survey(s) expected; got {[m['Subject'] for m in self.mailbox.messages]}"
        )

    def mails(self, subject: str) -> list[EmailMessage]:
        return [m for m in self.mailbox.messages if m["Subject"] == subject]

    async def announced(self, order: dict[str, Any], event: str) -> tuple[Received, EmailMessage | None]:
        """Wait for `event` of `order` to reach the webhook receiver and, for a customer notice,
        the customer's mailbox; check both against the event's one outbox row."""
        subject = f"order:{order['id']}"
        [row] = [e for e in await outbox(self.db, subject) if e.event == event]
        assert (row.payload["order_id"], row.payload["order_no"]) == (order["id"], order["order_no"])

        async def arrived() -> bool:
            return bool(self.hooks(event))

        await until(arrived, f"no {event} webhook; received {[r.json() for r in self.receiver.received]}")
        [hook] = self.hooks(event)
        assert hook.signed_by(self.secret), hook.headers
        body = hook.json()
        assert len(hook.delivery_id) == 32 and body["id"] == hook.delivery_id
        assert (body["event"], body["subject"], body["data"]) == (event, subject, row.payload)
        assert datetime.fromisoformat(body["occurred_at"]) == row.created_at
        if event not in NOTICES:
            return hook, None
        title = f"【{self.rules['notify']['store_name']}】订单 {order['order_no']} {NOTICES[event]}"

        async def mailed() -> bool:
            return bool(self.mails(title))

        await until(mailed, lambda: f"no {title!r}; got {[m['Subject'] for m in self.mailbox.messages]}")
        [mail] = self.mails(title)
        assert self.mailbox.recipients[self.mailbox.messages.index(mail)] == [CUSTOMER]
        assert mail["To"] == CUSTOMER and mail["From"] == "Shopflow <noreply@shop.example.cn>"
        text, html = body_of(mail, "plain"), body_of(mail, "html")
        assert text.startswith("张三，您好：") and order["order_no"] in text
        assert '<html lang="zh-CN">' in html and f"<b>{order['order_no']}</b>" in html
        return hook, mail


def advance_past(fake: FakeClock, deadline: datetime) -> None:
    fake.advance(seconds=(deadline - fake()).total_seconds() + 1)


def local(at: datetime, rules: dict[str, Any]) -> str:
    """A time as the customer's notices show it: in the store's zone, to the minute."""
    return at.astimezone(ZoneInfo(rules["calendar"]["timezone"])).strftime("%Y-%m-%d %H:%M")


async def test_an_order_goes_from_placement_to_closed_with_every_notice_delivered(
    committed: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeClock(START)
    app = create_app(
        db=committed,
        settings=SETTINGS.model_copy(update={"worker_interval": WORKER_INTERVAL}),
        with_worker=True,
    )
    with clock.use(fake), local_channels(monkeypatch, tmp_path / "sms.log") as mailbox:
        await small_store(committed)
        team = await ful.crew(committed)
        async with (
            Receiver() as receiver,
            serving(app) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            carriers = await ful.carriers_with_rules(http, team.ops)
            subscribed = await http.post(
                "/api/v1/webhooks", json={"url": receiver.url, "events": ["order.*"]}, headers=team.ops
            )
            assert subscribed.status_code == 201, subscribed.text
            rules = (await http.get("/api/v1/policy", headers=team.ops)).json()
            shop = Shop(committed, http, team, mailbox, receiver, subscribed.json()["secret"], rules)
            await _place_to_closed(shop, carriers, fake)


async def _place_to_closed(shop: Shop, carriers: dict[str, str], fake: FakeClock) -> None:
    """The order's whole life, step by step, with what each step must have told the world."""
    db, http, team, rules = shop.db, shop.http, shop.team, shop.rules
    ship_within = timedelta(hours=rules["orders"]["ship_within_hours"])

    # ORD-3/4: placed and confirmed, the customer told the expected ship time (ORD-8).
    order = await place_order(http, team.sales)
    oid = order["id"]
    assert order["status"] == "confirmed"
    _, mail = await shop.announced(order, "order.confirmed")
    assert mail is not None
    assert f"预计发货时间：{local(START + ship_within, rules)} 前" in body_of(mail, "plain")

    # PAY: paid through the sandbox gateway's signed callback; the ship-by promise restated.
    fake.advance(minutes=5)
    payment = await start_payment(http, team.sales, oid)
    await pay(http, payment)
    assert await shop.status(oid) == "paid"
    _, mail = await shop.announced(order, "order.paid")
    assert mail is not None
    assert f"将于 {local(fake() + ship_within, rules)} 前为您发货" in body_of(mail, "plain")

    # FUL-1..4: wave, packing, quality check, shipped by the rule's carrier (SF for Shanghai).
    fake.advance(hours=2)
    [wave] = await ful.build_waves(http, team.warehouse)
    assert (wave["warehouse"], wave["orders"]) == ("WH-A", 1)
    [task_id] = (await ful.tasks_of(http, team.warehouse, oid)).values()
    await ful.ready(http, team.warehouse, task_id)
    parcel = await ful.ship(http, team.warehouse, task_id)
    waybill, link = parcel["tracking_no"], parcel["tracking_url"]
    assert (parcel["carrier"], link) == ("SF", f"https://www.sf-express.example/track?no={waybill}")
    assert await shop.status(oid) == "shipped"
    hook, mail = await shop.announced(order, "order.shipped")
    assert mail is not None
    assert f"顺丰速运　运单号：{waybill}　物流查询：{link}" in body_of(mail, "plain")
    assert f'<a href="{link}">查询物流</a>' in body_of(mail, "html")
    [shipped] = hook.json()["data"]["shipments"]
    assert (shipped["carrier"], shipped["tracking_no"], shipped["tracking_url"]) == ("SF", waybill, link)

    # FUL-5: the carrier's signed tracking pushes; the parcel moves, the order waits for delivery.
    moves: list[tuple[float, list[tuple[str, float]]]] = [
        (1, [("picked_up", 0)]),
        (6, [("in_transit", -3), ("at_hub", 0)]),
        (12, [("out_for_delivery", 0)]),
    ]
    for hours, reported in moves:
        fake.advance(hours=hours)
        events = [ful.event(waybill, s, fake() + timedelta(hours=h), location="上海") for s, h in reported]
        pushed = await ful.push(http, "SF", carriers["SF"], events)
        assert pushed.json() == {"stored": len(events), "duplicates": 0}
    shipment = await shop.get(f"/api/v1/shipments/{parcel['id']}")
    assert [e["status"] for e in shipment["timeline"]] == [
        "picked_up",
        "in_transit",
        "at_hub",
        "out_for_delivery",
    ]
    assert await shop.status(oid) == "shipped"
    assert [e.event for e in await outbox(db, f"order:{oid}")] == EVENTS[:3]  # none for tracking

    fake.advance(hours=2)
    delivered = await ful.push(http, "SF", carriers["SF"], [ful.event(waybill, "delivered", fake())])
    assert delivered.json() == {"stored": 1, "duplicates": 0}
    assert await shop.status(oid) == "delivered"
    delivered_at = fake()
    await shop.announced(order, "order.delivered")
    # SVC-6: each survey goes out while its window is open (satisfaction: from delivery, for
    # `satisfaction_within_days`), so the worker must send it before the clock jumps past.
    await shop.surveyed(1)

    # ORD-7: nobody confirms receipt; when the policy's window ends the worker assumes it.
    receipt = (await shop.clocks(oid))["order.receipt"]
    window = timedelta(days=rules["orders"]["auto_receipt_days"])
    assert receipt["state"] == "running"
    assert datetime.fromisoformat(receipt["deadline"]) == delivered_at + window
    assert receipt["seconds_left"] == window.total_seconds()  # the server runs on the injected clock
    advance_past(fake, delivered_at + window)

    async def completed() -> bool:
        return await shop.status(oid) == "completed"

    await until(completed, "the worker never completed the order")
    await shop.announced(order, "order.completed")
    await shop.surveyed(2)  # the feedback survey, `survey_after_delivery_days` after delivery

    # ORD-7/ASV-1: the after-sales window, the longest return window, counted in store days from
    # delivery to 23:59 of its last day, ends: the worker closes it.
    days = rules["aftersales"]["quality_return_days"]
    delivery_day = delivered_at.astimezone(ZoneInfo(rules["calendar"]["timezone"])).date()
    window_ends = datetime.combine(
        delivery_day + timedelta(days=days + 1), datetime.min.time(), ZoneInfo(rules["calendar"]["timezone"])
    )
    closing = (await shop.clocks(oid))["order.aftersales"]
    assert closing["state"] == "running"
    assert datetime.fromisoformat(closing["deadline"]) == window_ends
    advance_past(fake, window_ends)

    async def closed() -> bool:
        return await shop.status(oid) == "closed"

    await until(closed, "the worker never closed the order")
    await shop.announced(order, "order.closed")

    # The whole trail: every state in order, the last two by the system for the reason the rule gives.
    detail = await shop.get(f"/api/v1/orders/{oid}")
    moved = [(h["to_status"], h["actor"], h["reason"]) for h in detail["history"] if h["to_status"]]
    assert [status for status, _, _ in moved] == [
        "pending",
        "confirmed",
        "paid",
        "picking",
        "packed",
        "shipped",
        "delivered",
        "completed",
        "closed",
    ]
    assert moved[-2:] == [("completed", "system", "receipt_assumed"), ("closed", "system", None)]
    assert [e.event for e in await outbox(db, f"order:{oid}")] == EVENTS
    clocks = {kind: c["state"] for kind, c in (await shop.clocks(oid)).items()}
    assert clocks == {
        "order.pay": "met",
        "order.ship": "met",
        "order.deliver": "met",
        "order.receipt": "breached",
        "order.aftersales": "breached",
    }
    alerted = [
        a
        for a in (await shop.get("/api/v1/alerts"))["items"]
        if a["subject"] in (f"order:{oid}", f"shipment:{parcel['id']}")
    ]
    assert alerted == []  # nothing was late, and ORD-7's timers act without alerting

    # NTF-1: each notice sent once and logged delivered, at the first attempt; nothing else sent
    # but the customer's two surveys (SVC-6): satisfaction at delivery, feedback 3 days later.
    assert [r.headers["x-shopflow-event"] for r in shop.receiver.received] == EVENTS
    assert len(shop.mailbox.messages) == len(NOTICES) + SURVEYS
    log = (await shop.get("/api/v1/notifications/deliveries?page_size=100"))["items"]
    assert Counter((d["event"], d["channel"]) for d in log) == Counter(
        [
            *((e, c) for e in NOTICES for c in ("email", "sms")),
            *((e, "webhook") for e in EVENTS),
            *(("survey.sent", c) for _ in range(SURVEYS) for c in ("email", "sms")),
        ]
    )
    assert {(d["state"], len(d["attempts"]), d["attempts"][0]["ok"]) for d in log} == {("delivered", 1, True)}
    hooks = {d["idempotency_id"] for d in log if d["channel"] == "webhook"}
    assert hooks == set(shop.receiver.ids()) and len(hooks) == len(EVENTS)
