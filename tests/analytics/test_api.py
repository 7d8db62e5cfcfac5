"""Monitoring over HTTP (ANA-3, SLA-1): the alerts people see and acknowledge, the clocks of an
order with their time left, and the customer's confirmation of receipt (ORD-7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shopflow.core import alerts, clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.lifecycle import deliver, pay, place, sweep
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def raise_alerts(db: Database, *specs: tuple[str, str]) -> None:
    """Alerts of (kind, subject), raised in this order."""
    async with db.transaction() as session:
        for n, (kind, subject) in enumerate(specs):
            await alerts.raise_alert(session, kind, subject, f"{kind} of {subject}", f"test:{n}")


async def listed(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    reply = await client.get(f"/api/v1/alerts{query}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_alerts_are_listed_newest_first_by_state_and_kind_a_page_at_a_time(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await raise_alerts(
        db,
        ("sla.breach.order.ship", "order:1"),
        ("payment_amount_mismatch", "payment:7"),
        ("sla.breach.order.ship", "order:2"),
        ("sla.breach.order.ship", "order:3"),
    )
    operations = await bearer(db, "operations")
    newest = (await listed(client, operations, "?kind=sla.breach.order.ship"))["items"][0]
    assert (await client.post(f"/api/v1/alerts/{newest['id']}/acknowledge", headers=operations)).is_success
    sales = await bearer(db, "sales")  # every role sees alerts

    page = await listed(client, sales, "?state=open&kind=sla.breach.order.ship&page=2&page_size=1")
    everything = await listed(client, sales)

    assert (page["total"], page["page"], page["page_size"]) == (2, 2, 1)
    assert [a["subject"] for a in page["items"]] == ["order:1"]
    assert [a["subject"] for a in everything["items"]] == ["order:3", "order:2", "payment:7", "order:1"]
    assert [a["subject"] for a in (await listed(client, sales, "?state=acknowledged"))["items"]] == [
        "order:3"
    ]
    assert (await client.get("/api/v1/alerts?state=closed", headers=sales)).status_code == 422


async def test_acknowledging_records_who_and_when_is_audited_and_happens_once(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await raise_alerts(db, ("sla.breach.order.ship", "order:1"))
    supervisor = await bearer(db, "cs_supervisor", username="li.supervisor")
    [alert] = (await listed(client, supervisor))["items"]
    now.advance(minutes=3)

    reply = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=supervisor)

    assert reply.status_code == 200, reply.text
    acknowledged = reply.json()
    assert acknowledged["state"] == "acknowledged"
    assert datetime.fromisoformat(acknowledged["acknowledged_at"]) == now()
    [entry] = await audit_rows(db, "alert", alert["id"])
    assert acknowledged["acknowledged_by"] == entry.actor_id is not None
    assert (entry.actor_name, entry.action) == ("li.supervisor", "alert.acknowledged")
    assert (entry.before, entry.after) == ({"state": "open"}, {"state": "acknowledged"})

    again = await client.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge", headers=await bearer(db, "manager")
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "invalid_transition"
    assert len(await audit_rows(db, "alert", alert["id"])) == 1
    assert (await listed(client, supervisor))["items"][0]["acknowledged_by"] == entry.actor_id


async def test_only_staff_who_handle_alerts_may_acknowledge_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    await raise_alerts(db, ("sla.breach.order.ship", "order:1"))
    sales = await bearer(db, "sales")
    [alert] = (await listed(client, sales))["items"]

    refused = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=sales)
    missing = await client.post("/api/v1/alerts/999999/acknowledge", headers=await bearer(db, "warehouse"))
    anonymous = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge")

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (missing.status_code, missing.json()["code"]) == (404, "alert_not_found")
    assert anonymous.status_code == 401
    assert (await listed(client, sales))["items"][0]["state"] == "open"


async def test_an_order_s_clocks_show_their_state_deadline_and_time_left(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    now.advance(minutes=10)
    await pay(db, order_id)
    now.advance(hours=2)
    warehouse = await bearer(db, "warehouse")

    reply = await client.get(f"/api/v1/sla?subject=order:{order_id}", headers=warehouse)

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["subject"] == f"order:{order_id}"
    assert datetime.fromisoformat(body["at"]) == now()
    pay_clock, ship_clock = body["clocks"]
    assert (pay_clock["kind"], pay_clock["state"], pay_clock["seconds_left"]) == ("order.pay", "met", None)
    assert datetime.fromisoformat(pay_clock["deadline"]) == START.replace(minute=30)
    assert (ship_clock["kind"], ship_clock["state"]) == ("order.ship", "running")
    assert datetime.fromisoformat(ship_clock["deadline"]) == START.replace(minute=10).replace(day=3)
    assert ship_clock["seconds_left"] == (48 - 2) * 3600  # ORD-6: 48 hours from payment

    now.advance(hours=47)
    await sweep(db)
    [_, breached] = (await client.get(f"/api/v1/sla?subject=order:{order_id}", headers=warehouse)).json()[
        "clocks"
    ]
    assert (breached["state"], breached["seconds_left"]) == ("breached", None)
    assert datetime.fromisoformat(breached["breached_at"]) == now()


async def test_clocks_are_asked_for_by_a_well_formed_subject(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "finance")

    unknown = await client.get("/api/v1/sla?subject=order:424242", headers=headers)
    malformed = await client.get("/api/v1/sla?subject=orders 42", headers=headers)
    absent = await client.get("/api/v1/sla", headers=headers)

    assert (unknown.status_code, unknown.json()["clocks"]) == (200, [])
    assert [e["field"] for e in malformed.json()["errors"]] == ["subject"]
    assert (malformed.status_code, absent.status_code) == (422, 422)


async def test_the_customer_confirms_receipt_of_a_delivered_order_once(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await deliver(db, order_id)
    now.advance(days=2)
    agent = await bearer(db, "customer_service", username="wang.agent")

    reply = await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)

    assert reply.status_code == 200, reply.text
    order = reply.json()
    assert order["status"] == "completed"
    assert order["history"][-1] == {
        "at": now().isoformat().replace("+00:00", "Z"),
        "actor": "wang.agent",
        "action": "order.completed",
        "from_status": "delivered",
        "to_status": "completed",
        "reason": "receipt_confirmed",
    }
    clocks = (await client.get(f"/api/v1/sla?subject=order:{order_id}", headers=agent)).json()["clocks"]
    assert {c["kind"]: c["state"] for c in clocks}["order.receipt"] == "met"
    assert {c["kind"]: c["state"] for c in clocks}["order.aftersales"] == "running"

    again = await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


async def test_receipt_cannot_be_confirmed_before_delivery_nor_by_the_warehouse(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    order_id = await place(db)
    sales = await bearer(db, "sales")

    early = await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=sales)
    warehouse = await client.post(
        f"/api/v1/orders/{order_id}/confirm-receipt", headers=await bearer(db, "warehouse")
    )
    missing = await client.post("/api/v1/orders/424242/confirm-receipt", headers=sales)

    assert (early.status_code, early.json()["code"]) == (409, "invalid_transition")
    assert (warehouse.status_code, missing.status_code) == (403, 404)
    detail = (await client.get(f"/api/v1/orders/{order_id}", headers=sales)).json()
    assert detail["status"] == "confirmed"
