"""After-sales use cases on a real database: every step that starts or stops a clock (SLA-1),
the order's close clock waiting for open cases (ORD-7), breaches alerted, the ledger's
settlement, and concurrent requests on the last returnable unit (ASV-2)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.aftersales import service
from shopflow.aftersales.models import Case
from shopflow.aftersales.schemas import CaseIn, InspectIn, ReturnShipmentIn
from shopflow.core import clock, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.errors import AppError
from shopflow.orders.models import aftersales_closes
from shopflow.orders.service import lifecycle
from shopflow.payments import service as payments
from tests.builders.aftersales import delivered_order
from tests.builders.lifecycle import order, sweep
from tests.builders.refunds import refunds_of
from tests.builders.rows import alerts_for, outbox
from tests.conftest import IS_POSTGRES

START = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
AGENT = Actor(user_id=None, name="agent", role="customer_service")


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


def request(
    order_id: int, case_type: str = "return_refund", reason: str = "quality", **extra: object
) -> CaseIn:
    lines = [] if case_type == "compensation" else [{"sku": "SKU-1", "quantity": 1}]
    return CaseIn.model_validate(
        {"order_id": order_id, "type": case_type, "reason": reason, "lines": lines, **extra}
    )


async def opened(db: Database, data: CaseIn) -> int:
    async with db.transaction() as session:
        return (await service.open_case(session, AGENT, data)).id


async def run(db: Database, step: Callable[..., Awaitable[Case]], case_id: int, *args: object) -> Case:
    async with db.transaction() as session:
        return await step(session, AGENT, case_id, *args)


async def case_clocks(db: Database, case_id: int) -> dict[str, tuple[str, datetime]]:
    async with db.transaction() as session:
        return {c.kind: (c.state, c.deadline) for c in await sla.of_subject(session, f"case:{case_id}")}


REVIEW, REFUND = "aftersales.review", "aftersales.refund"
# Monday 10:00 + 5 working days = the next Monday 10:00 (the weekend does not count).
REFUND_BY = START + timedelta(days=7)


async def test_every_step_that_starts_or_stops_a_case_clock(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    # (step, clocks after it) — one row per event that starts or stops a clock.
    refund_only = await opened(db, request(order_id, "refund_only"))
    assert await case_clocks(db, refund_only) == {REVIEW: ("running", START + timedelta(hours=24))}  # open
    await run(db, service.approve, refund_only)
    assert await case_clocks(db, refund_only) == {
        REVIEW: ("met", START + timedelta(hours=24)),  # approve stops the review
        REFUND: ("running", REFUND_BY),  # … and starts the refund of a refund-only case
    }
    await run(db, service.request_refund, refund_only)
    async with db.transaction() as session:
        await service.refund_settled(session, refund_only, 9900)
    assert (await case_clocks(db, refund_only))[REFUND][0] == "met"  # settled stops the refund

    returned = await opened(db, request(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))
    await run(db, service.approve, returned)
    assert set(await case_clocks(db, returned)) == {REVIEW}  # a return refunds after inspection
    await run(db, service.record_return_shipment, returned, ReturnShipmentIn(carrier="SF", tracking_no="SF1"))
    await run(db, service.receive, returned)
    inspection = InspectIn.model_validate({"lines": [{"sku": "SKU-2", "quantity": 1, "result": "restock"}]})
    await run(db, service.inspect, returned, inspection)
    assert (await case_clocks(db, returned))[REFUND] == ("running", REFUND_BY)  # inspection starts it

    rejected = await opened(db, request(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))
    await run(db, service.reject, rejected, "outside the terms")
    assert await case_clocks(db, rejected) == {
        REVIEW: ("met", START + timedelta(hours=24))
    }  # reject stops it

    cancelled = await opened(db, request(order_id, "compensation", "other", amount="5.00"))
    await run(db, service.cancel, cancelled)
    assert (await case_clocks(db, cancelled))[REVIEW][0] == "cancelled"  # cancel ends it early


async def test_a_late_review_is_alerted_to_the_cs_supervisor(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    case_id = await opened(db, request(order_id))

    now.advance(hours=24)
    await sweep(db)

    [alert] = await alerts_for(db, f"case:{case_id}")
    assert (alert.kind, alert.owner, alert.state) == ("sla.breach.aftersales.review", "cs_supervisor", "open")
    await run(db, service.approve, case_id)
    [resolved] = await alerts_for(db, f"case:{case_id}")
    assert resolved.state == "resolved"


async def test_the_order_does_not_close_while_a_case_is_open(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    async with db.transaction() as session:
        await lifecycle.complete(session, SYSTEM, order_id)
    delivered_at = (await order(db, order_id)).delivered_at
    assert delivered_at is not None
    closes = aftersales_closes(delivered_at, policy.current().aftersales)
    case_id = await opened(db, request(order_id, "repair"))

    now.current = closes + timedelta(hours=1)
    await sweep(db)
    assert (await order(db, order_id)).status == "completed"  # the window is over, the case is not

    await run(db, service.reject, case_id, "not a fault")
    await sweep(db)

    assert (await order(db, order_id)).status == "closed"


async def test_an_order_completed_with_a_case_open_waits_at_its_window_end(
    db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)
    case_id = await opened(db, request(order_id))  # opened while delivered: no close clock yet
    async with db.transaction() as session:
        await lifecycle.complete(session, SYSTEM, order_id)
    delivered_at = (await order(db, order_id)).delivered_at
    assert delivered_at is not None
    now.current = aftersales_closes(delivered_at, policy.current().aftersales) + timedelta(minutes=1)

    await sweep(db)

    assert (await order(db, order_id)).status == "completed"
    async with db.transaction() as session:
        [close_clock] = [
            c for c in await sla.of_subject(session, f"order:{order_id}") if c.kind == "order.aftersales"
        ]
    assert close_clock.state == "paused"
    await run(db, service.cancel, case_id)
    await sweep(db)
    assert (await order(db, order_id)).status == "closed"


async def test_the_refund_request_names_the_payment_amount_and_idempotency_key(
    db: Database, now: FakeClock
) -> None:
    order_id = await delivered_order(db)
    case_id = await opened(db, request(order_id, "refund_only"))
    await run(db, service.approve, case_id)

    case = await run(db, service.request_refund, case_id)

    [event] = [e for e in await outbox(db, f"order:{order_id}") if e.event == "aftersales.refund_requested"]
    [refund] = await refunds_of(db, event.payload["payment_id"])
    assert event.payload == {
        "case_id": case_id,
        "case_no": case.case_no,
        "order_id": order_id,
        "type": "refund_only",
        "payment_id": refund.payment_id,
        "refund_id": refund.id,
        "amount": "99.00",
        "idempotency_key": f"case:{case.case_no}:refund",
        "parts": [
            {
                "payment_id": refund.payment_id,
                "refund_id": refund.id,
                "amount": "99.00",
                "idempotency_key": f"case:{case.case_no}:refund",
            }
        ],
    }
    assert (refund.amount, refund.case_id, refund.idempotency_key) == (
        9900,
        case_id,
        f"case:{case.case_no}:refund",
    )


async def test_refund_settled_moves_only_a_refunding_case(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)
    case_id = await opened(db, request(order_id, "refund_only"))

    with pytest.raises(AppError) as refused:
        async with db.transaction() as session:
            await service.refund_settled(session, case_id, 9900)

    assert refused.value.status == 409
    await run(db, service.approve, case_id)
    await run(db, service.request_refund, case_id)
    async with db.transaction() as session:
        settled = await service.refund_settled(session, case_id, 9900)
    assert (settled.state, settled.refunded, settled.refunded_at) == ("refunded", 9900, START)


@pytest.mark.skipif(not IS_POSTGRES, reason="concurrent row locks: PostgreSQL")
async def test_twenty_concurrent_cases_on_the_last_returnable_unit_one_succeeds(committed: Database) -> None:
    order_id = await delivered_order(committed, [("SKU-1", 1, "99.00")])
    data = request(order_id)

    async def attempt() -> str:
        try:
            await opened(committed, data)
        except AppError as exc:
            return exc.code
        return "opened"

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))

    assert sorted(outcomes) == ["not_eligible"] * 19 + ["opened"]
    async with committed.transaction() as session:
        assert len(await service.cases_of_order(session, order_id)) == 1


async def test_an_exchange_does_not_change_the_days_sales_figures(db: Database, now: FakeClock) -> None:
    order_id = await delivered_order(db)  # 190.00 received today
    day = clock.local_day_bounds(clock.today())

    async def figures() -> tuple[int, int, int, list[tuple[str, int, int]]]:
        async with db.transaction() as session:
            takings = await payments.takings(session, day)
            totals = await payments.receipt_totals(session, day[0], day[-1])
        return (
            takings.total,
            takings.orders,
            takings.average_order_value,
            [(t.method, t.count, t.amount) for t in totals],
        )

    before = await figures()
    case_id = await opened(db, request(order_id, "exchange"))
    await run(db, service.approve, case_id)

    case = await run(db, service.exchange, case_id)

    assert case.replacement_order_id is not None
    replacement = await order(db, case.replacement_order_id)
    assert (replacement.channel, replacement.status, replacement.total) == ("exchange", "paid", 0)
    assert before == (19000, 1, 19000, [("alipay", 1, 19000)])
    assert await figures() == before  # not a sale, not a paid order, not in the average
