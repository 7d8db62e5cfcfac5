"""Surveys (SVC-6), customer care (SVC-8) and retention (SVC-9, AUD-1): each sent once however
often the worker runs, the survey link's signature, expiry and single use over HTTP, a low
score's follow-up ticket, greetings once per occasion, a purge that keeps the ticket's facts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update

from shopflow.core import audit, clock, policy
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.crm import service as crm
from shopflow.crm.schemas import CustomerIn
from shopflow.loyalty import points
from shopflow.notify.models import Delivery
from shopflow.orders.models import Order
from shopflow.service import care, care_repository, service, surveys
from shopflow.service.models import (
    CallbackTask,
    CareSweep,
    Greeting,
    RetentionPurge,
    Survey,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from shopflow.service.schemas import MessageIn
from shopflow.worker import SWEEPS
from tests.builders.aftersales import delivered_order
from tests.builders.auth import bearer
from tests.builders.lifecycle import place
from tests.builders.tickets import cs_team, open_ticket

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
SURVEYS = "/api/v1/surveys/"


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def run(db: Database, sweep: str) -> int:
    async with db.transaction() as session:
        return await SWEEPS[sweep](session)


async def rows(db: Database, model: type) -> list:  # type: ignore[type-arg]
    async with db.transaction() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def resolved_ticket(db: Database, **overrides: object) -> Ticket:
    ticket = await open_ticket(db, assignee="ann", **overrides)
    async with db.transaction() as session:
        await service.add_message(session, SYSTEM, ticket.id, MessageIn(body="已为您处理"))
        return await service.step(session, SYSTEM, ticket.id, TicketEvent.RESOLVED)


async def link_of(db: Database, survey_id: int) -> str:
    async with db.transaction() as session:
        survey = await session.get(Survey, survey_id)
        assert survey is not None
        return surveys.token(survey)


async def test_surveys_go_once_however_often_the_worker_runs(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    await cs_team(db, "ann")
    ticket = await resolved_ticket(db, order_id=order_id)

    assert await run(db, "service.surveys") == 2  # the order's satisfaction survey, the ticket's
    assert await run(db, "service.surveys") == 0
    now.advance(days=3)
    assert await run(db, "service.surveys") == 1  # the feedback survey, 3 days after delivery
    assert await run(db, "service.surveys") == 0

    found = await rows(db, Survey)
    assert sorted((s.kind, s.order_id, s.ticket_id) for s in found) == [
        ("feedback", order_id, None),
        ("satisfaction", order_id, None),
        ("ticket", order_id, ticket.id),
    ]
    by_kind = {s.kind: s for s in found}
    assert by_kind["satisfaction"].expires_at == by_kind["satisfaction"].sent_at + timedelta(days=7)
    [task] = await rows(db, CallbackTask)
    assert (task.reason, task.ticket_id, task.due_at) == ("resolved", ticket.id, START + timedelta(days=3))
    events = [e for e in await rows(db, OutboxEvent) if e.event == "survey.sent"]
    assert len(events) == 3

    assert await run(db, "notify.dispatch") > 0  # each survey's link goes to the order's customer
    sms = [
        d.message["text"] for d in await rows(db, Delivery) if d.event == "survey.sent" and d.channel == "sms"
    ]
    assert len(sms) == 3 and all("/s/" in text for text in sms)


async def test_the_survey_link_is_signed_single_use_and_expires(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await delivered_order(db)
    assert await run(db, "service.surveys") == 1
    [survey] = await rows(db, Survey)
    token = await link_of(db, survey.id)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert (await client.post(SURVEYS + forged, json={"score": 5})).status_code == 404
    assert (await client.post(SURVEYS + "1.2.x", json={"score": 5})).status_code == 404
    for score in (0, 6):
        bad = await client.post(SURVEYS + token, json={"score": score})
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["score"]
    answered = await client.post(SURVEYS + token, json={"score": 4, "comment": "很好"})
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "survey_id": survey.id,
        "kind": "satisfaction",
        "score": 4,
        "follow_up_ticket_id": None,
    }
    again = await client.post(SURVEYS + token, json={"score": 1})
    assert (again.status_code, again.json()["code"]) == (409, "survey_answered")
    [stored] = await rows(db, Survey)
    assert (stored.score, stored.comment) == (4, {"text": "很好"})

    now.advance(days=3)
    assert await run(db, "service.surveys") == 1  # the feedback survey
    feedback = next(s for s in await rows(db, Survey) if s.kind == "feedback")
    late = await link_of(db, feedback.id)
    now.advance(days=7)
    gone = await client.post(SURVEYS + late, json={"score": 5})
    assert (gone.status_code, gone.json()["code"]) == (410, "survey_expired")
    assert [a.action for a in await rows(db, AuditEntry) if a.entity == "survey"].count(
        "survey.answered"
    ) == 1


async def test_a_low_score_opens_a_follow_up_ticket(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)
    await cs_team(db, "ann")
    resolved = await resolved_ticket(db, order_id=order_id)
    assert await run(db, "service.surveys") == 2
    ticket_survey = next(s for s in await rows(db, Survey) if s.kind == "ticket")

    reply = await client.post(
        SURVEYS + await link_of(db, ticket_survey.id), json={"score": 2, "comment": "太慢了"}
    )

    assert reply.status_code == 200, reply.text
    follow_up_id = reply.json()["follow_up_ticket_id"]
    async with db.transaction() as session:
        follow_up = await service.get_ticket(session, follow_up_id)
        customer_id = (await session.get(Order, order_id)).customer_id  # type: ignore[union-attr]
        messages = await service.messages(session, follow_up_id)
        trail = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "survey.answered"))
        ).all()
    assert (follow_up.type, follow_up.order_id, follow_up.customer_id) == ("complaint", order_id, customer_id)
    assert str(resolved.id) in follow_up.subject
    assert [m.content["body"] for m in messages] == ["太慢了"]
    assert [t.after for t in trail] == [{"score": 2, "commented": True, "follow_up_ticket_id": follow_up_id}]

    now.advance(days=3)
    assert await run(db, "service.surveys") == 1
    feedback = next(s for s in await rows(db, Survey) if s.kind == "feedback")
    low = await client.post(SURVEYS + await link_of(db, feedback.id), json={"score": 1})
    async with db.transaction() as session:
        assert (await service.get_ticket(session, low.json()["follow_up_ticket_id"])).type == "feedback"


async def customer(db: Database, name: str, birthday: date | None, phone: str) -> int:
    async with db.transaction() as session:
        data = CustomerIn(name=name, phones=[phone], email=f"{phone}@example.com", birthday=birthday)
        return (await crm.create_customer(session, SYSTEM, data)).id


async def test_greetings_go_once_per_customer_occasion_and_year(db: Database, now: FakeClock) -> None:
    today = START.date()
    born = await customer(db, "王芳", date(1990, today.month, today.day), "13800138001")
    await customer(db, "李雷", date(1991, 1, 2), "13800138002")

    assert await run(db, "service.care") == 2  # both customers looked at
    assert await run(db, "service.care") == 0  # the day is done
    async with db.transaction() as session:
        await session.execute(delete(CareSweep))  # a second worker starting the day afresh
    assert await run(db, "service.care") == 2

    greetings = await rows(db, Greeting)
    assert [(g.customer_id, g.occasion, g.year) for g in greetings] == [(born, "birthday", 2026)]
    async with db.transaction() as session:  # LOY-1: the birthday bonus, once however often it ran
        bonus = [
            (e.kind, e.points, e.expires_at is not None)
            for e in (await points.ledger(session, born, 1, 10))[0]
        ]
        assert bonus == [("birthday", policy.current().loyalty.birthday_bonus_points, True)]
        assert await points.balance(session, born) == await points.ledger_sum(session, born) == 100
    assert [e.payload["customer_id"] for e in await rows(db, OutboxEvent) if e.event == "care.greeting"] == [
        born
    ]
    assert await run(db, "notify.dispatch") > 0
    [mail] = [
        d.message for d in await rows(db, Delivery) if d.event == "care.greeting" and d.channel == "email"
    ]
    assert "生日快乐" in mail["subject"]

    holiday = policy.Holiday(on=today + timedelta(days=1), occasion="test_day", zh="测试节", en="Test Day")
    policy.install(policy.Policy.model_validate({"service": {"holidays": [holiday.model_dump()]}}))
    now.advance(days=1)
    assert await run(db, "service.care") == 2
    assert await run(db, "service.care") == 0
    assert sorted(g.occasion for g in await rows(db, Greeting)) == ["birthday", "test_day", "test_day"]


async def test_periodic_call_backs_once_per_period_and_done_undone(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    someone = await customer(db, "赵六", None, "13800138003")
    async with db.transaction() as session:
        await session.execute(update(crm.Customer).where(crm.Customer.id == someone).values(order_count=2))
    assert await run(db, "service.care") == 1
    async with db.transaction() as session:
        await session.execute(delete(CareSweep))
    assert await run(db, "service.care") == 1
    [task] = await rows(db, CallbackTask)
    assert (task.reason, task.customer_id, task.done_at) == ("periodic", someone, None)

    agent = await bearer(db, "customer_service")
    listed = await client.get("/api/v1/service/callbacks", headers=agent)
    assert [t["id"] for t in listed.json()] == [task.id]
    done = await client.post(f"/api/v1/service/callbacks/{task.id}/done", headers=agent)
    assert done.status_code == 200 and done.json()["done_at"] is not None
    assert (await client.get("/api/v1/service/callbacks", headers=agent)).json() == []
    undone = await client.post(f"/api/v1/service/callbacks/{task.id}/undone", headers=agent)
    assert undone.json()["done_at"] is None
    assert (await client.post("/api/v1/service/callbacks/999/done", headers=agent)).status_code == 404
    actions = [a.action for a in await rows(db, AuditEntry) if a.entity == "callback"]
    assert actions == ["callback.created", "callback.done", "callback.undone"]


async def test_the_purge_empties_old_texts_keeps_the_facts_and_logs_it(db: Database, now: FakeClock) -> None:
    await cs_team(db, "ann")
    now.current = START - timedelta(days=3 * 366)
    old = await resolved_ticket(db)
    now.current = START
    recent = await open_ticket(db, assignee="ann")
    assert len(await rows(db, TicketMessage)) == 3
    before = {m.id: (m.ticket_id, m.kind, m.at) for m in await rows(db, TicketMessage)}

    assert await run(db, "service.retention") > 0
    assert await run(db, "service.retention") == 0

    messages = await rows(db, TicketMessage)
    assert {m.id: (m.ticket_id, m.kind, m.at) for m in messages} == before  # the facts stay
    assert [(m.ticket_id, m.content["body"], m.purged_at) for m in messages if m.ticket_id == old.id] == [
        (old.id, "", START),
        (old.id, "", START),
    ]
    assert [m.content["body"] for m in messages if m.ticket_id == recent.id] == ["我的包裹到哪了？"]
    async with db.transaction() as session:
        kept = await service.get_ticket(session, old.id)
        old_audit = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.at < START - timedelta(days=3 * 365))
        )
    assert (kept.state, kept.resolved_at) == ("resolved", START - timedelta(days=3 * 366))
    assert old_audit == 0  # AUD-1: past 3 years
    [log] = await rows(db, RetentionPurge)
    assert (log.messages, log.tickets, log.audit_rows > 0) == (2, 1, True)


async def test_the_database_refuses_to_delete_young_audit_rows(db: Database) -> None:
    with pytest.raises(Exception, match="append-only"):
        async with db.transaction() as session:
            await audit.record(session, audit.row(SYSTEM, "test.done", "test", 1, None, None))
            await session.execute(text("DELETE FROM audit_log"))  # a row made just now


async def test_bought_together_counts_leave_out_what_the_customer_bought(db: Database) -> None:
    await delivered_order(db, [("SKU-1", 1, "99.00")])
    mine = (await rows(db, Order))[0]
    others = [await place(db, [("SKU-1", 1, "99.00"), ("SKU-2", 1, "45.50")]) for _ in range(2)]
    others.append(await place(db, [("SKU-2", 1, "45.50"), ("SKU-3", 1, "12.00")]))
    async with db.transaction() as session:
        await session.execute(update(Order).where(Order.id.in_(others)).values(customer_id=None))
        assert mine.customer_id is not None
        found = await care.recommendations(session, mine.customer_id)
        assert await care_repository.bought_together(session, mine.customer_id, 1) == found[:1]
    assert [(code, n) for code, _, n in found] == [("SKU-2", 2)]


async def test_the_survey_page_asks_once_in_both_languages(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await delivered_order(db)
    assert await run(db, "service.surveys") == 1
    [survey] = await rows(db, Survey)
    path = "/s/" + await link_of(db, survey.id)

    zh = await client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    en = await client.get(path + "?lang=en")
    assert zh.status_code == en.status_code == 200
    assert "请为我们的服务打分" in zh.text and "Please score our service" in en.text
    assert 'name="viewport"' in en.text and en.headers["cache-control"] == "no-store"
    assert (await client.get(path[:-2] + "xx?lang=en")).status_code == 404

    bad = await client.post(path + "?lang=en", data={"comment": "no score"})
    assert bad.status_code == 422 and "no score" in bad.text
    sent = await client.post(path + "?lang=en", data={"score": "5", "comment": "great"})
    assert sent.status_code == 303, sent.text
    assert "Thank you" in (await client.get(sent.headers["location"])).text
    again = await client.get(path + "?lang=en")
    assert again.status_code == 409 and "Already answered" in again.text
    [answered] = await rows(db, Survey)
    assert (answered.score, answered.comment) == (5, {"text": "great"})
