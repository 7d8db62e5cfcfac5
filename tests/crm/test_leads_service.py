"""Leads in the database (CRM-2..4): dedupe by phone, assignment, the clocks across a weekend and
a holiday, regrading, the breach alerts to owner and manager, conversion by an order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from shopflow import worker
from shopflow.core import audit, auth, clock, policy, sla
from shopflow.core.alerts import Alert
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.errors import Conflict
from shopflow.core.events import OutboxEvent
from shopflow.crm.leads import service
from shopflow.crm.leads.models import Grade, LeadClock, LeadState, Outcome, lead_subject
from shopflow.crm.leads.schemas import FollowUpIn
from tests.builders.leads import A_LEAD, sales_team, submit
from tests.builders.lifecycle import place, stocked_store

FRIDAY = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Friday


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(FRIDAY)
    with clock.use(fake):
        yield fake


async def _clocks(db: Database, lead_id: int) -> dict[str, sla.SlaClock]:
    async with db.transaction() as session:
        return {c.kind: c for c in await sla.of_subject(session, lead_subject(lead_id))}


async def _follow_up(
    db: Database, lead_id: int, outcome: Outcome = Outcome.REACHED, who: Actor = SYSTEM
) -> None:
    async with db.transaction() as session:
        data = FollowUpIn(channel="phone", outcome=outcome, next_step="send the catalogue")  # type: ignore[arg-type]
        await service.log_follow_up(session, who, lead_id, data)


async def test_a_second_lead_for_the_same_phone_is_appended_to_the_open_one(
    db: Database, now: FakeClock
) -> None:
    first, appended_first = await submit(db, need_tags=["办公设备"])
    second, appended_second = await submit(db, need_tags=["打印机"], note="also printers", **A_LEAD)

    assert (appended_first, appended_second) == (False, True)
    assert second.id == first.id
    assert second.intakes == 2
    assert second.need_tags == ["办公设备", "打印机"]
    assert second.grade == Grade.A  # the merged request says more: regraded
    async with db.transaction() as session:
        assert [e.action for e in await audit.trail(session, "lead", first.id)] == [
            "lead.new",
            "lead.appended",
        ]


async def test_a_closed_lead_frees_its_phone_for_a_new_lead(db: Database, now: FakeClock) -> None:
    first, _ = await submit(db)
    await _follow_up(db, first.id, Outcome.LOST)

    second, appended = await submit(db)

    assert not appended
    assert second.id != first.id


async def test_first_contact_is_due_one_working_day_later_across_the_weekend(
    db: Database, now: FakeClock
) -> None:
    lead, _ = await submit(db)

    clocks = await _clocks(db, lead.id)

    assert clocks[LeadClock.FIRST_CONTACT].deadline == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00


async def test_a_configured_holiday_is_not_a_working_day(db: Database, now: FakeClock) -> None:
    policy.install(policy.validate({"calendar": {"holidays": ["2026-12-07"]}}))

    lead, _ = await submit(db)

    assert (await _clocks(db, lead.id))[LeadClock.FIRST_CONTACT].deadline == datetime(
        2026, 12, 8, 2, 0, tzinfo=UTC
    )
    assert date(2026, 12, 7) in policy.current().calendar.holidays


async def test_a_follow_up_meets_first_contact_and_restarts_the_clock_by_grade(
    db: Database, now: FakeClock
) -> None:
    lead, _ = await submit(db, **A_LEAD)
    now.advance(hours=2)
    await _follow_up(db, lead.id)

    clocks = await _clocks(db, lead.id)
    assert clocks[LeadClock.FIRST_CONTACT].state == sla.ClockState.MET
    assert clocks[LeadClock.FOLLOW_UP].deadline == FRIDAY + timedelta(hours=2 + 24)

    now.advance(hours=5)
    await _follow_up(db, lead.id, Outcome.NO_ANSWER)
    assert (await _clocks(db, lead.id))[LeadClock.FOLLOW_UP].deadline == FRIDAY + timedelta(hours=7 + 24)


async def test_regrading_moves_the_running_follow_up_clock_to_the_new_grades_deadline(
    db: Database, now: FakeClock
) -> None:
    lead, _ = await submit(db)  # C: 7 days
    await _follow_up(db, lead.id)
    assert (await _clocks(db, lead.id))[LeadClock.FOLLOW_UP].deadline == FRIDAY + timedelta(days=7)
    now.advance(hours=1)

    async with db.transaction() as session:
        regraded = await service.override_grade(session, SYSTEM, lead.id, Grade.A, "the buyer's boss called")

    assert regraded.reasons == ["set by system: the buyer's boss called"]
    assert (await _clocks(db, lead.id))[LeadClock.FOLLOW_UP].deadline == FRIDAY + timedelta(hours=24)
    async with db.transaction() as session:
        graded = [e for e in await audit.trail(session, "lead", lead.id) if e.action == "lead.graded"]
    assert graded[0].before == {"grade": "C", "reasons": ["needs 办公设备"]}
    assert graded[0].after is not None and graded[0].after["grade"] == "A"


async def test_a_converted_or_lost_lead_is_never_regraded_nor_followed_up(
    db: Database, now: FakeClock
) -> None:
    lead, _ = await submit(db)
    await _follow_up(db, lead.id, Outcome.LOST)

    with pytest.raises(Conflict):
        async with db.transaction() as session:
            await service.override_grade(session, SYSTEM, lead.id, Grade.A, "try")
    with pytest.raises(Conflict):
        await _follow_up(db, lead.id)
    async with db.transaction() as session:
        assert (await service.get_lead(session, lead.id)).grade == Grade.C
    clocks = await _clocks(db, lead.id)
    assert {kind: c.state for kind, c in clocks.items()} == {LeadClock.FIRST_CONTACT: sla.ClockState.MET}


async def test_round_robin_gives_leads_in_turn_to_the_sales_staff_on_duty(
    db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann", "bob", "cat", off_duty=("bob",))

    owners = []
    for n in range(4):
        lead, _ = await submit(db, phone=f"1390013900{n}")  # C: round robin
        owners.append(lead.owner_id)

    async with db.transaction() as session:
        names = await service.usernames(session, owners)
    assert [names[o] for o in owners if o is not None] == ["ann", "cat", "ann", "cat"]


async def test_least_loaded_gives_the_lead_to_whoever_has_fewest_open_leads(
    db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann", "bob")
    policy.install(policy.validate({"crm": {"assignment": {"C": "least_loaded"}}}))
    async with db.transaction() as session:
        ann = await auth.find_user(session, "ann")
        bob = await auth.find_user(session, "bob")
    first, _ = await submit(db, phone="13900139001")
    assert first.owner_id == ann.id
    second, _ = await submit(db, phone="13900139002")
    assert second.owner_id == bob.id
    await _follow_up(db, first.id, Outcome.LOST)  # ann's lead closes: she has fewer open now

    third, _ = await submit(db, phone="13900139003")

    assert third.owner_id == ann.id


async def test_the_assignee_is_told_by_a_console_alert_and_an_outbox_event(
    db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann")

    lead, _ = await submit(db)

    async with db.transaction() as session:
        alerts = (await session.scalars(select(Alert).where(Alert.kind == "lead.assigned"))).all()
        events = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.event == "lead.assigned"))
        ).all()
    assert [(a.owner, a.subject) for a in alerts] == [("user:ann", f"lead:{lead.id}")]
    assert [e.payload["owner"] for e in events] == ["ann"]


async def test_reassignment_is_audited_and_refuses_a_user_who_may_not_work_leads(
    db: Database, now: FakeClock
) -> None:
    await sales_team(db, "ann", "bob")
    lead, _ = await submit(db)
    async with db.transaction() as session:
        await auth.add_user(session, SYSTEM, "wendy", "warehouse")

    async with db.transaction() as session:
        moved = await service.assign(session, SYSTEM, lead.id, "bob")
        assert (await service.usernames(session, [moved.owner_id]))[moved.owner_id or 0] == "bob"
    with pytest.raises(Exception, match="may not take leads"):
        async with db.transaction() as session:
            await service.assign(session, SYSTEM, lead.id, "wendy")
    async with db.transaction() as session:
        assigned = [
            e.after for e in await audit.trail(session, "lead", lead.id) if e.action == "lead.assigned"
        ]
    assert assigned == [{"owner": "ann", "how": "round_robin"}, {"owner": "bob", "how": "by_hand"}]


async def test_a_late_lead_alerts_its_owner_and_their_manager_once(db: Database, now: FakeClock) -> None:
    await sales_team(db, "ann", manager="meg")
    lead, _ = await submit(db, **A_LEAD)
    now.advance(days=3)

    for _ in range(2):
        async with db.transaction() as session:
            await worker.sla_breaches(session)

    async with db.transaction() as session:
        found = (
            await session.scalars(
                select(Alert).where(Alert.kind == "sla.breach.lead.first_contact").order_by(Alert.id)
            )
        ).all()
        late = await service.late_among(session, [lead.id])
    assert [a.owner for a in found] == ["user:ann", "user:meg"]
    assert late == {lead.id}

    await _follow_up(db, lead.id)  # the late step happened: the alerts are resolved

    async with db.transaction() as session:
        states = (
            await session.scalars(select(Alert.state).where(Alert.subject == lead_subject(lead.id)))
        ).all()
        assert await service.late_among(session, [lead.id]) == set()
    assert sorted(states) == ["open", "resolved", "resolved"]  # the assignment alert stays for ann


async def test_the_phones_order_converts_its_open_lead(db: Database, now: FakeClock) -> None:
    await stocked_store(db, 5)
    lead, _ = await submit(db, phone="13800138000")  # the builders' orders' phone
    other, _ = await submit(db, phone="13700137000")
    now.advance(hours=1)
    order_id = await place(db)
    async with db.transaction() as session:
        too_soon = await service.convert_from_orders(
            session
        )  # it might still have older neighbours uncommitted
    now.advance(seconds=service.SETTLE.total_seconds())

    async with db.transaction() as session:
        read = await service.convert_from_orders(session)
    async with db.transaction() as session:
        again = await service.convert_from_orders(session)
        converted = await service.get_lead(session, lead.id)
        untouched = await service.get_lead(session, other.id)

    assert (too_soon, read, again) == (0, 1, 0)
    assert (converted.state, converted.order_id, converted.converted_at) == (
        LeadState.CONVERTED,
        order_id,
        now.current,
    )
    assert untouched.state == LeadState.NEW
    assert (await _clocks(db, lead.id))[LeadClock.FIRST_CONTACT].state == sla.ClockState.CANCELLED


async def test_an_order_placed_before_the_lead_does_not_convert_it(db: Database, now: FakeClock) -> None:
    await stocked_store(db, 5)
    await place(db)
    now.advance(hours=1)
    lead, _ = await submit(db, phone="13800138000")

    now.advance(minutes=5)

    async with db.transaction() as session:
        assert await service.convert_from_orders(session) == 1
        assert (await service.get_lead(session, lead.id)).state == LeadState.NEW
