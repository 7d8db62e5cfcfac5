"""The worker runs the notification sweeps: the outbox is relayed before deliveries are sent."""

from __future__ import annotations

import logging

import pytest

from shopflow.core import policy
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.settings import get_settings
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake
from shopflow.worker import SWEEPS, Worker
from tests.builders.notify import Receiver, add_webhook, deliveries, free_port, record_event
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.notify.conftest import Outside

FAILED = 45  # emails that cannot go out: more than two batches of the deliver sweep


async def test_the_worker_runs_dispatch_then_deliver(db: Database, outside: Outside) -> None:
    names = list(SWEEPS)
    assert names.index("notify.dispatch") < names.index("notify.deliver")
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        handled = await Worker(db, interval=1.0).run_once()
    assert (handled["notify.dispatch"], handled["notify.deliver"]) == (1, 1)
    [delivery] = await deliveries(db)
    assert delivery.state == "delivered" and receiver.ids() == [delivery.idempotency_id]


async def test_a_relay_that_is_down_is_one_warning_a_sweep_with_the_count(
    db: Database,
    outside: Outside,
    now: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await Worker(db, interval=1.0).run_once()  # ends any sweep an earlier test left unfinished
    await small_store(db)
    body = OrderIn.model_validate(order_body([("SKU-1", 1, "99.00")]))
    async with db.transaction() as session:
        for _ in range(FAILED):
            await intake.place_order(session, SYSTEM, body, None)
    down = free_port()  # nothing listens there
    monkeypatch.setenv("SHOPFLOW_SMTP_PORT", str(down))
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="shopflow")
    caplog.clear()

    handled = await Worker(db, interval=1.0).run_once()

    assert handled["notify.deliver"] == 2 * FAILED  # every email failed, every SMS went out
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        f"{FAILED} deliveries failed in this sweep (email {FAILED}: SMTPConnectError"
    )
    assert f"127.0.0.1 on port {down}" in warnings[0]

    caplog.clear()
    now.advance(seconds=policy.current().notify.backoff_seconds)  # the first retry of each email
    await Worker(db, interval=1.0).run_once()
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"{FAILED} deliveries failed in this sweep"
    ]
