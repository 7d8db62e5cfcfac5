"""Payments through the HTTP API and the sandbox gateway (PAY-1, PAY-2, PAY-5, ORD-3, AUD-1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shopflow.core import clock, money
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.payments import refunds, sandbox
from tests.builders.auth import bearer
from tests.builders.inventory import receive
from tests.builders.lifecycle import sweep
from tests.builders.orders import order_body
from tests.builders.payments import (
    callbacks,
    deliver,
    gateway,
    place_order,
    signed_callback,
    start_payment,
)
from tests.builders.rows import alerts_for, audit_rows, counts, outbox
from tests.builders.store import small_store

START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sales(db: Database) -> dict[str, str]:
    await small_store(db)
    return await bearer(db, "sales")


@pytest.fixture
async def admin(db: Database) -> dict[str, str]:
    """Who may let the sandbox gateway complete a payment (`payments.sandbox.complete`)."""
    return await bearer(db, "admin")


async def order_status(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> str:
    reply = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["status"])


async def payment(client: httpx.AsyncClient, headers: dict[str, str], payment_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/payments/{payment_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def receipts(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    reply = await client.get("/api/v1/payments/receipts", headers=await bearer(db, "finance"))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def refund_sweep(db: Database) -> None:
    """The worker's sweep refunding cancelled orders' captured payments (PAY-3)."""
    async with db.transaction() as session:
        await refunds.refund_cancelled_orders(session)


async def pending_payment(
    client: httpx.AsyncClient, headers: dict[str, str], lines: list[tuple[str, int, str]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await place_order(client, headers, lines)
    return order, await start_payment(client, headers, order["id"])


async def test_starting_a_payment_opens_a_pending_payment_for_the_order_total(
    client: httpx.AsyncClient, sales: dict[str, str]
) -> None:
    order = await place_order(client, sales, [("SKU-2", 1, "45.50"), ("SKU-3", 2, "12.00")])

    started = await start_payment(client, sales, order["id"], "wechat")

    assert started["status"] == "pending"
    assert started["amount"] == order["totals"]["total"]
    assert started["pay_url"].endswith(f"/api/v1/sandbox/payments/{started['payment_id']}/complete")
    stored = await payment(client, sales, started["payment_id"])
    assert (stored["order_id"], stored["method"], stored["status"]) == (order["id"], "wechat", "pending")
    assert await order_status(client, sales, order["id"]) == "confirmed"


async def test_success_callback_pays_the_order_and_records_one_receipt(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales, [("SKU-1", 2, "99.00")])

    result = await gateway(client, admin, started["payment_id"], "success")

    assert [(d["status_code"], d["body"]["result"]) for d in result["deliveries"]] == [(200, "applied")]
    assert (await payment(client, sales, started["payment_id"]))["status"] == "succeeded"
    detail = (await client.get(f"/api/v1/orders/{order['id']}", headers=sales)).json()
    assert detail["status"] == "paid" and detail["paid_at"] is not None
    assert ("confirmed", "paid", "system") in [
        (h["from_status"], h["to_status"], h["actor"]) for h in detail["history"]
    ]
    ledger = await receipts(client, db)
    assert ledger["total"] == 1
    [receipt] = ledger["items"]
    # PAY-5: amount, method and order of the money received.
    assert (receipt["payment_id"], receipt["order_id"], receipt["method"], receipt["amount"]) == (
        started["payment_id"],
        order["id"],
        "alipay",
        "198.00",
    )
    assert [e.event for e in await outbox(db, f"order:{order['id']}")] == ["order.confirmed", "order.paid"]


async def test_failure_leaves_the_order_confirmed_and_a_later_success_is_accepted(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)

    failed = await gateway(client, admin, started["payment_id"], "failure")

    assert failed["deliveries"][0]["body"]["result"] == "applied"
    assert (await payment(client, sales, started["payment_id"]))["status"] == "failed"
    assert await order_status(client, sales, order["id"]) == "confirmed"
    assert (await receipts(client, db))["total"] == 0

    retried = await gateway(client, admin, started["payment_id"], "success")

    assert retried["deliveries"][0]["body"]["result"] == "applied"
    assert (await payment(client, sales, started["payment_id"]))["status"] == "succeeded"
    assert await order_status(client, sales, order["id"]) == "paid"
    assert (await receipts(client, db))["total"] == 1


async def test_a_gateway_delivering_the_same_callback_twice_changes_things_once(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)

    result = await gateway(client, admin, started["payment_id"], "success", deliveries=2)

    assert [(d["status_code"], d["body"]["result"]) for d in result["deliveries"]] == [
        (200, "applied"),
        (200, "duplicate"),
    ]
    assert await order_status(client, sales, order["id"]) == "paid"
    assert (await receipts(client, db))["total"] == 1
    trail = await audit_rows(db, "payment", started["payment_id"])
    assert [row.action for row in trail] == ["payment.started", "payment.succeeded"]
    order_trail = await audit_rows(db, "order", order["id"])
    assert [row.action for row in order_trail].count("order.paid") == 1
    assert len(await callbacks(db, started["payment_id"])) == 1


async def test_replaying_a_signed_callback_is_acknowledged_as_duplicate_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)
    body, headers = signed_callback(started["payment_id"], "success", money.parse(started["amount"]))

    first = await deliver(client, body, headers)
    after_first = await counts(db)
    replay = await deliver(client, body, headers)

    assert first.status_code == 200 and first.json()["result"] == "applied"
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"event_id": json.loads(body)["event_id"], "result": "duplicate"}
    assert await counts(db) == after_first
    assert after_first["payment_receipts"] == 1
    assert await order_status(client, sales, order["id"]) == "paid"


async def test_a_failure_arriving_after_the_success_is_ignored(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)
    await gateway(client, admin, started["payment_id"], "success")
    trail_before = await audit_rows(db, "payment", started["payment_id"])

    late = await gateway(client, admin, started["payment_id"], "failure")

    assert [(d["status_code"], d["body"]["result"]) for d in late["deliveries"]] == [(200, "ignored")]
    assert (await payment(client, sales, started["payment_id"]))["status"] == "succeeded"
    assert await order_status(client, sales, order["id"]) == "paid"
    assert len(await audit_rows(db, "payment", started["payment_id"])) == len(trail_before)
    assert (await receipts(client, db))["total"] == 1
    # The late failure is still on record (it is not mistaken for a replay of the success).
    assert [(c.outcome, c.result) for c in await callbacks(db, started["payment_id"])] == [
        ("success", "applied"),
        ("failure", "ignored"),
    ]


def _tampered_signature(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    signature = headers[sandbox.SIGNATURE_HEADER]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return body, {**headers, sandbox.SIGNATURE_HEADER: flipped}


def _body_changed_after_signing(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    payload = json.loads(body)
    payload["outcome"] = "failure"
    return json.dumps(payload, separators=(",", ":")).encode(), headers


def _header_missing(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return body, {k: v for k, v in headers.items() if k != sandbox.SIGNATURE_HEADER}


def _signed_with_another_key(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return body, {**headers, sandbox.SIGNATURE_HEADER: sandbox.sign(body, b"not-the-shop-secret")}


@pytest.mark.parametrize(
    "forge",
    [_tampered_signature, _body_changed_after_signing, _header_missing, _signed_with_another_key],
)
async def test_a_callback_that_does_not_verify_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], forge: Any
) -> None:
    order, started = await pending_payment(client, sales)
    before = await counts(db)
    body, headers = forge(*signed_callback(started["payment_id"], "success", money.parse(started["amount"])))

    reply = await deliver(client, body, headers)

    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "bad_signature"
    assert await counts(db) == before
    assert await callbacks(db, started["payment_id"]) == []
    assert (await payment(client, sales, started["payment_id"]))["status"] == "pending"
    assert await order_status(client, sales, order["id"]) == "confirmed"


async def test_an_amount_mismatch_is_rejected_alerted_and_recorded(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)
    assert started["amount"] != "1.00"

    result = await gateway(client, admin, started["payment_id"], "success", amount="1.00", deliveries=2)

    # A retrying gateway is told "rejected" each time; only one alert and one record exist.
    assert [d["status_code"] for d in result["deliveries"]] == [422, 422]
    delivery = result["deliveries"][0]
    assert delivery["body"]["code"] == "amount_mismatch"
    assert [e["field"] for e in delivery["body"]["errors"]] == ["amount"]
    assert (await payment(client, sales, started["payment_id"]))["status"] == "pending"
    assert await order_status(client, sales, order["id"]) == "confirmed"
    assert (await receipts(client, db))["total"] == 0
    [alert] = await alerts_for(db, f"payment:{started['payment_id']}")
    assert alert.kind == "payment_amount_mismatch"
    assert "1.00" in alert.message and started["amount"] in alert.message
    [callback] = await callbacks(db, started["payment_id"])
    assert (callback.event_id, callback.result, callback.amount) == (
        result["event_id"],
        "amount_mismatch",
        100,
    )

    # The rejection does not spoil the payment: the right amount is still accepted afterwards.
    right = await gateway(client, admin, started["payment_id"], "success")
    assert right["deliveries"][0]["body"]["result"] == "applied"
    assert await order_status(client, sales, order["id"]) == "paid"


async def test_a_cancelled_order_cannot_take_a_payment(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str]
) -> None:
    order = await place_order(client, sales)
    cancel = await client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "customer changed mind"},
        headers=await bearer(db, "customer_service"),
    )
    assert cancel.status_code == 200, cancel.text
    before = await counts(db)

    reply = await client.post(
        f"/api/v1/orders/{order['id']}/payments", json={"method": "alipay"}, headers=sales
    )

    assert reply.status_code == 409, reply.text
    assert reply.json()["code"] == "invalid_transition"
    assert await counts(db) == before
    listed = (await client.get(f"/api/v1/orders/{order['id']}/payments", headers=sales)).json()
    assert (listed["items"], listed["total"]) == ([], 0)


async def test_money_captured_for_an_order_cancelled_meanwhile_is_kept_alerted_and_refunded(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    order, started = await pending_payment(client, sales)
    cancel = await client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "out of patience"},
        headers=await bearer(db, "customer_service"),
    )
    assert cancel.status_code == 200, cancel.text

    result = await gateway(client, admin, started["payment_id"], "success")

    assert [(d["status_code"], d["body"]["result"]) for d in result["deliveries"]] == [
        (200, "order_not_payable")
    ]
    assert (await payment(client, sales, started["payment_id"]))["status"] == "succeeded"
    assert await order_status(client, sales, order["id"]) == "cancelled"
    [alert] = await alerts_for(db, f"order:{order['id']}")
    assert (alert.kind, alert.message.endswith("the cancel sweep refunds it")) == (
        "payment_for_unpayable_order",
        True,
    )
    await refund_sweep(db)
    await refund_sweep(db)  # once
    ledger = (await client.get(f"/api/v1/payments/{started['payment_id']}/refunds", headers=admin)).json()
    assert [(r["amount"], r["status"]) for r in ledger["items"]] == [("99.00", "pending")]
    # PAY-5: the money did arrive, so it is in the receipts ledger (and the refund will balance it).
    assert (await receipts(client, db))["total"] == 1


async def test_a_second_payment_of_a_paid_order_is_refunded_at_once_through_the_ledger(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    """PAY-3: the customer paid twice (two payment pages open); the second capture goes back, once."""
    order, first = await pending_payment(client, sales)
    second = await start_payment(client, sales, order["id"], "wechat")
    await gateway(client, admin, first["payment_id"], "success")

    result = await gateway(client, admin, second["payment_id"], "success", deliveries=2)

    assert [d["body"]["result"] for d in result["deliveries"]] == ["order_not_payable", "duplicate"]
    assert await order_status(client, sales, order["id"]) == "paid"
    ledger = (await client.get(f"/api/v1/payments/{second['payment_id']}/refunds", headers=admin)).json()
    assert [(r["amount"], r["status"]) for r in ledger["items"]] == [("99.00", "pending")]
    assert ledger["refundable"] == "0.00"
    untouched = (await client.get(f"/api/v1/payments/{first['payment_id']}/refunds", headers=admin)).json()
    assert untouched["items"] == []
    [alert] = await alerts_for(db, f"order:{order['id']}")
    assert alert.message.endswith(f"refund {ledger['items'][0]['id']} is pending")


async def detail(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def clocks(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    reply = await client.get("/api/v1/sla", params={"subject": f"order:{order_id}"}, headers=headers)
    assert reply.status_code == 200, reply.text
    return {found["kind"]: found for found in reply.json()["clocks"]}


async def refund_requests(db: Database, order_id: int) -> list[Any]:
    return [e for e in await outbox(db, f"order:{order_id}") if e.event == "payment.refund_requested"]


async def test_a_stock_shortage_or_risk_hold_takes_a_payment_and_keeps_both(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    """ORD-3: money captured during a hold is kept: the order stays held and remembers it is
    paid; nothing is refunded or alerted, and it takes no second payment."""
    manager = await bearer(db, "manager")
    short = await client.post("/api/v1/orders", json=order_body([("SKU-1", 16, "99.00")]), headers=sales)
    assert (short.json()["status"], short.json()["hold_reason"]) == ("on_hold", "stock_shortage")
    flagged = await place_order(client, sales)
    held = await client.post(
        f"/api/v1/orders/{flagged['id']}/hold", json={"reason": "risk_review"}, headers=manager
    )
    assert held.json()["status"] == "on_hold"

    for order_id, reason in ((short.json()["id"], "stock_shortage"), (flagged["id"], "risk_review")):
        started = await start_payment(client, sales, order_id)
        result = await gateway(client, admin, started["payment_id"], "success")

        assert [(d["status_code"], d["body"]["result"]) for d in result["deliveries"]] == [(200, "applied")]
        shown = await detail(client, sales, order_id)
        assert (shown["status"], shown["hold_reason"]) == ("on_hold", reason)
        assert shown["paid_at"] is not None
        assert shown["history"][-1]["action"] == "order.paid_on_hold"
        assert await alerts_for(db, f"order:{order_id}") == []
        assert await refund_requests(db, order_id) == []
        again = await client.post(
            f"/api/v1/orders/{order_id}/payments", json={"method": "alipay"}, headers=sales
        )
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "invalid_transition"
    assert (await receipts(client, db))["total"] == 2  # PAY-5: the money is on the ledger


async def test_a_held_order_paid_during_the_hold_is_released_paid_with_its_ship_clock_from_release(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    """ORD-3, ORD-5, ORD-6: the pay clock stops at the capture, the 48-hour ship clock starts at
    the release, and the unpaid-order sweep never cancels the order."""
    manager = await bearer(db, "manager")
    fake = FakeClock(START)
    with clock.use(fake):
        order, started = await pending_payment(client, sales)
        await client.post(
            f"/api/v1/orders/{order['id']}/hold", json={"reason": "risk_review"}, headers=manager
        )
        fake.advance(minutes=10)
        captured_at = fake()
        await gateway(client, admin, started["payment_id"], "success")
        fake.advance(hours=2)  # the review takes far longer than the 30 minutes to pay
        assert await sweep(db) == 0
        released_at = fake()

        released = await client.post(f"/api/v1/orders/{order['id']}/release", json={}, headers=manager)

        assert released.status_code == 200, released.text
        shown = released.json()
        assert (shown["status"], shown["hold_reason"]) == ("paid", None)
        assert datetime.fromisoformat(shown["paid_at"]) == captured_at
        found = await clocks(client, sales, order["id"])
        assert found["order.pay"]["state"] == "met"
        assert datetime.fromisoformat(found["order.pay"]["stopped_at"]) == captured_at
        assert found["order.ship"]["state"] == "running"
        assert datetime.fromisoformat(found["order.ship"]["deadline"]) == released_at + timedelta(hours=48)
        paid = [e for e in await outbox(db, f"order:{order['id']}") if e.event == "order.paid"]
        assert [e.payload["ship_by"] for e in paid] == [(released_at + timedelta(hours=48)).isoformat()]
        fake.advance(hours=1)
        await sweep(db)
        assert (await detail(client, sales, order["id"]))["status"] == "paid"
    assert await refund_requests(db, order["id"]) == []


async def test_a_shortage_hold_paid_meanwhile_is_released_paid_once_its_stock_is_reserved(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str]
) -> None:
    manager = await bearer(db, "manager")
    short = (
        await client.post("/api/v1/orders", json=order_body([("SKU-1", 16, "99.00")]), headers=sales)
    ).json()
    started = await start_payment(client, sales, short["id"])
    await gateway(client, admin, started["payment_id"], "success")

    early = await client.post(f"/api/v1/orders/{short['id']}/release", json={}, headers=manager)
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "out_of_stock"
    assert (await detail(client, sales, short["id"]))["status"] == "on_hold"  # paid, and still held

    await receive(db, "WH-A", {"SKU-1": 1})
    released = await client.post(f"/api/v1/orders/{short['id']}/release", json={}, headers=manager)

    assert released.status_code == 200, released.text
    shown = released.json()
    assert shown["status"] == "paid"
    assert shown["confirmed_at"] is not None  # confirmed by the release, its stock reserved
    assert sum(r["quantity"] for r in shown["reservations"] if r["state"] == "active") == 16
    assert (await clocks(client, sales, short["id"]))["order.ship"]["state"] == "running"
    assert await refund_requests(db, short["id"]) == []


@pytest.mark.parametrize("held_first", [False, True], ids=["paid", "paid-then-held"])
async def test_cancelling_a_paid_order_refunds_it_through_the_ledger(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str], admin: dict[str, str], held_first: bool
) -> None:
    """RSK-2, PAY-3: a flagged order rejected after review is cancelled and refunded in full."""
    manager = await bearer(db, "manager")
    order, started = await pending_payment(client, sales)
    await gateway(client, admin, started["payment_id"], "success")
    if held_first:
        hold = await client.post(
            f"/api/v1/orders/{order['id']}/hold", json={"reason": "risk_review"}, headers=manager
        )
        assert hold.json()["status"] == "on_hold"

    cancel = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "risk rejected"}, headers=manager
    )

    assert cancel.status_code == 200, cancel.text
    await refund_sweep(db)
    requested = [e for e in await outbox(db, f"order:{order['id']}") if e.event == "payment.refund_requested"]
    assert [(e.payload["order_id"], e.payload["amount"]) for e in requested] == [(order["id"], "99.00")]
    ledger = (await client.get(f"/api/v1/payments/{started['payment_id']}/refunds", headers=manager)).json()
    assert [(r["amount"], r["status"]) for r in ledger["items"]] == [("99.00", "pending")]


async def test_cancelling_an_unpaid_order_requests_no_refund(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str]
) -> None:
    order, _started = await pending_payment(client, sales)
    cancel = await client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "changed mind"},
        headers=await bearer(db, "manager"),
    )
    assert cancel.status_code == 200, cancel.text
    await refund_sweep(db)
    events = [e.event for e in await outbox(db, f"order:{order['id']}")]
    assert "order.cancelled" in events and "payment.refund_requested" not in events


async def test_an_unknown_method_is_refused_naming_the_field(
    client: httpx.AsyncClient, db: Database, sales: dict[str, str]
) -> None:
    order = await place_order(client, sales)
    before = await counts(db)

    reply = await client.post(
        f"/api/v1/orders/{order['id']}/payments", json={"method": "bitcoin"}, headers=sales
    )

    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in reply.json()["errors"]] == ["method"]
    assert await counts(db) == before
