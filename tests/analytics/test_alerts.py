"""Alerts that scale (ANA-3) over HTTP: filtered by kind, owner, state and age; resolved by hand
with a note or by the event that ends their cause; acknowledged in bulk (selected or all matching
a filter) by who may handle their kind; told to their owner once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from shopflow.core import alerts, policy
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from tests.analytics import test_api
from tests.builders.auth import bearer
from tests.builders.lifecycle import clocks, pay, place, ship, sweep
from tests.builders.rows import alerts_for, audit_rows
from tests.builders.store import small_store

START = test_api.START
now = test_api.now  # the fake clock at START, as test_api has it
SHIP_LATE = "sla.breach.order.ship"
MISMATCH = "payment_amount_mismatch"


async def raise_alert(db: Database, kind: str, subject: str) -> int:
    async with db.transaction() as session:
        await alerts.raise_alert(session, kind, subject, f"{kind} of {subject}", f"test:{kind}:{subject}")
        found = await session.scalar(select(alerts.Alert.id).where(alerts.Alert.subject == subject))
    assert found is not None
    return found


async def listed(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    reply = await client.get(f"/api/v1/alerts{query}", headers=headers)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


def subjects(items: list[dict[str, Any]]) -> list[str]:
    return [item["subject"] for item in items]


async def test_alerts_are_filtered_by_kind_owner_state_and_age(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await raise_alert(db, SHIP_LATE, "order:1")
    now.advance(minutes=30)
    await raise_alert(db, MISMATCH, "payment:2")
    now.advance(minutes=30)
    resolved = await raise_alert(db, SHIP_LATE, "order:3")
    admin = await bearer(db, "admin")
    assert (
        await client.post(f"/api/v1/alerts/{resolved}/resolve", json={"note": "ok"}, headers=admin)
    ).is_success
    now.advance(minutes=5)
    sales = await bearer(db, "sales")

    assert subjects(await listed(client, sales, f"?kind={SHIP_LATE}")) == ["order:3", "order:1"]
    assert subjects(await listed(client, sales, "?owner=finance")) == ["payment:2"]
    assert subjects(await listed(client, sales, "?owner=operations&state=open")) == ["order:1"]
    assert subjects(await listed(client, sales, "?state=resolved")) == ["order:3"]
    assert subjects(await listed(client, sales, "?older_than_minutes=35")) == ["payment:2", "order:1"]
    assert subjects(await listed(client, sales, "?older_than_minutes=60")) == ["order:1"]
    since = (START + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    assert subjects(await listed(client, sales, f"?since={since}")) == ["order:3", "payment:2"]
    [first] = await listed(client, sales, "?owner=finance")
    assert (first["owner"], first["message"], first["resolved_at"]) == (
        "finance",
        f"{MISMATCH} of payment:2",
        None,
    )
    bad = await client.get("/api/v1/alerts?older_than_minutes=0&since=yesterday", headers=sales)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"older_than_minutes", "since"}


async def test_an_alert_is_resolved_by_hand_with_a_note_once_audited_by_who_may(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    alert_id = await raise_alert(db, MISMATCH, "payment:9")
    finance = await bearer(db, "finance", username="zhou.finance")
    warehouse = await bearer(db, "warehouse")
    now.advance(minutes=7)

    refused = await client.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "x"}, headers=warehouse)
    blank = await client.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": ""}, headers=finance)
    reply = await client.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"note": "the gateway corrected it"}, headers=finance
    )
    again = await client.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "twice"}, headers=finance)

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (blank.status_code, [e["field"] for e in blank.json()["errors"]]) == (422, ["note"])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["state"], body["resolution_note"]) == ("resolved", "the gateway corrected it")
    assert datetime.fromisoformat(body["resolved_at"]) == now()
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    [entry] = await audit_rows(db, "alert", alert_id)
    assert (entry.actor_name, entry.action, entry.before) == (
        "zhou.finance",
        "alert.resolved",
        {"state": "open"},
    )
    assert entry.after == {"state": "resolved", "note": "the gateway corrected it"}
    assert body["resolved_by"] == entry.actor_id


async def test_bulk_acknowledge_takes_the_selected_open_alerts_and_says_how_many(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = await raise_alert(db, SHIP_LATE, "order:1")
    second = await raise_alert(db, SHIP_LATE, "order:2")
    done = await raise_alert(db, SHIP_LATE, "order:3")
    untouched = await raise_alert(db, SHIP_LATE, "order:4")
    operations = await bearer(db, "operations", username="chen.ops")
    assert (await client.post(f"/api/v1/alerts/{done}/acknowledge", headers=operations)).is_success

    reply = await client.post(
        "/api/v1/alerts/acknowledge", json={"ids": [first, second, done]}, headers=operations
    )

    assert (reply.status_code, reply.json()) == (200, {"acknowledged": 2})
    states = {a["id"]: a["state"] for a in await listed(client, operations, "?page_size=10")}
    assert states == {first: "acknowledged", second: "acknowledged", done: "acknowledged", untouched: "open"}
    for alert_id in (first, second):
        [entry] = await audit_rows(db, "alert", alert_id)
        assert (entry.actor_name, entry.action, entry.before, entry.after) == (
            "chen.ops",
            "alert.acknowledged",
            {"state": "open"},
            {"state": "acknowledged"},
        )


async def test_bulk_acknowledge_of_a_kind_the_role_may_not_handle_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    late = await raise_alert(db, SHIP_LATE, "order:1")
    mismatch = await raise_alert(db, MISMATCH, "payment:2")
    warehouse = await bearer(db, "warehouse")

    by_ids = await client.post(
        "/api/v1/alerts/acknowledge", json={"ids": [late, mismatch]}, headers=warehouse
    )
    by_kind = await client.post(
        "/api/v1/alerts/acknowledge", json={"filter": {"kind": MISMATCH}}, headers=warehouse
    )
    sales = await client.post(
        "/api/v1/alerts/acknowledge", json={"ids": [late]}, headers=await bearer(db, "sales")
    )
    neither = await client.post("/api/v1/alerts/acknowledge", json={}, headers=warehouse)

    assert [by_ids.status_code, by_kind.status_code, sales.status_code] == [403, 403, 403]
    assert by_ids.json()["code"] == "forbidden"
    assert neither.status_code == 422
    assert {a["state"] for a in await listed(client, warehouse)} == {"open"}
    assert await audit_rows(db, "alert", late) == []


async def test_bulk_acknowledge_by_filter_takes_every_open_match_of_the_kinds_the_role_handles(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    old = await raise_alert(db, SHIP_LATE, "order:1")
    old_mismatch = await raise_alert(db, MISMATCH, "payment:1")
    now.advance(hours=2)
    await raise_alert(db, SHIP_LATE, "order:2")
    operations = await bearer(db, "operations")
    matching = {"filter": {"owner": "operations", "older_than_minutes": 60}}

    first = await client.post("/api/v1/alerts/acknowledge", json=matching, headers=operations)
    repeat = await client.post("/api/v1/alerts/acknowledge", json=matching, headers=operations)
    aged = await client.post(
        "/api/v1/alerts/acknowledge", json={"filter": {"older_than_minutes": 60}}, headers=operations
    )

    assert (first.status_code, first.json(), repeat.json()) == (200, {"acknowledged": 1}, {"acknowledged": 0})
    # Without a kind, the filter takes only the kinds operations may handle: not the payment one.
    assert aged.json() == {"acknowledged": 0}
    states = {a["id"]: a["state"] for a in await listed(client, operations)}
    assert (states[old], states[old_mismatch]) == ("acknowledged", "open")
    assert sorted(a["state"] for a in await listed(client, operations)) == ["acknowledged", "open", "open"]


async def test_a_breach_alert_goes_to_its_owner_once_and_resolves_when_the_late_step_happens(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await pay(db, order_id)
    now.advance(hours=49)  # ORD-6: 48 hours to ship

    await sweep(db)
    await sweep(db)

    [alert] = await alerts_for(db, f"order:{order_id}")
    assert (alert.kind, alert.owner, alert.state) == (SHIP_LATE, "operations", "open")
    async with db.transaction() as session:
        told = (await session.scalars(select(OutboxEvent).where(OutboxEvent.event == "alert.raised"))).all()
    assert [(e.subject, e.payload["owner"], e.payload["kind"]) for e in told] == [
        (f"alert:{alert.id}", "operations", SHIP_LATE)
    ]

    now.advance(hours=1)
    await ship(db, order_id)

    [resolved] = await alerts_for(db, f"order:{order_id}")
    assert (resolved.state, resolved.resolved_at, resolved.resolved_by) == ("resolved", now(), None)
    assert resolved.resolution_note == "the late step happened"
    assert (await clocks(db, order_id))["order.ship"].state == "breached"
    [entry] = await audit_rows(db, "alert", alert.id)
    assert (entry.actor_name, entry.before, entry.after["state"]) == ("system", {"state": "open"}, "resolved")


async def test_a_policy_owner_of_a_kind_owns_the_alerts_raised_after_it(db: Database, now: FakeClock) -> None:
    policy.install(policy.validate({"alerts": {"owners": {SHIP_LATE: "user:wang.ops"}}}))
    await raise_alert(db, SHIP_LATE, "order:5")
    [alert] = await alerts_for(db, "order:5")
    assert alert.owner == "user:wang.ops"


async def test_an_alert_raised_again_is_stored_and_told_to_its_owner_once(db: Database) -> None:
    first = await raise_alert(db, MISMATCH, "payment:3")
    again = await raise_alert(db, MISMATCH, "payment:3")  # the gateway replays its callback

    async with db.transaction() as session:
        told = (await session.scalars(select(OutboxEvent).where(OutboxEvent.event == "alert.raised"))).all()
    assert first == again
    assert [(e.subject, e.payload["owner"]) for e in told] == [(f"alert:{first}", "finance")]
