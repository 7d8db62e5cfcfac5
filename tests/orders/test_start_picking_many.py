"""FUL-1 for a wave: `start_picking_many` moves every order as `start_picking` would, or none."""

from __future__ import annotations

import pytest

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.errors import InvalidTransition
from shopflow.orders.errors import OrderNotFound
from shopflow.orders.service import fulfillment_steps
from tests.builders import lifecycle
from tests.builders.rows import audit_rows, counts


async def test_every_order_starts_picking_with_its_audit_row_in_the_order_given(db: Database) -> None:
    await lifecycle.stocked_store(db, 10)
    first, second, third = [await lifecycle.place(db) for _ in range(3)]
    for order_id in (first, second, third):
        await lifecycle.pay(db, order_id)

    async with db.transaction() as session:
        picked = await fulfillment_steps.start_picking_many(session, SYSTEM, [third, first])

    assert list(picked) == [third, first]
    assert {o.status for o in picked.values()} == {"picking"}
    assert [line.sku_code for line in picked[first].lines] == ["SKU-1"]
    assert [(await lifecycle.order(db, i)).status for i in (first, second, third)] == [
        "picking",
        "paid",
        "picking",
    ]
    trail = await audit_rows(db, "order", first)
    assert (trail[-1].action, trail[-1].before, trail[-1].after) == (
        "order.picking",
        {"status": "paid"},
        {"status": "picking"},
    )
    later = (await audit_rows(db, "order", first))[-1].id
    assert (await audit_rows(db, "order", third))[-1].id < later  # the order given
    async with db.transaction() as session:
        assert await fulfillment_steps.start_picking_many(session, SYSTEM, []) == {}


async def test_one_order_that_may_not_start_picking_refuses_the_batch_and_changes_nothing(
    db: Database,
) -> None:
    await lifecycle.stocked_store(db, 10)
    paid, unpaid = await lifecycle.place(db), await lifecycle.place(db)
    await lifecycle.pay(db, paid)
    before = await counts(db)

    async with db.transaction() as session:
        with pytest.raises(InvalidTransition) as refused:
            await fulfillment_steps.start_picking_many(session, SYSTEM, [paid, unpaid])
    async with db.transaction() as session:
        with pytest.raises(InvalidTransition) as twice:
            await fulfillment_steps.start_picking_many(session, SYSTEM, [paid, paid])
    async with db.transaction() as session:
        with pytest.raises(OrderNotFound):
            await fulfillment_steps.start_picking_many(session, SYSTEM, [paid, 987654])

    assert (refused.value.code, refused.value.current, refused.value.target) == (
        "invalid_transition",
        "confirmed",
        "picking",
    )
    assert twice.value.current == "picking"
    assert [(await lifecycle.order(db, i)).status for i in (paid, unpaid)] == ["paid", "confirmed"]
    assert await counts(db) == before


async def test_start_picking_of_one_order_is_the_batch_of_one(db: Database) -> None:
    await lifecycle.stocked_store(db, 10)
    order_id = await lifecycle.place(db)

    async with db.transaction() as session:
        with pytest.raises(InvalidTransition):
            await fulfillment_steps.start_picking(session, SYSTEM, order_id)
    await lifecycle.pay(db, order_id)
    async with db.transaction() as session:
        order = await fulfillment_steps.start_picking(session, SYSTEM, order_id)

    assert order.status == "picking" and (await lifecycle.order(db, order_id)).status == "picking"
    assert [r.action for r in await audit_rows(db, "order", order_id)][-2:] == ["order.paid", "order.picking"]
