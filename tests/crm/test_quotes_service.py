"""Quote use cases (CRM-6, CAT-2, ORD-5) against the database: the approval trail, contract
numbers per day, a credit order picked unpaid in a wave, a prepaid one on its pay clock, and the
worker's expiry sweep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shopflow import worker
from shopflow.core import approvals, audit, auth, clock
from shopflow.core.audit import Actor
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.errors import InvalidTransition
from shopflow.core.sla.models import SlaClock
from shopflow.crm.quotes import service
from shopflow.crm.quotes.models import QuoteState
from shopflow.crm.quotes.schemas import QuoteIn
from shopflow.fulfillment.service import waves
from shopflow.orders.models import Order, OrderClock, OrderStatus
from tests.builders.inventory import receive
from tests.builders.lifecycle import stocked_store
from tests.builders.quotes import a_customer, quote_body

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def _people(db: Database) -> tuple[Actor, Actor]:
    async with db.transaction() as session:
        seller = await auth.add_user(session, audit.SYSTEM, "seller", "sales")
        boss = await auth.add_user(session, audit.SYSTEM, "boss", "manager")
    return Actor(seller.id, "seller", "sales"), Actor(boss.id, "boss", "manager")


async def _sent(db: Database, seller: Actor, boss: Actor, body: dict[str, object]) -> int:
    async with db.transaction() as session:
        quote = await service.create(session, seller, QuoteIn.model_validate(body))
        quote = await service.submit(session, seller, quote.id)
        if quote.state == QuoteState.PENDING_APPROVAL:
            await service.decide(session, boss, quote.id, True, "ok")
        await service.send(session, seller, quote.id)
        return quote.id


async def test_the_approval_is_requested_and_decided_with_an_audit_trail(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    seller, boss = await _people(db)
    customer = await a_customer(db)
    quote_id = await _sent(db, seller, boss, quote_body(customer, [("SKU-1", 1, "99.00", "20")]))

    async with db.transaction() as session:
        (approval,) = await service.approvals_of(session, quote_id)
        trail = [e.action for e in await audit.trail(session, "approval", approval.id)]
        quote_trail = [e.action for e in await audit.trail(session, "quote", quote_id)]
    assert (approval.state, approval.requested_by_name, approval.approver_name) == (
        "approved",
        "seller",
        "boss",
    )
    assert approval.kind == "quote.discount" and approval.discount_percent == 20.0
    assert trail == ["approval.requested", "approval.approved"]
    assert quote_trail == ["quote.created", "quote.pending_approval", "quote.approved", "quote.sent"]


async def test_a_decided_request_is_not_decided_again(db: Database, now: FakeClock) -> None:
    await stocked_store(db, 100)
    seller, boss = await _people(db)
    customer = await a_customer(db)
    quote_id = await _sent(db, seller, boss, quote_body(customer, [("SKU-1", 1, "99.00", "20")]))
    async with db.transaction() as session:
        (approval,) = await service.approvals_of(session, quote_id)
        with pytest.raises(InvalidTransition):
            await approvals.decide(session, boss, approval.id, False, "again")


async def test_contracts_are_numbered_per_day_and_a_credit_order_is_picked_unpaid(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    seller, boss = await _people(db)
    customer = await a_customer(db)
    first = await _sent(db, seller, boss, quote_body(customer, [("SKU-1", 2, "99.00", "0")], terms="net60"))
    second = await _sent(
        db, seller, boss, quote_body(customer, [("SKU-1", 3, "99.00", "0")], terms="prepaid")
    )
    async with db.transaction() as session:
        on_credit = await service.accept(session, seller, first)
        prepaid = await service.accept(session, seller, second)
    assert (on_credit.contract_no, prepaid.contract_no) == ("HT202612070001", "HT202612070002")
    assert on_credit.payment_due_at == START + timedelta(days=60)
    assert prepaid.payment_due_at is None

    async with db.transaction() as session:
        clocks = dict(
            (
                await session.execute(
                    select(SlaClock.subject, SlaClock.kind).where(SlaClock.state == "running")
                )
            )
            .tuples()
            .all()
        )
        built = await waves.build_waves(session, audit.SYSTEM)
        picked = {o.id: o.status for o in (await session.scalars(select(Order))).all()}
    assert clocks[f"order:{prepaid.order_id}"] == OrderClock.PAY  # prepaid: ORD-5 as usual
    assert clocks[f"order:{on_credit.order_id}"] == OrderClock.SHIP
    assert len(built) == 1
    assert picked == {on_credit.order_id: OrderStatus.PICKING, prepaid.order_id: OrderStatus.CONFIRMED}


async def test_the_worker_expires_approved_and_sent_quotes_past_their_validity(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    seller, boss = await _people(db)
    customer = await a_customer(db)
    sent = await _sent(db, seller, boss, quote_body(customer))
    async with db.transaction() as session:
        draft = (await service.create(session, seller, QuoteIn.model_validate(quote_body(customer)))).id

    now.advance(days=14)
    async with db.transaction() as session:
        assert await worker.SWEEPS["quotes.expiry"](session) == 0
    now.advance(days=2)
    async with db.transaction() as session:
        assert await worker.SWEEPS["quotes.expiry"](session) == 1
        states = {q: (await service.get_quote(session, q)).state for q in (sent, draft)}
    assert states == {sent: QuoteState.EXPIRED, draft: QuoteState.DRAFT}


async def test_a_credit_order_held_for_a_shortage_gets_no_pay_clock_when_released(
    db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 2)
    seller, boss = await _people(db)
    customer = await a_customer(db)
    quote_id = await _sent(
        db, seller, boss, quote_body(customer, [("SKU-1", 5, "99.00", "0")], terms="net30")
    )
    async with db.transaction() as session:
        contract = await service.accept(session, seller, quote_id)
    await receive(db, "WH-A", {"SKU-1": 10})

    async with db.transaction() as session:
        held = await session.get(Order, contract.order_id)
        assert held is not None and held.status == OrderStatus.ON_HOLD
        await worker.SWEEPS["orders.shortages"](session)
        kinds = (
            await session.scalars(
                select(SlaClock.kind).where(SlaClock.subject == f"order:{contract.order_id}")
            )
        ).all()
    assert list(kinds) == [OrderClock.SHIP]
