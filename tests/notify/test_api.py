"""Webhook subscribers and the delivery log through the HTTP API (NTF-1, STF-1, AUD-1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shopflow.core import policy
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.settings import get_settings
from tests.builders.auth import bearer
from tests.builders.notify import Receiver, add_webhook, free_port, record_event, sweep
from tests.builders.rows import audit_rows
from tests.notify.conftest import Outside

HOOK = {"url": "https://erp.example.cn/hooks/shopflow", "events": ["order.*", "payment.refund_requested"]}


async def create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    reply = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def test_operations_subscribe_list_and_delete_a_webhook(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops = await bearer(db, "operations")
    created = await create(client, ops, HOOK)
    assert (created["url"], created["events"]) == (HOOK["url"], HOOK["events"])
    assert len(created["secret"]) >= 32  # drawn by Shopflow, shown this once

    listed = (await client.get("/api/v1/webhooks", headers=ops)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == created["id"]
    assert "secret" not in listed["items"][0]

    assert (await client.delete(f"/api/v1/webhooks/{created['id']}", headers=ops)).status_code == 204
    assert (await client.get("/api/v1/webhooks", headers=ops)).json()["total"] == 0
    again = await client.delete(f"/api/v1/webhooks/{created['id']}", headers=ops)
    assert (again.status_code, again.json()["code"]) == (404, "webhook_not_found")

    trail = await audit_rows(db, "webhook", created["id"])
    assert [row.action for row in trail] == ["webhook.created", "webhook.deleted"]
    assert created["secret"] not in json.dumps([row.after for row in trail] + [row.before for row in trail])


async def test_a_secret_given_by_the_subscriber_is_kept(client: httpx.AsyncClient, db: Database) -> None:
    created = await create(client, await bearer(db, "admin"), {**HOOK, "secret": "s" * 24})
    assert created["secret"] == "s" * 24


@pytest.mark.parametrize("role", ["sales", "warehouse", "customer_service", "finance", "manager"])
async def test_other_roles_may_not_manage_webhooks(
    client: httpx.AsyncClient, db: Database, role: str
) -> None:
    headers = await bearer(db, role)
    assert (await client.post("/api/v1/webhooks", json=HOOK, headers=headers)).status_code == 403
    assert (await client.get("/api/v1/webhooks", headers=headers)).status_code == 403
    assert (await client.delete("/api/v1/webhooks/1", headers=headers)).status_code == 403


async def test_webhooks_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/webhooks", json=HOOK)).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://files.example.cn/drop"}, "url"),
        ({"url": "https://" + "a" * 500 + ".cn/"}, "url"),
        ({"url": "https://erp.example.cn/", "events": []}, "events"),
        ({"url": "https://erp.example.cn/", "events": ["Order Shipped"]}, "events[0]"),
        ({"url": "https://erp.example.cn/", "events": ["order.*.paid"]}, "events[0]"),
        ({"url": "https://erp.example.cn/", "secret": "short"}, "secret"),
    ],
)
async def test_a_bad_subscription_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str
) -> None:
    headers = await bearer(db, "operations")
    reply = await client.post("/api/v1/webhooks", json=body, headers=headers)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in reply.json()["errors"]]
    assert (await client.get("/api/v1/webhooks", headers=headers)).json()["total"] == 0


async def test_the_delivery_log_lists_attempts_and_a_dead_delivery_can_be_retried(
    client: httpx.AsyncClient, db: Database, outside: Outside, now: FakeClock
) -> None:
    policy.install(policy.validate({"notify": {"max_attempts": 2, "backoff_seconds": 1}}))
    async with Receiver(default=500) as failing, Receiver() as working:
        await add_webhook(db, failing.url)
        await add_webhook(db, working.url)
        await record_event(db)
        await sweep(db)
        ops = await bearer(db, "operations", username="ops-li")

        listed = (await client.get("/api/v1/notifications/deliveries", headers=ops)).json()
        assert (listed["total"], listed["page"], listed["page_size"]) == (2, 1, 50)
        by_url = {item["recipient"]: item for item in listed["items"]}
        failed, sent = by_url[failing.url], by_url[working.url]
        assert (failed["state"], failed["failures"], failed["last_error"]) == ("pending", 1, "HTTP 500")
        assert [(a["ok"], a["status_code"], a["error"]) for a in failed["attempts"]] == [
            (False, 500, "HTTP 500")
        ]
        assert (sent["state"], [a["status_code"] for a in sent["attempts"]]) == ("delivered", [200])
        assert failed["idempotency_id"] == failing.ids()[0]

        early = await client.post(f"/api/v1/notifications/deliveries/{failed['id']}/retry", headers=ops)
        assert (early.status_code, early.json()["code"]) == (409, "invalid_transition")  # still queued

        now.advance(seconds=1)
        await sweep(db)
        dead = (await client.get("/api/v1/notifications/deliveries?state=dead", headers=ops)).json()
        assert [(item["id"], len(item["attempts"])) for item in dead["items"]] == [(failed["id"], 2)]

        failing.default = 200
        retried = await client.post(f"/api/v1/notifications/deliveries/{failed['id']}/retry", headers=ops)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["state"], retried.json()["failures"]) == ("pending", 0)
        await sweep(db)
        assert failing.ids() == [failed["idempotency_id"]] * 3

    done = (await client.get("/api/v1/notifications/deliveries?state=delivered", headers=ops)).json()
    assert done["total"] == 2
    trail = await audit_rows(db, "notification_delivery", failed["id"])
    assert [(row.action, row.actor_name) for row in trail] == [
        ("notification.dead", "system"),
        ("notification.requeued", "ops-li"),
        ("notification.delivered", "system"),
    ]


async def test_deliveries_filter_by_state_and_channel_and_page(
    client: httpx.AsyncClient, db: Database, outside: Outside
) -> None:
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        for n in range(3):
            await record_event(db, subject=f"order:{n}")
        await sweep(db)
    headers = await bearer(db, "cs_supervisor")

    page = (await client.get("/api/v1/notifications/deliveries?page=2&page_size=2", headers=headers)).json()
    assert (page["total"], page["page"], len(page["items"])) == (3, 2, 1)
    webhooks = await client.get(
        "/api/v1/notifications/deliveries?channel=webhook&state=delivered", headers=headers
    )
    assert webhooks.json()["total"] == 3
    emails = await client.get("/api/v1/notifications/deliveries?channel=email", headers=headers)
    assert emails.json()["total"] == 0
    one = await client.get("/api/v1/notifications/deliveries?q=order:1", headers=headers)
    assert [d["subject"] for d in one.json()["items"]] == ["order:1"]
    completed = await client.get("/api/v1/notifications/deliveries?event=order.*", headers=headers)
    assert completed.json()["total"] == 3
    other_events = await client.get("/api/v1/notifications/deliveries?event=payment.*", headers=headers)
    assert other_events.json()["total"] == 0
    bad = await client.get("/api/v1/notifications/deliveries?state=lost", headers=headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "state")


async def test_the_delivery_log_and_retry_are_for_their_roles_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales = await bearer(db, "sales")
    assert (await client.get("/api/v1/notifications/deliveries", headers=sales)).status_code == 403
    supervisor = await bearer(db, "cs_supervisor")
    reply = await client.post("/api/v1/notifications/deliveries/1/retry", headers=supervisor)
    assert reply.status_code == 403
    missing = await client.post(
        "/api/v1/notifications/deliveries/999999/retry", headers=await bearer(db, "admin")
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "delivery_not_found")


async def test_an_unreachable_subscriber_is_logged_with_the_error(
    client: httpx.AsyncClient, db: Database, outside: Outside
) -> None:
    await add_webhook(db, f"http://127.0.0.1:{free_port()}/nobody-listens")
    await record_event(db)
    await sweep(db)
    listed = (
        await client.get("/api/v1/notifications/deliveries", headers=await bearer(db, "manager"))
    ).json()
    [attempt] = listed["items"][0]["attempts"]
    assert attempt["ok"] is False and attempt["status_code"] is None
    assert attempt["error"].startswith("ConnectError")


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Turns on the default, no webhooks into private networks (the test run allows them)."""

    def on() -> None:
        monkeypatch.setenv("SHOPFLOW_WEBHOOK_ALLOW_PRIVATE", "false")
        get_settings.cache_clear()

    yield on
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/hook",
    ],
)
async def test_a_subscriber_in_a_private_network_is_refused_by_default(
    client: httpx.AsyncClient, db: Database, guard: Callable[[], None], url: str
) -> None:
    guard()
    headers = await bearer(db, "operations")
    reply = await client.post("/api/v1/webhooks", json={**HOOK, "url": url}, headers=headers)
    assert reply.status_code == 422, reply.text
    [error] = reply.json()["errors"]
    assert error["field"] == "url" and "non-public address" in error["message"]
    assert (await client.get("/api/v1/webhooks", headers=headers)).json()["total"] == 0


async def test_a_subscriber_that_now_resolves_into_a_private_network_gets_nothing(
    client: httpx.AsyncClient, db: Database, outside: Outside, guard: Callable[[], None]
) -> None:
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)  # subscribed while allowed (or its name moved since)
        guard()
        await record_event(db)
        await sweep(db)
        assert receiver.received == []
    listed = (
        await client.get("/api/v1/notifications/deliveries", headers=await bearer(db, "manager"))
    ).json()
    [delivery] = listed["items"]
    [attempt] = delivery["attempts"]
    assert (delivery["state"], attempt["ok"]) == ("pending", False)
    assert attempt["error"] == f"{receiver.url} resolves to the non-public address 127.0.0.1"
