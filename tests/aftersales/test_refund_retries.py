"""A case's refund through the ledger when the gateway fails (PAY-3, ASV-4): the worker's sweep
retries it under the same idempotency key with a back-off, the gateway pays it once, and after
the policy's last try an alert; and an order paid by several captured payments refunded across
them, never over any payment's capture."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from shopflow import worker
from shopflow.aftersales import service
from shopflow.aftersales.schemas import CaseIn
from shopflow.core import clock, money, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.payments import refunds, sandbox
from shopflow.payments.gateway import PROVIDERS
from shopflow.payments.models import Payment, Refund
from shopflow.payments.schemas import RefundCallbackIn
from tests.builders.aftersales import act, case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.payments import gateway as pay_through
from tests.builders.payments import place_order, start_payment
from tests.builders.refunds import FlakyGateway, ledger_matches, refunds_of, settle
from tests.builders.rows import alerts_for
from tests.builders.store import small_store
from tests.conftest import IS_POSTGRES

START = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)
AGENT = Actor(user_id=None, name="agent", role="customer_service")


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


def gateway(monkeypatch: pytest.MonkeyPatch, timeouts: int) -> FlakyGateway:
    provider = FlakyGateway(timeouts=timeouts)
    monkeypatch.setitem(PROVIDERS, "sandbox", provider)
    return provider


async def retry_sweep(db: Database) -> int:
    """The worker's refund retry sweep, batch after batch until nothing is due."""
    return await worker.Worker(db, interval=1.0).drain(worker.SWEEPS["payments.refund_retry"])


async def case_refunds(db: Database, case_id: int) -> list[Refund]:
    async with db.transaction() as session:
        return await refunds.refunds_of_case(session, case_id)


async def refunding_case(client: httpx.AsyncClient, db: Database, order_id: int, amount: str) -> int:
    """A compensation of `amount` on the order, approved and handed to the refund ledger."""
    agent = await bearer(db, "customer_service")
    case = await open_case(
        client, agent, case_body(order_id, type="compensation", reason="other", lines=[], amount=amount)
    )
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "refund")
    return int(case["id"])


async def test_the_gateway_fails_the_sweep_retries_and_the_gateway_pays_once(
    client: httpx.AsyncClient, db: Database, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = gateway(monkeypatch, timeouts=1)  # takes the refund, but its answer times out
    order_id = await delivered_order(db)
    case_id = await refunding_case(client, db, order_id, "30.00")
    [failed] = await case_refunds(db, case_id)
    assert (failed.status, provider.calls) == ("failed", 1)

    now.advance(seconds=299)
    assert await retry_sweep(db) == 0  # not before payments.refund_retry_seconds
    now.advance(seconds=1)
    assert await retry_sweep(db) == 1

    [retried] = await case_refunds(db, case_id)
    assert (retried.id, retried.status, retried.idempotency_key) == (
        failed.id,
        "pending",
        failed.idempotency_key,
    )
    assert provider.calls == 2 and provider.refunds == {failed.idempotency_key: 3000}  # one refund there
    assert await retry_sweep(db) == 0  # pending: nothing to retry
    [reply] = await settle(client, await bearer(db, "admin"), retried.id, "succeeded")
    assert reply["status_code"] == 200
    agent = await bearer(db, "customer_service")
    final = (await client.get(f"/api/v1/aftersales/cases/{case_id}", headers=agent)).json()
    assert (final["state"], final["refunded"]) == ("refunded", "30.00")
    assert await ledger_matches(db, retried.payment_id) == (3000, 3000)
    assert provider.refunds == {failed.idempotency_key: 3000}


async def test_after_the_last_try_the_refund_is_alerted_once_and_left_alone(
    client: httpx.AsyncClient, db: Database, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.install(policy.validate({"payments": {"refund_retry_attempts": 3}}))
    provider = gateway(monkeypatch, timeouts=100)
    order_id = await delivered_order(db)
    case_id = await refunding_case(client, db, order_id, "30.00")
    [refund] = await case_refunds(db, case_id)

    # Tries after 300 s, then 600 s, then 1200 s of back-off (each counted from the last try).
    tried = []
    for wait in (300, 600, 1200):
        now.advance(seconds=wait - 1)
        before = provider.calls
        await retry_sweep(db)
        assert provider.calls == before, f"tried before its {wait} s back-off"
        now.advance(seconds=1)
        await retry_sweep(db)
        tried.append(provider.calls)

    assert tried == [2, 3, 4]  # the first call, then three retries
    [alert] = await alerts_for(db, f"payment:{refund.payment_id}")
    assert (alert.kind, alert.owner) == ("refund_failed", "finance")
    assert refund.idempotency_key in alert.message and "3 tries" in alert.message
    now.advance(days=30)
    assert await retry_sweep(db) == 0
    assert provider.calls == 4 and list(provider.refunds) == [refund.idempotency_key]
    assert len(await alerts_for(db, f"payment:{refund.payment_id}")) == 1
    assert await ledger_matches(db, refund.payment_id) == (0, 0)  # nothing reserved for a failed refund


async def test_a_second_captures_refund_that_fails_is_retried_by_the_sweep_and_paid_once(
    client: httpx.AsyncClient, db: Database, now: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PAY-3: money captured for an order already paid goes back at once; when the gateway's
    answer is lost, the sweep asks again under the same key and the customer is paid back once."""
    provider = gateway(monkeypatch, timeouts=1)
    await small_store(db)
    sales, admin = await bearer(db, "sales"), await bearer(db, "admin")
    order = await place_order(client, sales)
    first = await start_payment(client, sales, order["id"])
    second = await start_payment(client, sales, order["id"], "wechat")
    await pay_through(client, admin, first["payment_id"], "success")
    await pay_through(client, admin, second["payment_id"], "success")
    [failed] = await refunds_of(db, second["payment_id"])
    assert (failed.status, failed.idempotency_key) == ("failed", refunds.unpayable_key(second["payment_id"]))

    now.advance(seconds=300)
    assert await retry_sweep(db) == 1
    [retried] = await refunds_of(db, second["payment_id"])
    assert (retried.id, retried.status) == (failed.id, "pending")
    assert provider.refunds == {failed.idempotency_key: 9900} and provider.calls == 2
    assert await refunds_of(db, first["payment_id"]) == []


async def split_payment(db: Database, order_id: int, first: int) -> tuple[int, int]:
    """Make the order's one captured payment two, of `first` fen and the rest, captured later
    (as a payment in two parts would be); their ids, earlier first."""
    async with db.transaction() as session:
        [paid] = (await session.scalars(select(Payment).where(Payment.order_id == order_id))).all()
        rest = paid.amount - first
        paid.amount = first
        later = Payment(
            order_id=order_id,
            provider=paid.provider,
            method="wechat",
            amount=rest,
            status="succeeded",
            created_by=SYSTEM.user_id,
            created_at=paid.created_at,
            updated_at=paid.updated_at,
        )
        session.add(later)
        await session.flush()
        return paid.id, later.id


async def test_a_refund_larger_than_any_one_payment_is_taken_across_them_largest_first(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)  # 190.00 captured
    first, second = await split_payment(db, order_id, 10000)  # 100.00, then 90.00
    agent, admin = await bearer(db, "customer_service"), await bearer(db, "admin")
    case_id = await refunding_case(client, db, order_id, "150.00")

    parts = await case_refunds(db, case_id)

    # The largest capture first, all of it; the rest from the other, never over its 90.00.
    assert [(r.payment_id, r.amount, r.status) for r in parts] == [
        (first, 10000, "pending"),
        (second, 5000, "pending"),
    ]
    assert len({r.idempotency_key for r in parts}) == 2
    await settle(client, admin, parts[0].id, "succeeded")
    half = (await client.get(f"/api/v1/aftersales/cases/{case_id}", headers=agent)).json()
    assert (half["state"], half["refunded"]) == ("refunding", "100.00")  # one part is not the refund
    await settle(client, admin, parts[1].id, "succeeded")
    done = (await client.get(f"/api/v1/aftersales/cases/{case_id}", headers=agent)).json()
    assert (done["state"], done["refunded"]) == ("refunded", "150.00")
    assert await ledger_matches(db, first) == (10000, 10000)
    assert await ledger_matches(db, second) == (5000, 5000)
    order = (await client.get(f"/api/v1/orders/{order_id}", headers=agent)).json()
    assert (order["aftersales"], order["refunded"]) == ("partially_refunded", "150.00")


async def test_a_refund_more_than_the_payments_hold_together_is_refused_with_nothing_stored(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)
    await split_payment(db, order_id, 10000)
    agent = await bearer(db, "customer_service")
    await refunding_case(client, db, order_id, "150.00")
    case = await open_case(
        client, agent, case_body(order_id, type="compensation", reason="other", lines=[], amount="40.01")
    )
    await act(client, agent, case["id"], "approve")

    refused = await act(client, agent, case["id"], "refund", status=409)

    assert refused["code"] == "nothing_to_refund"
    assert "40.00" in refused["detail"] and "40.01" in refused["detail"]
    assert await case_refunds(db, case["id"]) == []
    again = (await client.get(f"/api/v1/aftersales/cases/{case['id']}", headers=agent)).json()
    assert again["state"] == "approved"


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent row locks: PostgreSQL")
async def test_two_parts_settling_at_once_settle_the_case(committed: Database) -> None:
    refunds.when_settled(service.settled_by_ledger)
    order_id = await delivered_order(committed)
    await split_payment(committed, order_id, 10000)
    data = CaseIn.model_validate(
        {"order_id": order_id, "type": "compensation", "reason": "other", "lines": [], "amount": "150.00"}
    )
    async with committed.transaction() as session:
        case_id = (await service.open_case(session, AGENT, data)).id
    async with committed.transaction() as session:
        await service.approve(session, AGENT, case_id)
    async with committed.transaction() as session:
        await service.request_refund(session, AGENT, case_id)
    parts = await case_refunds(committed, case_id)

    async def callback(refund: Refund) -> None:
        data = RefundCallbackIn(
            event_id=f"evt-{refund.id}",
            refund_id=refund.id,
            reference=sandbox.refund_reference(refund.idempotency_key),
            outcome="succeeded",
            amount=money.fmt(refund.amount),
            occurred_at=clock.now(),
        )
        async with committed.transaction() as session:
            await refunds.apply_callback(session, sandbox.PROVIDER, data)

    await asyncio.gather(*(callback(part) for part in parts))

    async with committed.transaction() as session:
        case = await service.get_case(session, case_id)
    assert (case.state, case.refunded) == ("refunded", 15000)
