"""FUL-6: damaged, lost, returned and stuck parcels open a case that must reach the customer
with a solution within the policy's hours; the clock is a FakeClock, so the hours are exact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shopflow import worker
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders import fulfillment as ful
from tests.builders.auth import bearer
from tests.builders.rows import alerts_for
from tests.builders.store import small_store

START = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.sla_breaches(session)


async def cases(
    client: httpx.AsyncClient, headers: dict[str, str], shipment_id: int
) -> list[dict[str, object]]:
    detail = (await client.get(f"/api/v1/shipments/{shipment_id}", headers=headers)).json()
    return list(detail["exceptions"])


async def test_a_damaged_parcel_opens_one_case_with_a_12_hour_clock_closed_by_contact(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)
    waybill = parcel["tracking_no"]
    now.advance(hours=5)

    damaged = [ful.event(waybill, "damaged", START + timedelta(hours=4), description="外箱破损")]
    assert (await ful.push(client, "SF", secrets["SF"], damaged)).json()["stored"] == 1
    again = [ful.event(waybill, "damaged", START + timedelta(hours=5))]
    assert (await ful.push(client, "SF", secrets["SF"], again)).json()["stored"] == 1

    [case] = await cases(client, team.sales, parcel["id"])  # one open case, not one per report
    assert (case["kind"], case["state"]) == ("damaged", "open")
    assert case["contact_by"] == (START + timedelta(hours=5 + 12)).isoformat().replace("+00:00", "Z")
    contact_clock = (await ful.clocks(db, f"exception:{case['id']}"))["shipment.exception_contact"]
    assert (contact_clock.state, contact_clock.deadline) == ("running", START + timedelta(hours=17))
    [alert] = [a for a in await alerts_for(db, f"shipment:{parcel['id']}") if a.kind == "logistics_exception"]
    assert waybill in alert.message
    shown = (await client.get(f"/api/v1/shipments/{parcel['id']}", headers=team.sales)).json()
    assert shown["status"] == "exception"
    listed = (await client.get("/api/v1/exceptions?state=open", headers=team.sales)).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    lost = (await client.get("/api/v1/exceptions?kind=lost", headers=team.sales)).json()
    assert lost["total"] == 0
    damaged_cases = (await client.get("/api/v1/exceptions?kind=damaged", headers=team.sales)).json()
    assert [c["id"] for c in damaged_cases["items"]] == [case["id"]]
    by_waybill = (await client.get(f"/api/v1/shipments?q={waybill}", headers=team.sales)).json()
    assert [s["id"] for s in by_waybill["items"]] == [parcel["id"]]
    assert (await client.get("/api/v1/shipments?q=NO-SUCH-WAYBILL", headers=team.sales)).json()["total"] == 0

    service_desk = await bearer(db, "customer_service")
    now.advance(hours=2)
    solution = {"solution": "已致电客户，补发新品，破损件无需退回"}
    closed = await client.post(
        f"/api/v1/exceptions/{case['id']}/contact", json=solution, headers=service_desk
    )

    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["solution"]) == ("closed", solution["solution"])
    contact_clock = (await ful.clocks(db, f"exception:{case['id']}"))["shipment.exception_contact"]
    assert (contact_clock.state, contact_clock.stopped_at) == ("met", START + timedelta(hours=7))
    [alert] = [a for a in await alerts_for(db, f"shipment:{parcel['id']}") if a.kind == "logistics_exception"]
    assert (alert.state, alert.resolved_at, alert.resolved_by) == (
        "resolved",
        START + timedelta(hours=7),
        None,
    )
    assert alert.resolution_note == "the customer was contacted with a solution"
    before = await ful.counts(db)
    twice = await client.post(f"/api/v1/exceptions/{case['id']}/contact", json=solution, headers=service_desk)
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")
    assert await ful.counts(db) == before
    by_warehouse = await client.post(
        f"/api/v1/exceptions/{case['id']}/contact", json=solution, headers=team.warehouse
    )
    assert by_warehouse.status_code == 403


@pytest.mark.parametrize(
    ("status", "kind"), [("lost", "lost"), ("returned", "returned"), ("exception", "other")]
)
async def test_lost_returned_and_other_carrier_problems_open_their_case(
    client: httpx.AsyncClient, db: Database, now: FakeClock, status: str, kind: str
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)

    await ful.push(client, "SF", secrets["SF"], [ful.event(parcel["tracking_no"], status, START)])

    assert [(c["kind"], c["state"]) for c in await cases(client, team.sales, parcel["id"])] == [
        (kind, "open")
    ]


async def test_a_parcel_without_events_for_48_hours_is_stuck_and_opens_a_case(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)
    picked_up = START + timedelta(hours=2)
    await ful.push(client, "SF", secrets["SF"], [ful.event(parcel["tracking_no"], "picked_up", picked_up)])

    now.advance(hours=2 + 47)
    await sweep(db)
    assert await cases(client, team.sales, parcel["id"]) == []

    now.advance(hours=2)
    await sweep(db)

    [case] = await cases(client, team.sales, parcel["id"])
    assert (case["kind"], case["state"]) == ("stuck", "open")
    no_event = (await ful.clocks(db, f"shipment:{parcel['id']}"))["shipment.no_event"]
    assert (no_event.state, no_event.breached_at) == ("breached", START + timedelta(hours=51))
    breaches = [
        a
        for a in await alerts_for(db, f"shipment:{parcel['id']}")
        if a.kind == "sla.breach.shipment.no_event"
    ]
    assert len(breaches) == 1

    # Nobody contacts the customer within 12 hours: that clock breaches and is alerted too.
    now.advance(hours=13)
    await sweep(db)
    assert [a.kind for a in await alerts_for(db, f"exception:{case['id']}")] == [
        "sla.breach.shipment.exception_contact"
    ]

    # The parcel moves again: its no-event clock runs anew from the event's time.
    moved = START + timedelta(hours=60)
    await ful.push(client, "SF", secrets["SF"], [ful.event(parcel["tracking_no"], "at_hub", moved)])
    no_event = (await ful.clocks(db, f"shipment:{parcel['id']}"))["shipment.no_event"]
    assert (no_event.state, no_event.deadline) == ("running", moved + timedelta(hours=48))
    # …and the breach of its last run is over: the parcel is moving again.
    [breach] = [a for a in await alerts_for(db, f"shipment:{parcel['id']}") if a.kind.startswith("sla.")]
    assert (breach.state, breach.resolution_note) == ("resolved", "the late step happened")
