"""The worker runs the notification sweeps: the outbox is relayed before deliveries are sent."""

from __future__ import annotations

from shopflow.core.db import Database
from shopflow.worker import SWEEPS, Worker
from tests.builders.notify import Receiver, add_webhook, deliveries, record_event
from tests.notify.conftest import Outside


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
