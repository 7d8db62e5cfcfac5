"""NTF-1 under real concurrency and real failure, with real commits (the `committed` fixture):
two workers on PostgreSQL never relay or send an item twice, and a worker killed with SIGKILL
in the middle of sending loses nothing: its `sending` attempts stay in the log, and once its
leases run out the next worker sends them again under the same idempotency ids."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.notify import tasks
from shopflow.notify.models import DeliveryAttempt
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake
from tests.builders.auth import bearer
from tests.builders.console import signed_in, visitors
from tests.builders.notify import (
    Gate,
    LoopMailbox,
    Receiver,
    add_webhook,
    deliveries,
    pending_outbox,
    record_events,
    sweep,
)
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.conftest import IS_POSTGRES, SETTINGS, TEST_URL, make_app
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


async def placed_orders(db: Database, count: int) -> None:
    """`count` confirmed orders: each one email, one SMS and one webhook delivery to send."""
    await small_store(db, {"SKU-1": (count, 0)})
    body = OrderIn.model_validate(order_body([("SKU-1", 1, "99.00")]))
    async with db.transaction() as session:
        for _ in range(count):
            await intake.place_order(session, SYSTEM, body, None)


async def statuses(db: Database) -> dict[str, list[str]]:
    """Each delivery's attempt log, by idempotency id."""
    return {d.idempotency_id: [a.status for a in d.log] for d in await deliveries(db)}


async def test_a_worker_killed_mid_send_leaves_its_attempts_and_the_next_sends_them_again_under_the_same_ids(
    committed: Database, tmp_path: Path
) -> None:
    """Issue 10, item 8: a real `shopflow worker` process sends to a webhook subscriber, an HTTP
    SMS gateway and an SMTP server that answer the first batch and then hold their answers; it is
    SIGKILLed mid-batch; a second worker, once the leases have run out, sends that batch again."""
    batch, orders = tasks.DELIVER_BATCH, tasks.DELIVER_BATCH
    lease = 3
    gate = Gate(open_for=batch)  # the first batch is answered, the second held mid-send
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(f"[notify]\nlease_seconds = {lease}\n")
    async with Receiver(gate=gate) as hooks, Receiver(gate=gate) as gateway, LoopMailbox(gate) as mailbox:
        await add_webhook(committed, hooks.url, ["order.*"])
        await placed_orders(committed, orders)
        env = {
            **os.environ,
            "SHOPFLOW_DATABASE_URL": TEST_URL,
            "SHOPFLOW_SECRET_KEY": str(SETTINGS.secret_key),
            "SHOPFLOW_DATA_DIR": str(tmp_path),
            "SHOPFLOW_POLICY_FILE": str(policy_file),
            "SHOPFLOW_SMTP_HOST": "127.0.0.1",
            "SHOPFLOW_SMTP_PORT": str(mailbox.port),
            "SHOPFLOW_SMTP_FROM": "Shopflow <noreply@shop.example.cn>",
            "SHOPFLOW_SMS_PROVIDER": "http",
            "SHOPFLOW_SMS_URL": gateway.url,
            "SHOPFLOW_SMS_SECRET": "sms-gateway-secret-0123456789",
        }
        log = tmp_path / "worker.log"
        with log.open("wb") as output:
            worker = await asyncio.create_subprocess_exec(*WORKER, env=env, stdout=output, stderr=output)
            exited = asyncio.ensure_future(worker.wait())
            reached = asyncio.ensure_future(gate.until(2 * batch))
            await asyncio.wait({exited, reached}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
            assert reached.done(), f"the worker did not reach its second batch:\n{log.read_text()}"
            worker.kill()  # SIGKILL, mid-send: no clean-up of any kind
            await exited

        before = await statuses(committed)
        assert len(before) == 3 * orders
        assert Counter(map(tuple, before.values())) == {
            ("sent",): batch,  # the first batch, answered and recorded
            ("sending",): batch,  # the killed batch: claimed and recorded before it was sent
            (): 3 * orders - 2 * batch,  # not claimed yet
        }
        killed = {key for key, log_of in before.items() if log_of == ["sending"]}
        leases = [d.lease_until for d in await deliveries(committed) if d.idempotency_id in killed]
        assert all(lease_until is not None for lease_until in leases)

        gate.open()
        await asyncio.sleep(lease + 0.5)  # the killed worker's leases run out
        restarted = await asyncio.create_subprocess_exec(*WORKER, env=env)
        assert await asyncio.wait_for(restarted.wait(), 90) == 0

    after = await deliveries(committed)
    assert {d.state for d in after} == {"delivered"}
    assert all(d.claimed_by is None and d.lease_until is None for d in after)
    # Every delivery arrived; the killed batch's twice, under the same id; no other twice.
    arrived = Counter(
        [*hooks.ids(), *(r.json()["reference"] for r in gateway.received)]
        + [str(m["Message-ID"]).strip("<>").split("@")[0] for m in mailbox.messages]
    )
    assert set(arrived) == {d.idempotency_id for d in after}
    assert {key for key, count in arrived.items() if count == 2} == killed
    assert set(arrived.values()) == {1, 2}
    by_channel = Counter(d.channel for d in after if d.idempotency_id in killed)
    assert set(by_channel) == {"email", "sms", "webhook"}  # each channel's repeat carries its id
    # The attempt log shows both sends of the killed batch.
    assert Counter(map(tuple, (await statuses(committed)).values())) == {
        ("sent",): 3 * orders - batch,
        ("interrupted", "sent"): batch,
    }
    # ... in the API and on the console's delivery page.
    resent = next(d for d in after if d.idempotency_id in killed and d.channel == "webhook")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(committed)),  # type: ignore[arg-type]
        base_url="http://test",
    ) as client:
        reply = await client.get(
            "/api/v1/notifications/deliveries",
            params={"q": resent.idempotency_id},
            headers=await bearer(committed, "operations"),
        )
    [shown] = reply.json()["items"]
    assert [(a["status"], a["ok"]) for a in shown["attempts"]] == [("interrupted", False), ("sent", True)]
    async with await signed_in(visitors(committed), committed, "operations") as visitor:
        page = (await visitor.get(f"/notifications/deliveries/{resent.id}")).text
    assert 'class="badge s-interrupted">已中断<' in page and 'class="badge s-sent">已发送<' in page
