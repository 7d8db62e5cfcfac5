"""The refund ledger through the HTTP API and the sandbox gateway (PAY-3, ASV-4, AUD-1): never
more than was captured, never twice, also when the gateway times out or repeats itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow import worker
from shopflow.core import clock, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.payments import refunds
from shopflow.payments.gateway import PROVIDERS
from shopflow.payments.models import Refund
from tests.builders.auth import bearer
from tests.builders.payments import place_order, start_payment
from tests.builders.refunds import (
    SKU,
    FlakyGateway,
    ask_refund,
    captured_payment,
    deliver_refund_callback,
    ledger_matches,
    refund_store,
    settle,
    signed_refund_callback,
)
from tests.builders.rows import alerts_for, audit_rows, outbox


@pytest.fixture
async def staff(db: Database) -> dict[str, str]:
    """The admin: places orders, refunds them, and acts as the sandbox gateway (which only the
    admin may; who may refund is `test_only_refund_roles_refund_and_only_captured_money`'s matter)."""
    await refund_store(db)
    return await bearer(db, "admin")


@pytest.fixture
async def paid(client: httpx.AsyncClient, staff: dict[str, str]) -> tuple[dict[str, Any], int]:
    return await captured_payment(client, staff)


async def totals(client: httpx.AsyncClient, headers: dict[str, str], payment_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/payments/{payment_id}/refunds", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def refund_count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Refund)) or 0)


@pytest.fixture
def flaky(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> FlakyGateway:
    """The sandbox provider replaced by one whose first answer times out."""
    provider = FlakyGateway(timeouts=1)
    monkeypatch.setitem(PROVIDERS, "sandbox", provider)
    return provider


async def test_a_full_refund_is_pending_until_the_signed_callback_settles_it(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    order, payment_id = paid
    reply = await ask_refund(client, staff, payment_id, "100.00", "rf-1")
    assert reply.status_code == 201, reply.text
    refund = reply.json()
    assert (refund["status"], refund["amount"], refund["order_id"]) == ("pending", "100.00", order["id"])
    assert refund["provider_reference"].startswith("sbr_")
    ledger = await totals(client, staff, payment_id)
    assert {k: ledger[k] for k in ("captured", "refunded", "pending", "refundable")} == {
        "captured": "100.00",
        "refunded": "0.00",
        "pending": "100.00",
        "refundable": "0.00",
    }

    [delivery] = await settle(client, staff, refund["id"], "succeeded")

    assert delivery["body"]["result"] == "applied"
    ledger = await totals(client, staff, payment_id)
    assert (ledger["refunded"], ledger["pending"], ledger["refundable"]) == ("100.00", "0.00", "0.00")
    assert ledger["items"][0]["status"] == "succeeded" and ledger["items"][0]["settled_at"]
    events = [e.event for e in await outbox(db, f"order:{order['id']}")]
    assert events.count("payment.refund_requested") == 1 and events.count("payment.refunded") == 1
    actions = [row.action for row in await audit_rows(db, "refund", refund["id"])]
    assert actions == ["refund.requested", "refund.submitted", "refund.succeeded"]
    assert await ledger_matches(db, payment_id) == (10000, 10000)


async def test_partial_refunds_add_up_to_the_capture_and_not_a_fen_more(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    assert (await ask_refund(client, staff, payment_id, "60.00", "rf-a")).status_code == 201
    too_much = await ask_refund(client, staff, payment_id, "40.01", "rf-b")
    assert too_much.status_code == 409
    problem = too_much.json()
    assert problem["code"] == "not_refundable" and "40.00" in problem["detail"]
    assert problem["errors"] == [{"field": "amount", "message": "exceeds what is still refundable"}]
    assert await refund_count(db) == 1  # nothing half-written
    assert (await ask_refund(client, staff, payment_id, "40.00", "rf-c")).status_code == 201
    assert (await totals(client, staff, payment_id))["refundable"] == "0.00"
    assert await ledger_matches(db, payment_id) == (10000, 10000)


async def test_the_same_key_answers_the_same_refund_and_never_reserves_twice(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    first = (await ask_refund(client, staff, payment_id, "30.00", "rf-same")).json()
    again = await ask_refund(client, staff, payment_id, "30.00", "rf-same")
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    other = await ask_refund(client, staff, payment_id, "31.00", "rf-same")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await refund_count(db) == 1
    assert await ledger_matches(db, payment_id) == (3000, 3000)


async def test_a_timed_out_refund_fails_keeps_its_key_and_its_retry_is_one_refund_at_the_gateway(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    flaky: FlakyGateway,
) -> None:
    _, payment_id = paid
    first = (await ask_refund(client, staff, payment_id, "100.00", "rf-timeout")).json()
    assert (first["status"], first["failure"]) == ("failed", "gateway: timed out after 10 s")
    assert await ledger_matches(db, payment_id) == (0, 0)  # the reservation went back
    assert (await totals(client, staff, payment_id))["refundable"] == "100.00"

    retried = await ask_refund(client, staff, payment_id, "100.00", "rf-timeout")

    assert retried.status_code == 201 and retried.json()["id"] == first["id"]
    assert retried.json()["status"] == "pending"
    assert flaky.calls == 2 and flaky.refunds == {"rf-timeout": 10000}  # one refund at the gateway
    await settle(client, staff, first["id"], "succeeded")
    ledger = await totals(client, staff, payment_id)
    assert (ledger["refunded"], ledger["refundable"], len(ledger["items"])) == ("100.00", "0.00", 1)
    actions = [row.action for row in await audit_rows(db, "refund", first["id"])]
    assert actions == [
        "refund.requested",
        "refund.failed",
        "refund.retried",
        "refund.submitted",
        "refund.succeeded",
    ]


async def test_a_refund_whose_submission_never_came_goes_to_the_gateway_on_its_retry_once(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API reserves in one transaction and submits in the next: a crash in between leaves the
    refund `requested` with its money reserved; the same key again hands it to the gateway."""
    _, payment_id = paid
    gateway = FlakyGateway()
    monkeypatch.setitem(PROVIDERS, "sandbox", gateway)
    async with db.transaction() as session:
        reserved = await refunds.reserve_refund(session, SYSTEM, payment_id, 2000, "rf-crash", "damaged")
    assert reserved.waiting and gateway.calls == 0
    assert await ledger_matches(db, payment_id) == (2000, 2000)

    retried = await ask_refund(client, staff, payment_id, "20.00", "rf-crash")
    again = await ask_refund(client, staff, payment_id, "20.00", "rf-crash")

    assert retried.status_code == 201 and retried.json()["id"] == reserved.refund.id
    assert retried.json()["status"] == again.json()["status"] == "pending"
    assert gateway.calls == 1 and gateway.refunds == {"rf-crash": 2000}
    assert await ledger_matches(db, payment_id) == (2000, 2000)
    actions = [row.action for row in await audit_rows(db, "refund", reserved.refund.id)]
    assert actions == ["refund.requested", "refund.submitted"]


async def test_a_callback_after_the_time_out_settles_the_same_refund(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    flaky: FlakyGateway,
) -> None:
    _, payment_id = paid
    failed = (await ask_refund(client, staff, payment_id, "25.00", "rf-late")).json()
    assert failed["status"] == "failed"

    body, headers = signed_refund_callback(failed["id"], "rf-late", "succeeded", 2500)
    reply = await deliver_refund_callback(client, body, headers)

    assert reply.status_code == 200 and reply.json()["result"] == "applied"
    ledger = await totals(client, staff, payment_id)
    assert [(i["id"], i["status"]) for i in ledger["items"]] == [(failed["id"], "succeeded")]
    assert (ledger["refunded"], ledger["refundable"]) == ("25.00", "75.00")
    assert await ledger_matches(db, payment_id) == (2500, 2500)


async def test_a_late_success_with_no_room_left_is_refused_and_alerted_never_counted_twice(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    flaky: FlakyGateway,
) -> None:
    _, payment_id = paid
    failed = (await ask_refund(client, staff, payment_id, "100.00", "rf-gone")).json()
    assert (await ask_refund(client, staff, payment_id, "100.00", "rf-new")).json()["status"] == "pending"

    body, headers = signed_refund_callback(failed["id"], "rf-gone", "succeeded", 10000)
    reply = await deliver_refund_callback(client, body, headers)

    assert reply.json()["result"] == "refused"
    [alert] = await alerts_for(db, f"payment:{payment_id}")
    assert alert.kind == "refund_beyond_captured" and alert.owner == "finance"
    assert await ledger_matches(db, payment_id) == (10000, 10000)


async def test_repeated_callbacks_change_nothing_and_a_failure_after_success_is_refused(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    refund = (await ask_refund(client, staff, payment_id, "10.00", "rf-dup")).json()
    deliveries = await settle(client, staff, refund["id"], "succeeded", deliveries=3)
    assert [d["body"]["result"] for d in deliveries] == ["applied", "duplicate", "duplicate"]
    [repeat] = await settle(client, staff, refund["id"], "succeeded")  # a new event, same outcome
    assert repeat["body"]["result"] == "ignored"
    [late_failure] = await settle(client, staff, refund["id"], "failed")
    assert late_failure["body"]["result"] == "refused"
    ledger = await totals(client, staff, payment_id)
    assert (ledger["items"][0]["status"], ledger["refunded"]) == ("succeeded", "10.00")
    assert await ledger_matches(db, payment_id) == (1000, 1000)


async def test_a_failure_then_a_success_out_of_order_ends_succeeded(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    refund = (await ask_refund(client, staff, payment_id, "10.00", "rf-order")).json()
    [failure] = await settle(client, staff, refund["id"], "failed")
    assert failure["body"]["result"] == "applied"
    assert await ledger_matches(db, payment_id) == (0, 0)
    [success] = await settle(client, staff, refund["id"], "succeeded")
    assert success["body"]["result"] == "applied"
    assert (await totals(client, staff, payment_id))["refunded"] == "10.00"
    assert await ledger_matches(db, payment_id) == (1000, 1000)


async def test_a_refund_callback_must_be_signed_and_name_the_refund_amount(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    refund = (await ask_refund(client, staff, payment_id, "10.00", "rf-sig")).json()
    body, headers = signed_refund_callback(refund["id"], "rf-sig", "succeeded", 1000)
    forged = await deliver_refund_callback(client, body, {**headers, "X-Sandbox-Signature": "0" * 64})
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
    body, headers = signed_refund_callback(refund["id"], "rf-sig", "succeeded", 9999)
    wrong = await deliver_refund_callback(client, body, headers)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "amount"
    [alert] = await alerts_for(db, f"payment:{payment_id}")
    assert alert.kind == "refund_amount_mismatch"
    assert (await totals(client, staff, payment_id))["items"][0]["status"] == "pending"


async def test_only_refund_roles_refund_and_only_captured_money(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    _, payment_id = paid
    denied = await ask_refund(client, await bearer(db, "sales"), payment_id, "1.00", "rf-sales")
    assert denied.status_code == 403
    for role in ("finance", "cs_supervisor"):
        assert (
            await ask_refund(client, await bearer(db, role), payment_id, "1.00", f"rf-{role}")
        ).status_code == 201
    unpaid = await start_payment(
        client, staff, (await place_order(client, staff, [(SKU, 1, "100.00")]))["id"]
    )
    nothing = await ask_refund(client, staff, unpaid["payment_id"], "1.00", "rf-unpaid")
    assert nothing.status_code == 409 and nothing.json()["code"] == "not_refundable"
    bad = await ask_refund(client, staff, payment_id, "0.00", "rf-zero")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "amount"
    assert (await ask_refund(client, staff, 999999, "1.00", "rf-none")).status_code == 404


async def test_cancelling_a_paid_order_refunds_its_capture_once_through_the_ledger(
    client: httpx.AsyncClient, db: Database, staff: dict[str, str], paid: tuple[dict[str, Any], int]
) -> None:
    order, payment_id = paid
    reply = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "客户取消"}, headers=staff
    )
    assert reply.status_code == 200, reply.text

    sweeper = worker.Worker(db, interval=1.0)
    assert await sweeper.drain(worker.SWEEPS["payments.refund_cancelled"]) == 1
    assert await sweeper.drain(worker.SWEEPS["payments.refund_cancelled"]) == 0  # once

    ledger = await totals(client, staff, payment_id)
    [refund] = ledger["items"]
    assert (refund["amount"], refund["status"]) == ("100.00", "pending")
    assert refund["idempotency_key"] == f"order:{order['order_no']}:cancel:{payment_id}"
    assert [e.event for e in await outbox(db, f"order:{order['id']}")].count("payment.refund_requested") == 1
    await settle(client, staff, refund["id"], "succeeded")
    assert (await totals(client, staff, payment_id))["refunded"] == "100.00"


async def test_a_settled_refund_tells_its_case_in_the_same_transaction(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the after-sales domain hangs on `refunds.ON_SETTLED` hears of every success, once."""
    order, payment_id = paid
    told: list[tuple[int | None, int]] = []

    async def case_domain(session: AsyncSession, refund: Refund) -> None:
        told.append((refund.case_id, refund.amount))

    monkeypatch.setattr(refunds, "ON_SETTLED", [case_domain])
    async with db.transaction() as session:
        refund = await refunds.request_refund(
            session, SYSTEM, payment_id, 4550, "case:7:refund", "return", case_id=7
        )

    await settle(client, staff, refund.id, "succeeded", deliveries=2)

    assert told == [(7, 4550)]
    [settled] = [e for e in await outbox(db, f"order:{order['id']}") if e.event == "payment.refunded"]
    assert (settled.payload["case_id"], settled.payload["amount"]) == (7, "45.50")


async def test_a_cancelled_orders_failed_refund_is_retried_by_the_sweep_after_the_policy_wait(
    client: httpx.AsyncClient,
    db: Database,
    staff: dict[str, str],
    paid: tuple[dict[str, Any], int],
    flaky: FlakyGateway,
) -> None:
    order, payment_id = paid
    await client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "客户取消"}, headers=staff)
    sweeper = worker.Worker(db, interval=1.0)
    sweep = worker.SWEEPS["payments.refund_cancelled"]
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    with clock.use(lambda: start):
        assert await sweeper.drain(sweep) == 1  # the gateway times out: failed
    wait = policy.current().payments.refund_retry_seconds
    with clock.use(lambda: start + timedelta(seconds=wait - 1)):
        assert await sweeper.drain(sweep) == 0  # too soon
    with clock.use(lambda: start + timedelta(seconds=wait + 1)):
        assert await sweeper.drain(sweep) == 1  # retried under its key

    [refund] = (await totals(client, staff, payment_id))["items"]
    assert (refund["status"], refund["amount"]) == ("pending", "100.00")
    assert flaky.refunds == {refund["idempotency_key"]: 10000}
