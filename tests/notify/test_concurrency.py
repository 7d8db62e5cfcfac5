"""NTF-1 under real concurrency and real failure, with real commits (the `committed` fixture):
two workers on PostgreSQL never relay or send an item twice, and a worker killed with SIGKILL
in the middle of a batch loses nothing (its uncommitted claims return to the queue)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.notify import tasks
from shopflow.notify.models import DeliveryAttempt
from tests.builders.notify import Receiver, add_webhook, deliveries, pending_outbox, record_events, sweep
from tests.conftest import IS_POSTGRES, SETTINGS, TEST_URL
from tests.notify.conftest import Outside

# The worker as an operator runs it: `shopflow worker --once` drains every sweep and exits.
WORKER = [sys.executable, "-c", "from shopflow.cli import app; app()", "worker", "--once"]


async def attempts_per_delivery(db: Database) -> Counter[int]:
    async with db.transaction() as session:
        stmt = select(DeliveryAttempt.delivery_id, func.count()).group_by(DeliveryAttempt.delivery_id)
        return Counter({delivery_id: count for delivery_id, count in (await session.execute(stmt)).all()})


@pytest.mark.skipif(not IS_POSTGRES, reason="several workers need PostgreSQL's row locks (SQLite runs one)")
async def test_two_workers_relay_and_send_1000_events_each_exactly_once(
    committed: Database, outside: Outside
) -> None:
    async with Receiver() as receiver:
        await add_webhook(committed, receiver.url)
        await record_events(committed, 1000)

        first, second = await asyncio.gather(sweep(committed), sweep(committed))

    assert first[0] > 0 and second[0] > 0  # both workers took part
    assert first[0] + second[0] == 1000  # each outbox event claimed by one worker, once
    assert first[1] + second[1] == 1000  # each delivery attempted once
    sent = await deliveries(committed)
    assert len(sent) == len({d.outbox_id for d in sent}) == 1000
    assert {d.state for d in sent} == {"delivered"}
    assert len(receiver.received) == len(set(receiver.ids())) == 1000
    assert set(receiver.ids()) == {d.idempotency_id for d in sent}
    assert set((await attempts_per_delivery(committed)).values()) == {1}
    assert await pending_outbox(committed) == []


async def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    committed: Database, outside: Outside, tmp_path: Path
) -> None:
    # Two batches are answered and committed; the third is killed with half of its requests
    # answered and the other half held open by the receiver.
    batch = tasks.DELIVER_BATCH
    async with Receiver(hang_after=2 * batch + batch // 2) as receiver:
        await add_webhook(committed, receiver.url)
        await record_events(committed, 120)
        env = {
            **os.environ,
            "SHOPFLOW_DATABASE_URL": TEST_URL,
            "SHOPFLOW_SECRET_KEY": str(SETTINGS.secret_key),
            "SHOPFLOW_DATA_DIR": str(tmp_path),
        }
        log = tmp_path / "worker.log"
        with log.open("wb") as output:
            worker = await asyncio.create_subprocess_exec(*WORKER, env=env, stdout=output, stderr=output)
            exited = asyncio.ensure_future(worker.wait())
            reached = asyncio.ensure_future(receiver.reached.wait())
            await asyncio.wait({exited, reached}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
            assert reached.done(), f"the worker did not reach the second batch:\n{log.read_text()}"
            worker.kill()  # SIGKILL: no clean-up of any kind
            await exited

        before = await deliveries(committed)
        assert Counter(d.state for d in before) == {"delivered": 2 * batch, "pending": 120 - 2 * batch}
        assert sum((await attempts_per_delivery(committed)).values()) == 2 * batch  # none of the killed batch
        assert await pending_outbox(committed) == []
        committed_ids = {d.idempotency_id for d in before if d.state == "delivered"}

        receiver.release()
        await sweep(committed)  # the worker, restarted

    after = await deliveries(committed)
    assert len(after) == 120 and {d.state for d in after} == {"delivered"}
    assert set((await attempts_per_delivery(committed)).values()) == {1}
    received = Counter(receiver.ids())
    assert set(received) == {d.idempotency_id for d in after}  # nothing lost
    assert all(received[key] == 1 for key in committed_ids)  # nothing committed was sent again
    resent = {key for key, count in received.items() if count > 1}
    assert resent and not resent & committed_ids  # only the killed batch's, under the same ids
