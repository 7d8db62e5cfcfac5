"""The service desk's whole loop over HTTP with the worker (issue 14): a complaint about a
delivered order arrives → assigned → nobody answers → the sweep alerts the breach and escalates
→ answered with the knowledge base's apology script → resolved → the worker sends the ticket's
survey → the customer scores 2 on the signed link → a follow-up ticket opens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import clock, policy
from shopflow.core.alerts import Alert
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.kb import service as kb
from shopflow.orders.models import Order
from shopflow.service import surveys
from shopflow.service.models import Survey
from shopflow.worker import SWEEPS
from tests.builders.aftersales import delivered_order
from tests.builders.auth import bearer
from tests.builders.tickets import cs_team, ticket_body
from tests.service.test_api import token_of

TICKETS = "/api/v1/tickets"
START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def sweep(db: Database, name: str) -> int:
    async with db.transaction() as session:
        return await SWEEPS[name](session)


async def test_a_complaint_is_escalated_answered_by_script_resolved_surveyed_and_followed_up(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    policy.install(policy.validate({"service": {"escalate_types": []}}))  # escalated by its breach here
    async with db.transaction() as session:
        await kb.seed_articles(session)
    order_id = await delivered_order(db)
    await cs_team(db, "ann", supervisors=("sue",))
    manager, ann = await bearer(db, "manager"), await token_of(db, "ann")
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order_no, customer_id = order.order_no, order.customer_id

    body = ticket_body(type="complaint", category="quality", order_no=order_no, body="收到的杯子是碎的")
    created = await client.post(TICKETS, json=body, headers=manager)
    assert created.status_code == 201, created.text
    ticket = created.json()
    one = f"{TICKETS}/{ticket['id']}"
    assert (ticket["assignee"], ticket["customer_id"], ticket["order_id"]) == ("ann", customer_id, order_id)

    now.advance(seconds=31)  # the chat's 30-second first response passes unanswered
    assert await sweep(db, "sla") == 1
    escalated = (await client.get(one, headers=ann)).json()
    assert (escalated["escalation"], escalated["escalated_to"]) == ("breach", "sue")
    async with db.transaction() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.subject == f"ticket:{ticket['id']}"))).all()
    assert [a.kind for a in alerts] == ["sla.breach.ticket.first_response"]

    found = (await client.get(f"{one}/scripts", params={"q": "道歉"}, headers=ann)).json()
    script = found["items"][0]["text"]
    assert order_no in script and "${" not in script
    answered = await client.post(f"{one}/messages", json={"body": script}, headers=ann)
    assert answered.status_code == 201, answered.text
    resolved = (await client.post(f"{one}/resolve", headers=ann)).json()
    assert resolved["state"] == "resolved"
    assert {c["kind"]: c["state"] for c in resolved["clocks"]} == {
        "ticket.first_response": "breached",
        "ticket.resolution": "met",
    }

    assert await sweep(db, "service.surveys") >= 1
    async with db.transaction() as session:
        survey = (await session.scalars(select(Survey).where(Survey.ticket_id == ticket["id"]))).one()
        sent = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == f"survey:{survey.id}"))
        ).one()
        link = surveys.link(survey)
    assert sent.event == "survey.sent"
    assert "/s/" in link
    scored = await client.post(
        f"/api/v1/surveys/{link.rsplit('/s/', 1)[1]}", json={"score": 2, "comment": "处理太慢"}
    )

    assert scored.status_code == 200, scored.text
    follow_up = (await client.get(f"{TICKETS}/{scored.json()['follow_up_ticket_id']}", headers=ann)).json()
    assert (follow_up["type"], follow_up["order_id"], follow_up["customer_id"]) == (
        "complaint",
        order_id,
        customer_id,
    )
    assert [m["body"] for m in follow_up["messages"]] == ["处理太慢"]
