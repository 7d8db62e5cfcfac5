"""A delivery's claim and lease (NTF-1, issue 10): a worker records its attempt as `sending`
before it sends; a claim left by a worker that died keeps other workers off until its lease ends,
then the next worker marks the attempt `interrupted` and sends again under the same id."""

from __future__ import annotations

from datetime import timedelta

from shopflow.core import policy
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.notify import service, tasks
from shopflow.notify.models import Outcome
from tests.builders.notify import Receiver, add_webhook, deliveries, record_event, sweep
from tests.builders.rows import alerts_for
from tests.notify.conftest import START, Outside

BATCH = 20


async def test_a_claim_left_by_a_dead_worker_is_sent_again_once_its_lease_has_run_out(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    lease = policy.current().notify.lease_seconds
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        async with db.transaction() as session:
            await tasks.dispatch(session)
            assert await service.claim_due(session, "host:1:dead", BATCH) is not None
        [claimed] = await deliveries(db)
        assert (claimed.claimed_by, claimed.lease_until) == ("host:1:dead", START + timedelta(seconds=lease))
        assert [a.status for a in claimed.log] == ["sending"]  # visible while it lasts, or forever

        now.advance(seconds=lease - 1)
        await sweep(db)
        assert receiver.received == []  # the claim still holds
        now.advance(seconds=1)
        await sweep(db)

    [delivery] = await deliveries(db)
    assert receiver.ids() == [delivery.idempotency_id]
    assert delivery.state == "delivered" and (delivery.claimed_by, delivery.lease_until) == (None, None)
    assert [(a.status, a.at - START) for a in delivery.log] == [
        ("interrupted", timedelta(0)),
        ("sent", timedelta(seconds=lease)),
    ]
    assert delivery.failures == 0  # an interrupted attempt may have arrived: not a failure


async def test_a_send_slower_than_its_lease_is_logged_but_leaves_the_delivery_to_the_worker_that_took_over(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    lease = policy.current().notify.lease_seconds
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        async with db.transaction() as session:
            await tasks.dispatch(session)
            slow = await service.claim_due(session, "host:1:slow", BATCH)
            assert slow is not None
            await session.commit()
            now.advance(seconds=lease)
            await sweep(db)  # another worker takes the expired claim and delivers
            await service.record_sends(session, slow, [Outcome(ok=False, status_code=504, error="HTTP 504")])

    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.failures, delivery.last_error) == ("delivered", 0, None)
    assert [(a.status, a.status_code) for a in delivery.log] == [("failed", 504), ("sent", 200)]
    assert receiver.ids() == [delivery.idempotency_id]


async def test_a_delivery_whose_worker_dies_mid_send_three_times_in_a_row_is_dead_and_alerted(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    rules = policy.current().notify
    async with Receiver() as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        async with db.transaction() as session:
            await tasks.dispatch(session)
        for n in range(rules.max_interruptions):
            async with db.transaction() as session:
                claim = await service.claim_due(session, f"host:{n}:dead", BATCH)
                assert claim is not None and len(claim.deliveries) == 1  # sent again after each death
            now.advance(seconds=rules.lease_seconds)
        assert await sweep(db) == (0, 1)  # found dead, not sent
        assert receiver.received == []

    [delivery] = await deliveries(db)
    assert (delivery.state, delivery.dead_at, delivery.claimed_by) == ("dead", now(), None)
    assert delivery.last_error == "its worker died while sending it 3 times in a row"
    assert [a.status for a in delivery.log] == ["interrupted"] * 3
    [alert] = await alerts_for(db, delivery.subject)
    assert alert.kind == "notification_failed"
    assert alert.dedupe_key == f"delivery:{delivery.id}" and "3 times in a row" in alert.message


async def test_an_attempt_that_ends_starts_the_count_of_interruptions_again(
    db: Database, outside: Outside, now: FakeClock
) -> None:
    rules = policy.current().notify
    async with Receiver(default=503) as receiver:
        await add_webhook(db, receiver.url)
        await record_event(db)
        async with db.transaction() as session:
            await tasks.dispatch(session)
        for n in range(2 * rules.max_interruptions - 1):
            if n == rules.max_interruptions - 1:  # two died; this attempt ends (a 503, a failure)
                await sweep(db)
                now.advance(seconds=rules.backoff_seconds)
            async with db.transaction() as session:
                assert await service.claim_due(session, f"host:{n}:dead", BATCH) is not None
            now.advance(seconds=rules.lease_seconds)
        assert len(receiver.received) == 1
    [delivery] = await deliveries(db)
    # Five workers died with it, never three in a row: it is still sent again.
    assert (delivery.state, delivery.failures, delivery.interruptions) == ("pending", 1, 2)
