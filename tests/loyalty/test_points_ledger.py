"""The points ledger as an invariant (LOY-1, issue 16's proof), stated with hypothesis: over random
sequences of earning, redeeming, refunding and cancelling, a member's balance is the sum of their
entries and never below zero; an order refunded in full, in any number of parts, leaves the
balance as it was before the order."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopflow import wiring
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.loyalty import points
from shopflow.loyalty.points import PointsRefused
from shopflow.orders.models import Order, line_values
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake, queries
from tests.builders.orders import order_body
from tests.builders.store import small_store

PHONES = itertools.count(13700000000)
SKUS = [("SKU-1", "99.00"), ("SKU-2", "45.50"), ("SKU-3", "12.00")]
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
lines_st = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=3, unique_by=lambda t: t[0]
)


@pytest.fixture
async def store(db: Database) -> Database:
    wiring.connect()  # orders find their customer (CRM-1)
    await small_store(db, {"SKU-1": (10_000, 0), "SKU-2": (10_000, 0), "SKU-3": (10_000, 0)})
    return db


async def _member(db: Database, given_points: int) -> tuple[str, int]:
    """A new buyer with `given_points` by hand: their phone and customer id."""
    phone = str(next(PHONES))
    order = await _place(db, phone, [(SKUS[2], 1)], None)
    assert order is not None and order.customer_id is not None
    if given_points:
        async with db.transaction() as session:
            await points.adjust(session, SYSTEM, order.customer_id, given_points, "start")
    return phone, order.customer_id


async def _place(
    db: Database, phone: str, lines: list[tuple[tuple[str, str], int]], redeem: int | None
) -> Order | None:
    body = order_body(
        [(sku, q, price) for (sku, price), q in lines],
        customer={"name": "会员", "phone": phone},
        points=redeem,
    )
    try:
        async with db.transaction() as session:
            placed = await intake.place_order(session, SYSTEM, OrderIn.model_validate(body), None)
    except PointsRefused:
        return None
    async with db.transaction() as session:  # as stored: its lines with their ids
        return await queries.get_order(session, placed.order.id)


async def _balance(db: Database, customer_id: int) -> int:
    async with db.transaction() as session:
        held, total = (
            await points.balance(session, customer_id),
            await points.ledger_sum(session, customer_id),
        )
    assert held == total >= 0
    return held


async def _earn(db: Database, order_id: int) -> None:
    async with db.transaction() as session:
        order = await queries.get_order(session, order_id)
        await points.earn(session, order.id, order.customer_id, line_values(order))


async def _refund(db: Database, order_id: int, units: dict[int, int]) -> None:
    async with db.transaction() as session:
        order = await queries.get_order(session, order_id)
        await points.refunded(session, order.id, order.customer_id, line_values(order), units)


@EXAMPLES
@given(
    start=st.integers(0, 3000),
    orders=st.lists(st.tuples(lines_st, st.integers(0, 4000)), min_size=1, max_size=3),
    steps=st.lists(
        st.tuples(st.sampled_from(["earn", "refund", "cancel"]), st.integers(0, 2), st.integers(0, 5)),
        max_size=8,
    ),
)
async def test_the_balance_is_the_ledgers_sum_and_never_negative(
    store: Database,
    start: int,
    orders: list[tuple[list[tuple[tuple[str, str], int]], int]],
    steps: list[tuple[str, int, int]],
) -> None:
    phone, customer_id = await _member(store, start)
    placed: list[Order] = []
    for lines, redeem in orders:
        order = await _place(store, phone, lines, redeem or None)
        if order is not None:
            placed.append(order)
        await _balance(store, customer_id)
    earned: set[int] = set()
    refunded: Counter[int] = Counter()
    cancelled: set[int] = set()
    for action, which, size in steps:
        if not placed:
            break
        order = placed[which % len(placed)]
        if order.id in cancelled:
            continue
        if action == "earn" and order.id not in earned:
            await _earn(store, order.id)
            earned.add(order.id)
        elif action == "refund":
            line = order.lines[size % len(order.lines)]
            count = min(size % 3 + 1, line.quantity - refunded[line.id])
            if count > 0:
                await _refund(store, order.id, {line.id: count})
                refunded[line.id] += count
        elif (
            action == "cancel"
            and order.id not in earned
            and not any(refunded[line.id] for line in order.lines)
        ):
            async with store.transaction() as session:
                await points.return_for_order(session, order.id)
            cancelled.add(order.id)
        await _balance(store, customer_id)


@EXAMPLES
@given(
    start=st.integers(0, 3000),
    lines=lines_st,
    redeem=st.integers(0, 3000),
    earn_first=st.booleans(),
    cuts=st.lists(st.integers(0, 100), max_size=4),
)
async def test_an_order_refunded_in_full_leaves_the_balance_as_before_it(
    store: Database,
    start: int,
    lines: list[tuple[tuple[str, str], int]],
    redeem: int,
    earn_first: bool,
    cuts: list[int],
) -> None:
    phone, customer_id = await _member(store, start)
    before = await _balance(store, customer_id)
    order = await _place(store, phone, lines, redeem or None)
    if order is None:  # more than the balance or the share: nothing was taken
        assert await _balance(store, customer_id) == before
        return
    if earn_first:
        await _earn(store, order.id)
    # Every unit refunded, in parts: each cut refunds one unit of a line while units are left.
    left = {line.id: line.quantity for line in order.lines}
    for cut in cuts:
        line_id = sorted(left)[cut % len(left)]
        if left[line_id] > 1:
            await _refund(store, order.id, {line_id: 1})
            left[line_id] -= 1
    await _refund(store, order.id, {line_id: units for line_id, units in left.items()})
    if not earn_first:  # completed after the refunds: nothing is left to earn
        await _earn(store, order.id)

    assert await _balance(store, customer_id) == before
