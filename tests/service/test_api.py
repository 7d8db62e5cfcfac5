"""Tickets over HTTP (SVC-1..3, SVC-7): bad input named by field, wrong states 409, the
escalations, round robin under concurrency, and a complaint's whole way through the worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from shopflow import worker
from shopflow.core import access, clock, policy
from shopflow.core.alerts import Alert
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.service import service
from shopflow.service.models import Ticket, TicketMessage
from shopflow.service.schemas import TicketIn
from tests.builders.aftersales import case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.lifecycle import stocked_store
from tests.builders.orders import order_body
from tests.builders.tickets import cs_team, ticket_body
from tests.conftest import IS_POSTGRES

TICKETS = "/api/v1/tickets"
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def token_of(db: Database, username: str) -> dict[str, str]:
    async with db.transaction() as session:
        token = await access.create_token(session, SYSTEM, username, "test")
    return {"Authorization": f"Bearer {token}"}


async def count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return len((await session.scalars(select(model))).all())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "praise"}, "type"),
        ({"channel": "fax"}, "channel"),
        ({"subject": ""}, "subject"),
        ({"priority": "asap"}, "priority"),
        ({"category": "price"}, "category"),
        ({"phone": "12345"}, "phone"),
        ({"order_id": 999}, "order_id"),
        ({"order_no": "SF-NOPE"}, "order_no"),
        ({"customer_id": 999}, "customer_id"),
        ({"case_id": 999}, "case_id"),
        ({"assignee": "nobody"}, "assignee"),
        ({"body": ""}, "body"),
    ],
)
async def test_a_bad_ticket_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, object], field: str
) -> None:
    reply = await client.post(TICKETS, json=ticket_body(**change), headers=await bearer(db, "manager"))

    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert await count(db, Ticket) == 0


async def test_bad_messages_steps_and_filters_are_422_naming_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    ticket = (await client.post(TICKETS, json=ticket_body(), headers=headers)).json()
    one = f"{TICKETS}/{ticket['id']}"

    answers = {
        "kind": await client.post(f"{one}/messages", json={"body": "x", "kind": "inbound"}, headers=headers),
        "body": await client.post(f"{one}/inbound", json={"body": " "}, headers=headers),
        "reason": await client.post(f"{one}/escalate", json={"reason": ""}, headers=headers),
        "user": await client.post(f"{one}/assign", json={"user": "nobody"}, headers=headers),
        "state": await client.get(TICKETS, params={"state": "lost"}, headers=headers),
        "assignee": await client.get(TICKETS, params={"assignee": "nobody"}, headers=headers),
    }

    for field, reply in answers.items():
        assert reply.status_code == 422, (field, reply.text)
        assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert await count(db, TicketMessage) == 1  # the ticket's first message only


async def test_a_done_ticket_refuses_messages_and_wrong_steps_with_409(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    one = f"{TICKETS}/{(await client.post(TICKETS, json=ticket_body(), headers=headers)).json()['id']}"
    assert (await client.post(f"{one}/close", headers=headers)).json()["state"] == "closed"

    replies = [
        await client.post(f"{one}/messages", json={"body": "还在吗"}, headers=headers),
        await client.post(f"{one}/pend", headers=headers),
        await client.post(f"{one}/resolve", headers=headers),
        await client.post(f"{one}/escalate", json={"reason": "x"}, headers=headers),
        await client.post(f"{TICKETS}/999/resolve", headers=headers),
    ]

    assert [r.status_code for r in replies] == [409, 409, 409, 409, 404]
    assert [r.json()["code"] for r in replies] == [
        "ticket_done",
        "invalid_transition",
        "invalid_transition",
        "ticket_done",
        "ticket_not_found",
    ]
    assert (await client.post(f"{one}/reopen", headers=headers)).json()["state"] == "open"


async def test_the_customer_is_found_by_phone_and_the_order_by_number(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked_store(db, 5)
    admin = await bearer(db, "admin")
    order = (
        await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=admin)
    ).json()

    by_phone = await client.post(TICKETS, json=ticket_body(phone="138-0013-8000"), headers=admin)
    by_order = await client.post(TICKETS, json=ticket_body(order_no=order["order_no"].lower()), headers=admin)

    customers = (await client.get("/api/v1/customers", params={"phone": "13800138000"}, headers=admin)).json()
    customer_id = customers["items"][0]["id"]
    assert by_phone.status_code == 201, by_phone.text
    assert by_phone.json()["customer_id"] == customer_id
    assert (by_order.json()["order_id"], by_order.json()["customer_id"]) == (order["id"], customer_id)
    masked = await client.get(f"{TICKETS}/{by_phone.json()['id']}", headers=await bearer(db, "warehouse"))
    assert masked.json()["phone"] != "138-0013-8000"


async def test_a_complaint_goes_to_the_least_busy_supervisor_at_once_audited_and_alerted(
    client: httpx.AsyncClient, db: Database
) -> None:
    await cs_team(db, "ann", supervisors=("sue", "sam"))

    reply = await client.post(
        TICKETS, json=ticket_body(type="complaint"), headers=await bearer(db, "manager")
    )

    body = reply.json()
    assert (body["assignee"], body["escalation"], body["escalated_to"]) == ("ann", "complaint", "sue")
    async with db.transaction() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.kind == "ticket.escalated"))).all()
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.event == "ticket.escalated"))
        ).all()
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "ticket"))
        ).all()
    assert [a.owner for a in alerts] == ["user:sue"]
    assert [e.payload["reason"] for e in events] == ["a complaint goes to a supervisor"]
    assert set(actions) == {"ticket.created", "ticket.assigned", "ticket.escalated"}
    second = await client.post(
        TICKETS, json=ticket_body(type="complaint"), headers=await bearer(db, "manager")
    )
    assert second.json()["escalated_to"] == "sam"


async def test_a_case_beyond_the_agents_authority_escalates_the_ticket(
    client: httpx.AsyncClient, db: Database
) -> None:
    await cs_team(db, "ann", supervisors=("sue",))
    order_id = await delivered_order(db)
    admin = await bearer(db, "admin")
    big = await open_case(
        client, admin, case_body(order_id, type="compensation", reason="quality", lines=[], amount="800.00")
    )
    small = await open_case(
        client, admin, case_body(order_id, type="compensation", reason="quality", lines=[], amount="80.00")
    )

    over = (await client.post(TICKETS, json=ticket_body(case_id=big["id"]), headers=admin)).json()
    under = (await client.post(TICKETS, json=ticket_body(case_id=small["id"]), headers=admin)).json()

    assert (over["escalation"], over["order_id"]) == ("authority", order_id)
    assert "800.00" in over["escalation_reason"] and "500.00" in over["escalation_reason"]
    assert under["escalation"] is None


async def test_a_message_body_never_reaches_the_audit_trail(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "manager")
    one = f"{TICKETS}/{(await client.post(TICKETS, json=ticket_body(), headers=headers)).json()['id']}"

    await client.post(
        f"{one}/messages", json={"body": "密码是 Secret-42", "kind": "internal"}, headers=headers
    )

    async with db.transaction() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.entity == "ticket"))).all()
    assert rows and not any("Secret-42" in str(r.after) for r in rows)


async def test_a_complaint_from_arrival_to_resolution_through_the_worker(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    policy.install(policy.validate({"service": {"escalate_types": []}}))  # escalated by its breach here
    await cs_team(db, "ann", "bob", supervisors=("sue",))
    manager, ann = await bearer(db, "manager"), await token_of(db, "ann")

    created = await client.post(
        TICKETS, json=ticket_body(type="complaint", category="quality"), headers=manager
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    one = f"{TICKETS}/{ticket['id']}"
    assert (ticket["assignee"], ticket["state"], ticket["escalation"]) == ("ann", "new", None)
    assert {c["kind"]: c["state"] for c in ticket["clocks"]} == {
        "ticket.first_response": "running",
        "ticket.resolution": "running",
    }

    now.advance(seconds=31)  # nobody answered within 30 s
    async with db.transaction() as session:
        assert await worker.sla_breaches(session) == 1
    late = (await client.get(TICKETS, params={"late": True, "type": "complaint"}, headers=ann)).json()
    assert [t["id"] for t in late["items"]] == [ticket["id"]]
    escalated = (await client.get(one, headers=ann)).json()
    assert (escalated["escalation"], escalated["escalated_to"]) == ("breach", "sue")
    async with db.transaction() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.subject == f"ticket:{ticket['id']}"))).all()
    assert [(a.kind, a.owner) for a in alerts] == [("sla.breach.ticket.first_response", "cs_supervisor")]
    async with db.transaction() as session:
        assert await worker.sla_breaches(session) == 0  # one alert per breach

    answered = await client.post(f"{one}/messages", json={"body": "非常抱歉，马上为您处理"}, headers=ann)
    assert answered.status_code == 201, answered.text
    assert answered.json()["state"] == "open"
    assert answered.json()["late"] is False
    assert [m["kind"] for m in answered.json()["messages"]] == ["inbound", "outbound"]

    resolved = (await client.post(f"{one}/resolve", headers=ann)).json()
    assert resolved["state"] == "resolved"
    assert {c["kind"]: c["state"] for c in resolved["clocks"]} == {
        "ticket.first_response": "breached",
        "ticket.resolution": "met",
    }
    async with db.transaction() as session:
        alert = (await session.scalars(select(Alert).where(Alert.subject == f"ticket:{ticket['id']}"))).one()
    assert alert.state == "resolved"


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent transactions: PostgreSQL")
async def test_twenty_concurrent_tickets_are_spread_evenly_by_round_robin(committed: Database) -> None:
    await cs_team(committed, "ann", "bob", "cat", "dan")
    data = TicketIn.model_validate(ticket_body())

    async def one() -> int | None:
        async with committed.transaction() as session:
            return (await service.create_ticket(session, SYSTEM, data)).assignee_id

    assignees = await asyncio.gather(*(one() for _ in range(20)))

    assert sorted(Counter(assignees).values()) == [5, 5, 5, 5]
