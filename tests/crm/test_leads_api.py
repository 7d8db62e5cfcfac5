"""Leads over HTTP (CRM-2..4): the public form, bad input named by field, the rate limit, and the
whole way of a lead from the form to the order that converts it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from shopflow import worker
from shopflow.core import clock, policy
from shopflow.core.alerts import Alert
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.personal_data import PersonalDataRead
from shopflow.crm.leads import service, tasks
from shopflow.crm.leads.models import Lead
from shopflow.crm.leads.schemas import LeadIn
from tests.builders.auth import bearer
from tests.builders.leads import A_LEAD, lead_body, sales_team
from tests.builders.lifecycle import stocked_store
from tests.builders.orders import order_body
from tests.builders.rows import late_crowd
from tests.conftest import IS_POSTGRES

INTAKE = "/api/v1/leads/intake"
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def test_the_public_form_needs_no_token_and_says_when_it_appended(client: httpx.AsyncClient) -> None:
    first = await client.post(INTAKE, json=lead_body(**A_LEAD))
    second = await client.post(INTAKE, json=lead_body(need_tags=["打印机"]))

    assert first.status_code == 201, first.text
    assert first.json()["grade"] == "A"
    assert first.json()["reasons"] == [
        "asked for a quote of 200 units",
        "budget stated 50,000 yuan",
        "needs 办公设备",
    ]
    assert first.json()["appended"] is False
    assert second.status_code == 200
    assert (second.json()["id"], second.json()["appended"]) == (first.json()["id"], True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "1380013800"}, "phone"),
        ({"phone": "23800138000"}, "phone"),
        ({"need_tags": []}, "need_tags"),
        ({"need_tags": [""]}, "need_tags[0]"),
        ({"source": "billboard"}, "source"),
        ({"budget": "-1"}, "budget"),
        ({"quantity": 0}, "quantity"),
    ],
)
async def test_bad_form_input_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, object], field: str
) -> None:
    reply = await client.post(INTAKE, json={**lead_body(), **change})

    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Lead)) == 0


async def test_an_unknown_grade_is_422_naming_the_field(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "sales")
    lead = (await client.post("/api/v1/leads", json=lead_body(), headers=headers)).json()

    reply = await client.post(
        f"/api/v1/leads/{lead['id']}/grade", json={"grade": "D", "reason": "?"}, headers=headers
    )
    no_reason = await client.post(
        f"/api/v1/leads/{lead['id']}/grade", json={"grade": "A", "reason": ""}, headers=headers
    )

    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["grade"]
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]


async def test_the_form_beyond_its_rate_per_address_is_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    policy.install(policy.validate({"crm": {"intake_requests_per_minute": 2}}))

    answers = [await client.post(INTAKE, json=lead_body(phone=f"1390013900{n}")) for n in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert int(answers[2].headers["Retry-After"]) > 0


async def test_staff_see_a_leads_phone_and_the_read_is_logged(
    client: httpx.AsyncClient, db: Database
) -> None:
    created = await client.post("/api/v1/leads", json=lead_body(), headers=await bearer(db, "manager"))
    lead_id = created.json()["id"]

    shown = await client.get(f"/api/v1/leads/{lead_id}", headers=await bearer(db, "sales"))

    assert created.status_code == 201
    assert shown.json()["phone"] == "13900139000"
    async with db.transaction() as session:
        reads = (
            await session.scalars(select(PersonalDataRead).where(PersonalDataRead.subject == "lead"))
        ).all()
    assert [(r.subject_id, r.endpoint) for r in reads][-1] == (lead_id, "GET /api/v1/leads/{lead_id}")


async def test_the_late_filter_finds_a_late_lead_behind_any_number_of_other_late_clocks(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann", manager="meg")
    sales = await bearer(db, "sales", "sally")
    lead_id = (await client.post(INTAKE, json=lead_body("13800138000", **A_LEAD))).json()["id"]
    now.advance(days=1, minutes=1)  # its first contact is late
    await late_crowd(db, 10_001, now.current)  # longer overdue than it, of other subjects

    late = (await client.get("/api/v1/leads", params={"late": True}, headers=sales)).json()

    assert ([item["id"] for item in late["items"]], late["total"]) == ([lead_id], 1)


async def test_a_form_lead_from_grade_a_to_the_order_that_converts_it(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann", "bob", manager="meg")
    await stocked_store(db, 5)
    sales = await bearer(db, "sales", "sally")
    phone = "13800138000"

    form = await client.post(INTAKE, json=lead_body(phone, **A_LEAD))
    lead_id = form.json()["id"]
    lead = (await client.get(f"/api/v1/leads/{lead_id}", headers=sales)).json()
    assert (lead["grade"], lead["owner"], lead["state"]) == ("A", "ann", "new")  # A: least loaded, ann first
    assert [c["kind"] for c in lead["clocks"]] == ["lead.first_contact"]

    now.advance(days=1, minutes=1)  # no follow-up within the working day
    async with db.transaction() as session:
        await worker.sla_breaches(session)
    late = (await client.get("/api/v1/leads", params={"late": True}, headers=sales)).json()
    assert [item["id"] for item in late["items"]] == [lead_id]
    async with db.transaction() as session:
        owners = (await session.scalars(select(Alert.owner).where(Alert.kind.like("sla.breach.lead%")))).all()
    assert sorted(owners) == ["user:ann", "user:meg"]

    logged = await client.post(
        f"/api/v1/leads/{lead_id}/follow-ups",
        json={"channel": "phone", "outcome": "qualified", "next_step": "send the quotation"},
        headers=sales,
    )
    assert logged.status_code == 201, logged.text
    body = logged.json()
    assert body["state"] == "qualified"
    follow_up = {c["kind"]: c for c in body["clocks"]}["lead.follow_up"]
    assert follow_up["state"] == "running"
    assert datetime.fromisoformat(follow_up["deadline"]) == now.current + timedelta(hours=24)
    assert (await client.get("/api/v1/leads", params={"late": True}, headers=sales)).json()["items"] == []

    moved = await client.post(
        f"/api/v1/leads/{lead_id}/assign", json={"user": "bob"}, headers=await bearer(db, "manager")
    )
    assert moved.json()["owner"] == "bob"

    now.advance(hours=2)
    ordered = await client.post(
        "/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=await bearer(db, "admin")
    )
    assert ordered.status_code == 201, ordered.text
    now.advance(minutes=1)
    async with db.transaction() as session:
        assert await tasks.conversions(session) == 1
    done = (await client.get(f"/api/v1/leads/{lead_id}", headers=sales)).json()
    assert (done["state"], done["order_id"]) == ("converted", ordered.json()["id"])
    assert [(c["state"], c["late"]) for c in done["clocks"]] == [("breached", False), ("cancelled", False)]

    regrade = await client.post(
        f"/api/v1/leads/{lead_id}/grade", json={"grade": "C", "reason": "x"}, headers=sales
    )
    assert regrade.status_code == 409


async def test_my_leads_are_the_callers(client: httpx.AsyncClient, db: Database) -> None:
    await sales_team(db, "ann")
    ann = await bearer(db, "sales", "ann-2")
    await client.post("/api/v1/leads", json=lead_body(owner="ann-2"), headers=ann)
    await client.post("/api/v1/leads", json=lead_body(phone="13700137000"), headers=ann)

    mine = (await client.get("/api/v1/leads", params={"mine": True}, headers=ann)).json()

    assert [item["owner"] for item in mine["items"]] == ["ann-2"]


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent transactions: PostgreSQL")
async def test_fifty_concurrent_intakes_of_one_phone_make_one_lead(committed: Database) -> None:
    data = LeadIn.model_validate(lead_body())

    async def one() -> bool:
        async with committed.transaction() as session:
            return (await service.submit(session, SYSTEM, data)).appended

    appended = await asyncio.gather(*(one() for _ in range(50)))

    async with committed.transaction() as session:
        leads = (await session.scalars(select(Lead))).all()
    assert len(leads) == 1
    assert leads[0].intakes == 50
    assert sorted(appended) == [False] + [True] * 49
