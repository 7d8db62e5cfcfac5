"""Payments and holds agree under real concurrency (ORD-3, ORD-5): the gateway's callbacks race
holds and releases of the same orders, each in its own transaction on its own connection, with
real commits. Whoever locks the order first, every capture is kept: the order ends paid, or on
hold and paid, never refunded, and the unpaid-order sweep cancels none of them afterwards."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from shopflow.core import clock, sla
from shopflow.core.alerts import Alert
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.orders.models import HoldReason, Order, OrderClock
from shopflow.orders.service import lifecycle
from shopflow.payments import sandbox
from shopflow.payments import service as payments
from shopflow.payments.models import CallbackResult, Payment, PaymentReceipt
from tests.builders.lifecycle import place_many, stocked_store, sweep
from tests.builders.payments import open_payment, success_callback

ORDERS = 50
START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


async def _capture(db: Database, payment: Payment) -> CallbackResult:
    async with db.transaction() as session:
        return await payments.apply_callback(session, sandbox.PROVIDER, success_callback(payment))


async def _hold(db: Database, order_id: int) -> None:
    async with db.transaction() as session:
        await lifecycle.hold(session, SYSTEM, order_id, HoldReason.RISK_REVIEW)


async def _release(db: Database, order_id: int) -> None:
    async with db.transaction() as session:
        await lifecycle.release(session, SYSTEM, order_id)


async def _captured_on_hold(db: Database) -> set[int]:
    """The orders whose payment was captured while they were held (ORD-3)."""
    async with db.transaction() as session:
        stmt = select(AuditEntry.entity_id).where(AuditEntry.action == lifecycle.PAID_ON_HOLD)
        return {int(entity_id) for entity_id in await session.scalars(stmt)}


async def _stored(db: Database) -> tuple[dict[int, tuple[str, datetime | None]], int, int, int, int]:
    """Each order's (status, paid_at); refund requests, money alerts, receipts, running pay clocks."""
    async with db.transaction() as session:
        stmt = select(Order.id, Order.status, Order.paid_at)
        orders = {order_id: (status, paid_at) for order_id, status, paid_at in await session.execute(stmt)}
        refunds = await session.scalar(
            select(func.count()).where(OutboxEvent.event == "payment.refund_requested")
        )
        alerts = await session.scalar(select(func.count()).where(Alert.kind == "payment_for_unpayable_order"))
        receipts = await session.scalar(select(func.count()).select_from(PaymentReceipt))
        pay_clocks = await session.scalar(
            select(func.count()).where(
                sla.SlaClock.kind == OrderClock.PAY,
                sla.SlaClock.state.in_([sla.ClockState.RUNNING, sla.ClockState.PAUSED]),
            )
        )
    return orders, int(refunds or 0), int(alerts or 0), int(receipts or 0), int(pay_clocks or 0)


async def test_callbacks_racing_holds_and_releases_keep_every_capture_and_cancel_nothing(
    committed: Database,
) -> None:
    db = committed
    fake = FakeClock(START)
    with clock.use(fake):
        await stocked_store(db, ORDERS)
        ids = await place_many(db, ORDERS)
        opened = {order_id: await open_payment(db, order_id) for order_id in ids}
        released, held = ids[::2], ids[1::2]
        for order_id in released:  # these wait for a risk review, which ends while the money arrives
            await _hold(db, order_id)
        fake.advance(minutes=5)

        racing: list[Coroutine[Any, Any, object]] = [_capture(db, opened[order_id]) for order_id in ids]
        racing += [_release(db, order_id) for order_id in released]
        racing += [_hold(db, order_id) for order_id in held]  # flagged while the money arrives
        random.Random(10).shuffle(racing)
        results = await asyncio.gather(*racing, return_exceptions=True)

        failures = [r for r in results if isinstance(r, BaseException)]
        assert not failures, failures[:3]
        assert [r for r in results if isinstance(r, CallbackResult)] == [CallbackResult.APPLIED] * ORDERS
        fake.advance(hours=2)  # far past the 30 minutes to pay (ORD-5)
        await sweep(db)

        orders, refunds, alerts, receipts, pay_clocks = await _stored(db)
        on_hold = await _captured_on_hold(db)
    # The race went both ways: some captures came before the hold or release, some after.
    assert 0 < len(on_hold & set(held)) < len(held)
    assert 0 < len(on_hold & set(released)) < len(released)
    assert {order_id: status for order_id, (status, _) in orders.items()} == {
        **dict.fromkeys(released, "paid"),
        **dict.fromkeys(held, "on_hold"),
    }
    assert all(paid_at is not None for _, paid_at in orders.values())
    assert (refunds, alerts, receipts, pay_clocks) == (0, 0, ORDERS, 0)
