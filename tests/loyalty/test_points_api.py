"""Points (LOY-1, issue 16 item 1) through the API: earned on completion at 1 point per yuan paid
after discounts, redeemed at checkout within the balance and the policy's share (422 naming
`points` otherwise), returned when the order is cancelled, taken back exactly for the lines
refunded, adjusted by hand with a reason, expired by the worker; the balance is the ledger's sum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from shopflow import worker
from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.loyalty import points
from shopflow.loyalty.models import CouponKind
from shopflow.loyalty.schemas import CouponIn
from shopflow.orders.models import Order
from shopflow.payments.models import Refund
from tests.builders.aftersales import act, case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.refunds import settle
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

THREE_LINES = [("SKU-1", 1, "99.00"), ("SKU-2", 1, "45.50"), ("SKU-3", 1, "12.00")]  # 156.50


async def customer_of(db: Database, order_id: int) -> int:
    async with db.transaction() as session:
        customer_id = await session.scalar(select(Order.customer_id).where(Order.id == order_id))
    assert customer_id is not None
    return int(customer_id)


async def member(client: httpx.AsyncClient, headers: dict[str, str], customer_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/members/{customer_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def adjust(
    client: httpx.AsyncClient, headers: dict[str, str], customer_id: int, n: int, reason: str = "goodwill"
) -> httpx.Response:
    body = {"points": n, "reason": reason}
    return await client.post(f"/api/v1/members/{customer_id}/points", json=body, headers=headers)


async def sum_matches(db: Database, customer_id: int) -> int:
    """The balance, checked to be the ledger's sum."""
    async with db.transaction() as session:
        held, total = (
            await points.balance(session, customer_id),
            await points.ledger_sum(session, customer_id),
        )
    assert held == total >= 0
    return held


async def test_points_are_earned_on_completion_after_discounts_one_per_yuan(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(
        db, THREE_LINES, CouponIn(code="TEN", kind=CouponKind.FIXED, value="10.00")
    )
    agent = await bearer(db, "customer_service")
    customer_id = await customer_of(db, order_id)
    assert (await member(client, agent, customer_id))["balance"] == 0  # nothing before completion

    done = await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)
    assert done.status_code == 200, done.text

    found = await member(client, agent, customer_id)
    # 156.50 - 10.00 paid for the goods: 146 points, shared by the lines' values after discount.
    assert found["balance"] == 146 == await sum_matches(db, customer_id)
    earned = [e for e in found["ledger"]["items"] if e["kind"] == "earn"]
    assert sorted(e["points"] for e in earned) == [11, 43, 92]  # largest remainder of 146
    assert {e["order_id"] for e in earned} == {order_id}
    assert all(e["expires_at"] is not None for e in earned)


async def test_a_refund_of_one_of_three_lines_takes_back_exactly_that_lines_points(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(
        db, THREE_LINES, CouponIn(code="TEN", kind=CouponKind.FIXED, value="10.00")
    )
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    customer_id = await customer_of(db, order_id)
    await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)
    earned = {
        e["order_line_id"]: e["points"] for e in (await member(client, agent, customer_id))["ledger"]["items"]
    }

    case = await open_case(client, agent, case_body(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))
    await _refund(client, agent, warehouse, db, case["id"])

    found = await member(client, agent, customer_id)
    reversed_ = [e for e in found["ledger"]["items"] if e["kind"] == "reverse"]
    assert len(reversed_) == 1
    line_id = reversed_[0]["order_line_id"]
    assert reversed_[0]["points"] == -earned[line_id] == -43  # SKU-2 (42.59 of 146.50 paid): its 43
    assert found["balance"] == 146 - 43 == await sum_matches(db, customer_id)


async def _refund(
    client: httpx.AsyncClient, agent: dict[str, str], warehouse: dict[str, str], db: Database, case_id: int
) -> None:
    """A no-reason return approved, shipped back, received, inspected and refunded (sandbox)."""
    assert (await act(client, agent, case_id, "approve"))["state"] == "approved"
    await act(client, agent, case_id, "return-shipment", {"carrier": "SF", "tracking_no": f"SF{case_id}"})
    await act(client, warehouse, case_id, "receive")
    case = await act(
        client, warehouse, case_id, "inspect", {"lines": _inspect(await _case(client, agent, case_id))}
    )
    assert case["state"] == "inspected", case
    assert (await act(client, agent, case_id, "refund"))["state"] == "refunding"
    async with db.transaction() as session:
        refund_ids = list(await session.scalars(select(Refund.id).where(Refund.case_id == case_id)))
    admin = await bearer(db, "admin")
    for refund_id in refund_ids:  # the sandbox gateway's signed callback settles each part
        await settle(client, admin, refund_id, "succeeded")
    assert (await _case(client, agent, case_id))["state"] == "refunded"


async def _case(client: httpx.AsyncClient, headers: dict[str, str], case_id: int) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/aftersales/cases/{case_id}", headers=headers)).json())


def _inspect(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"sku": line["sku"], "quantity": line["quantity"], "result": "restock", "warehouse": "WH-A"}
        for line in case["lines"]
    ]


async def test_points_are_redeemed_at_checkout_within_balance_and_share_and_come_back_on_cancel(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales, manager = await bearer(db, "sales"), await bearer(db, "manager")
    first = await client.post("/api/v1/orders", json=order_body([("SKU-3", 1, "12.00")]), headers=sales)
    customer_id = await customer_of(db, first.json()["id"])
    assert (await adjust(client, manager, customer_id, 3000)).status_code == 201

    too_many = await client.post("/api/v1/orders", json=order_body(THREE_LINES, points=5000), headers=sales)
    beyond = await client.post(
        "/api/v1/orders", json=order_body([("SKU-3", 1, "12.00")], points=601), headers=sales
    )
    redeemed = await client.post("/api/v1/orders", json=order_body(THREE_LINES, points=2500), headers=sales)

    assert too_many.status_code == 422
    assert too_many.json()["errors"] == [
        {"field": "points", "message": "the member has 3000 points, not 5000"}
    ]
    assert beyond.status_code == 422  # 50% of 12.00 is 600 points at most
    assert "at most 600 points on this order" in beyond.json()["errors"][0]["message"]
    assert redeemed.status_code == 201, redeemed.text
    order = redeemed.json()
    assert order["discounts"] == [{"kind": "points", "code": None, "points": 2500, "amount": "25.00"}]
    assert order["totals"]["total"] == "131.50"
    assert [line["discount"] for line in order["lines"]] == ["15.81", "7.27", "1.92"]  # largest remainder
    assert (
        (await member(client, manager, customer_id))["balance"] == 500 == await sum_matches(db, customer_id)
    )

    cancelled = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "test"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (
        (await member(client, manager, customer_id))["balance"] == 3000 == await sum_matches(db, customer_id)
    )


async def test_adjustments_need_a_reason_and_authority_and_never_go_below_zero(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales, supervisor = await bearer(db, "sales"), await bearer(db, "cs_supervisor")
    placed = await client.post("/api/v1/orders", json=order_body([("SKU-3", 1, "12.00")]), headers=sales)
    customer_id = await customer_of(db, placed.json()["id"])

    assert (await adjust(client, sales, customer_id, 100)).status_code == 403
    assert (await adjust(client, supervisor, customer_id, 100, reason="")).status_code == 422
    given = await adjust(client, supervisor, customer_id, 100, reason="生日礼")
    taken = await adjust(client, supervisor, customer_id, -101)
    unknown = await client.get("/api/v1/members/999999", headers=supervisor)

    assert given.status_code == 201 and given.json()["balance"] == 100
    assert taken.status_code == 422
    assert taken.json()["errors"][0] == {
        "field": "points",
        "message": "the member has 100 points: cannot take 101",
    }
    assert unknown.status_code == 404
    assert [r.action for r in await audit_rows(db, "customer", customer_id)][-1:] == ["points.adjusted"]
    assert await sum_matches(db, customer_id) == 100


async def test_credits_expire_at_the_end_of_the_next_year_spending_the_oldest_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    sales, manager = await bearer(db, "sales"), await bearer(db, "manager")
    placed = await client.post("/api/v1/orders", json=order_body([("SKU-3", 1, "12.00")]), headers=sales)
    customer_id = await customer_of(db, placed.json()["id"])
    start = datetime(2026, 3, 1, 4, tzinfo=UTC)
    with clock.use(clock.FakeClock(start)):
        await adjust(client, manager, customer_id, 300, reason="2026")
        await adjust(client, manager, customer_id, -100, reason="spent")  # the oldest credit first
    with clock.use(clock.FakeClock(datetime(2027, 6, 1, tzinfo=UTC))):
        await adjust(client, manager, customer_id, 50, reason="2027")
    # Points of 2026 expire when 2027 ends in the store's zone (UTC+8: 2027-12-31 16:00 UTC).
    with clock.use(clock.FakeClock(datetime(2027, 12, 31, 15, 59, tzinfo=UTC))):
        async with db.transaction() as session:
            await worker.SWEEPS["points.expiry"](session)
    assert await sum_matches(db, customer_id) == 250
    with clock.use(clock.FakeClock(datetime(2027, 12, 31, 16, 0, 1, tzinfo=UTC))):
        async with db.transaction() as session:
            assert await worker.SWEEPS["points.expiry"](session) == 1
        async with db.transaction() as session:
            assert await worker.SWEEPS["points.expiry"](session) == 0  # once
    assert await sum_matches(db, customer_id) == 50  # 300 - 100 spent: 200 expired; 2027's 50 stay
    expired = [
        e for e in (await member(client, manager, customer_id))["ledger"]["items"] if e["kind"] == "expire"
    ]
    assert [e["points"] for e in expired] == [-200]
    with clock.use(clock.FakeClock(start + timedelta(days=3 * 366))):
        async with db.transaction() as session:
            await worker.SWEEPS["points.expiry"](session)
    assert await sum_matches(db, customer_id) == 0
