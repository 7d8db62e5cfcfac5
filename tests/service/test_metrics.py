"""The agents' month (STF-2, STF-3) on a month built here: exact counts and rates, the agent
above the 5% response-timeout rate flagged, bad months 422, the permission."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.service import metrics, service, surveys
from shopflow.service.care_repository import AgentCounts
from shopflow.service.models import Survey, TicketEvent
from shopflow.service.schemas import MessageIn, SurveyIn
from shopflow.worker import SWEEPS
from tests.builders.auth import bearer
from tests.builders.tickets import cs_team, open_ticket

START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 23:00 on 30 November in Shanghai
METRICS = "/api/v1/service/agents/metrics"


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def answer(db: Database, ticket_id: int) -> None:
    async with db.transaction() as session:
        await service.add_message(session, SYSTEM, ticket_id, MessageIn(body="您好"))


async def test_the_agents_month_counts_rates_and_flags(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await cs_team(db, "ann", "bob", "cat")
    await open_ticket(db, assignee="ann")  # opened in November, late in November
    now.advance(hours=2)  # 01:00 on 1 December in Shanghai
    met = await open_ticket(db, assignee="ann")
    await open_ticket(db, assignee="ann")  # never answered
    solved = await open_ticket(db, assignee="bob")
    await answer(db, met.id)
    await answer(db, solved.id)
    now.advance(seconds=31)  # the chat's 30 s passed for `late` (November's passed in November)
    async with db.transaction() as session:
        assert await SWEEPS["sla"](session) == 2
        await service.step(session, SYSTEM, solved.id, TicketEvent.RESOLVED)
    async with db.transaction() as session:
        assert await SWEEPS["service.surveys"](session) == 1
    async with db.transaction() as session:
        [survey] = (await session.scalars(select(Survey))).all()
        await surveys.answer(session, surveys.token(survey), SurveyIn(score=4))

    reply = await client.get(METRICS, params={"month": "2026-12"}, headers=await bearer(db, "cs_supervisor"))

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["month"], body["timeout_rate_limit"]) == ("2026-12", 0.05)
    agents = {a["username"]: a for a in body["agents"]}
    assert sorted(agents) == ["ann", "bob", "cat"]
    ann, bob, cat = agents["ann"], agents["bob"], agents["cat"]
    counted = ("handled", "first_responses", "first_response_breaches", "response_clocks_ended")
    assert tuple(ann[key] for key in counted) == (2, 1, 1, 2)
    assert (ann["response_timeout_rate"], ann["flagged"]) == (0.5, True)
    assert (ann["resolution_rate"], ann["resolution_24h_rate"], ann["satisfaction"]) == (0.0, 0.0, None)
    assert (bob["handled"], bob["first_responses"], bob["first_response_breaches"], bob["flagged"]) == (
        1,
        1,
        0,
        False,
    )
    assert (bob["response_timeout_rate"], bob["resolution_rate"], bob["resolution_24h_rate"]) == (
        0.0,
        1.0,
        1.0,
    )
    assert (bob["satisfaction"], bob["satisfaction_answers"]) == (4.0, 1)
    assert (cat["handled"], cat["response_timeout_rate"], cat["flagged"]) == (0, None, False)

    previous = await client.get(METRICS, params={"month": "2026-11"}, headers=await bearer(db, "manager"))
    ann_november = next(a for a in previous.json()["agents"] if a["username"] == "ann")
    assert tuple(ann_november[key] for key in counted) == (1, 0, 1, 1)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-12", "december", "1969-12"])
async def test_a_bad_month_is_422(client: httpx.AsyncClient, db: Database, month: str) -> None:
    reply = await client.get(METRICS, params={"month": month}, headers=await bearer(db, "manager"))
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["month"]


async def test_agents_may_not_read_the_month(client: httpx.AsyncClient, db: Database) -> None:
    reply = await client.get(METRICS, headers=await bearer(db, "customer_service"))
    assert reply.status_code == 403


def test_above_five_percent_is_flagged_five_is_not() -> None:
    assert metrics.judge(AgentCounts(breaches=1, ended=20), 5.0) == (0.05, False)
    assert metrics.judge(AgentCounts(breaches=2, ended=39), 5.0) == (0.0513, True)
    assert metrics.judge(AgentCounts(), 5.0) == (None, False)
