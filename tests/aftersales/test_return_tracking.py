"""Reverse logistics (ASV-3) on fulfillment's tracking events (FUL-5): the carrier's signed push
(or a tracking file) of a return shipment's waybill lands on the case's timeline, once per event;
its "delivered" (signed for) is the goods' arrival: the case is `received`, to be inspected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from shopflow.core.audit import Actor
from shopflow.core.db import Database
from shopflow.fulfillment.files import TrackingRow
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.fulfillment.service import tracking
from tests.builders.aftersales import CASES, act, case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.fulfillment import add_carrier, event, push
from tests.builders.rows import audit_rows, outbox

T0 = datetime(2030, 3, 5, 1, 0, tzinfo=UTC)


async def returning_case(
    client: httpx.AsyncClient, db: Database, tracking_no: str
) -> tuple[int, dict[str, str]]:
    """An approved quality return of SKU-1, its goods sent back with SF under `tracking_no`."""
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    case = await open_case(client, agent, case_body(order_id, reason="quality"))
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "return-shipment", {"carrier": "SF", "tracking_no": tracking_no})
    return int(case["id"]), agent


async def test_the_carriers_events_land_on_the_case_and_delivery_receives_the_goods(
    client: httpx.AsyncClient, db: Database
) -> None:
    secret = await add_carrier(client, await bearer(db, "operations"), "SF")
    case_id, agent = await returning_case(client, db, "SF900001")
    on_the_way = [
        event("SF900001", "picked_up", T0, location="杭州"),
        event("SF900001", "in_transit", T0 + timedelta(hours=8), location="上海转运中心"),
    ]

    first = await push(client, "SF", secret, on_the_way)
    again = await push(client, "SF", secret, on_the_way)  # the carrier repeats itself

    assert first.status_code == 200, first.text
    assert (first.json()["stored"], again.json()["stored"], again.json()["duplicates"]) == (2, 0, 2)
    case = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert case["state"] == "awaiting_return"
    assert [(e["status"], e["location"]) for e in case["return_shipment"]["events"]] == [
        ("picked_up", "杭州"),
        ("in_transit", "上海转运中心"),
    ]

    signed = await push(client, "SF", secret, [event("SF900001", "delivered", T0 + timedelta(days=1))])

    assert signed.status_code == 200, signed.text
    case = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert case["state"] == "received"  # the warehouse inspects next
    assert case["return_shipment"]["received_at"] is not None
    trail = await audit_rows(db, "case", case_id)
    tracked = [row for row in trail if row.action == "case.tracked"]
    assert len(tracked) == 2 and all(row.actor_name == "carrier:SF" for row in tracked)
    assert [e["status"] for e in tracked[0].after["events"]] == ["picked_up", "in_transit"]
    assert [row.action for row in trail][-2:] == ["case.tracked", "case.received"]
    order_id = case["order_id"]
    assert [e.event for e in await outbox(db, f"order:{order_id}")].count("aftersales.received") == 1


async def test_a_delivery_after_the_warehouse_received_the_goods_only_shows_on_the_timeline(
    client: httpx.AsyncClient, db: Database
) -> None:
    secret = await add_carrier(client, await bearer(db, "operations"), "SF")
    case_id, agent = await returning_case(client, db, "SF900002")
    await act(client, await bearer(db, "warehouse"), case_id, "receive")

    reply = await push(client, "SF", secret, [event("SF900002", "delivered", T0)])

    assert reply.status_code == 200, reply.text
    case = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert (case["state"], [e["status"] for e in case["return_shipment"]["events"]]) == (
        "received",
        ["delivered"],
    )
    assert [row.action for row in await audit_rows(db, "case", case_id)].count("case.received") == 1


async def test_another_carriers_push_or_an_unknown_waybill_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops = await bearer(db, "operations")
    await add_carrier(client, ops, "SF")
    yto = await add_carrier(client, ops, "YTO")
    case_id, agent = await returning_case(client, db, "SF900003")

    wrong_carrier = await push(client, "YTO", yto, [event("SF900003", "delivered", T0)])
    unknown = await push(client, "YTO", yto, [event("YT000000", "delivered", T0)])

    assert (wrong_carrier.status_code, unknown.status_code) == (422, 422)
    assert wrong_carrier.json()["errors"] == [
        {"field": "events[0].waybill", "message": "no parcel 'SF900003' with YTO"}
    ]
    case = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert (case["state"], case["return_shipment"]["events"]) == ("awaiting_return", [])


async def test_a_tracking_file_reaches_the_return_too(client: httpx.AsyncClient, db: Database) -> None:
    case_id, agent = await returning_case(client, db, "SF900004")
    rows = [
        TrackingRow(2, "SF900004", TrackingStatus.AT_HUB, T0, "上海", None),
        TrackingRow(3, "SF900004", TrackingStatus.DELIVERED, T0 + timedelta(hours=3), "上海", "本人签收"),
        TrackingRow(4, "NOPE-1", TrackingStatus.DELIVERED, T0, None, None),
    ]
    clerk = Actor(user_id=None, name="import", role="operations")

    async with db.transaction() as session:
        recorded = await tracking.import_rows(session, clerk, rows)

    assert (recorded.stored, [e.row for e in recorded.errors]) == (2, [4])
    case = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert case["state"] == "received"
    assert [e["description"] for e in case["return_shipment"]["events"]] == [None, "本人签收"]
