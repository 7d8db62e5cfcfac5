"""PAY-3 under real concurrency on PostgreSQL: 50 refunds at once on one payment never refund a
fen more than was captured, and the payment's reserved total stays the sum of its ledger; a refund
through the API leaves its payment unlocked while the gateway answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.payments import gateway, refunds
from shopflow.payments.errors import NotRefundable
from shopflow.payments.gateway import Refunded
from tests.builders.auth import bearer
from tests.builders.refunds import captured_payment, ledger_matches, refund_store
from tests.conftest import IS_POSTGRES, make_app

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="row locks: SQLite runs one writer at a time")


async def _one(db: Database, payment_id: int, index: int) -> bool:
    """One refund of 3.00 in its own transaction; whether it was accepted."""
    try:
        async with db.transaction() as session:
            await refunds.request_refund(session, SYSTEM, payment_id, 300, f"race-{index}", "race")
    except NotRefundable:
        return False
    return True


async def test_fifty_concurrent_refunds_of_3_on_100_captured_accept_exactly_33(committed: Database) -> None:
    await refund_store(committed)
    headers = await bearer(committed, "manager")
    transport = httpx.ASGITransport(app=make_app(committed))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _, payment_id = await captured_payment(client, headers)

    accepted = await asyncio.gather(*(_one(committed, payment_id, i) for i in range(50)))

    # 100.00 // 3.00 = 33 refunds (99.00); the 34th would need 102.00.
    assert sum(accepted) == 33
    assert await ledger_matches(committed, payment_id) == (9900, 9900)
    async with committed.transaction() as session:
        ledger = await refunds.ledger(session, payment_id)
    assert (ledger.pending, ledger.refundable, len(ledger.refunds)) == (9900, 100, 33)


class LockProbe:
    """A gateway that, while it takes a refund, tries to lock the refund's payment from another
    transaction without waiting: whether it could."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.payment_free: list[bool] = []

    async def refund(self, key: str, payment_id: int, amount: int, total: int) -> Refunded:
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    text("SELECT id FROM payments WHERE id = :id FOR UPDATE NOWAIT"), {"id": payment_id}
                )
        except DBAPIError:
            self.payment_free.append(False)
        else:
            self.payment_free.append(True)
        return Refunded(f"probe-{key}", settled=False)


async def test_a_refund_through_the_api_leaves_its_payment_unlocked_while_the_gateway_answers(
    committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await refund_store(committed)
    headers = await bearer(committed, "manager")
    probe = LockProbe(committed)
    transport = httpx.ASGITransport(app=make_app(committed))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _, payment_id = await captured_payment(client, headers)
        monkeypatch.setitem(gateway.PROVIDERS, "sandbox", probe)
        reply = await client.post(
            f"/api/v1/payments/{payment_id}/refunds",
            json={"amount": "10.00", "reason": "damaged"},
            headers={**headers, "Idempotency-Key": "probe-1"},
        )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["status"], reply.json()["provider_reference"]) == ("pending", "probe-probe-1")
    assert probe.payment_free == [True]
    assert await ledger_matches(committed, payment_id) == (1000, 1000)
