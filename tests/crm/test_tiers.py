"""Member tiers (LOY-2, issue 16 item 2): silver, gold and diamond by net spend over the rolling
window, reviewed on completion, on a settled refund and by the daily walk; a change audited and
told to the member; the tier's discount a discount line at intake."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from shopflow import worker
from shopflow.core import auth, clock, policy
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.crm.models import Customer, Tier, ValueEntry
from shopflow.crm.tiers import TIER_EVENT, tier_for
from shopflow.orders.models import Order
from shopflow.payments.models import Refund
from tests.builders.aftersales import act, case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.orders import order_body
from tests.builders.refunds import settle
from tests.builders.rows import audit_rows
from tests.builders.store import small_store
from tests.builders.tickets import cs_team, ticket_body

THREE_LINES = [("SKU-1", 1, "99.00"), ("SKU-2", 1, "45.50"), ("SKU-3", 1, "12.00")]  # 156.50
# Gold from 100.00 spent with 2% off, diamond from 1,000.00 with 5%.
LOW = {
    "loyalty": {
        "tiers": [
            {"name": "silver", "min_spend": "0.00"},
            {"name": "gold", "min_spend": "100.00", "discount_percent": 2},
            {"name": "diamond", "min_spend": "1000.00", "discount_percent": 5},
        ]
    }
}


@pytest.mark.parametrize(
    ("spend", "tier"),
    [(0, Tier.SILVER), (9_999, Tier.SILVER), (200_000, Tier.GOLD), (1_000_000, Tier.DIAMOND)],
)
def test_the_highest_tier_reached_by_the_spend_and_a_first_tier_from_zero(spend: int, tier: Tier) -> None:
    assert tier_for(spend, policy.Loyalty().tiers) == tier


def test_without_a_tier_from_zero_a_small_spender_has_none_and_tiers_must_rise() -> None:
    gold_only = policy.Loyalty.model_validate({"tiers": [{"name": "gold", "min_spend": "100.00"}]}).tiers
    assert tier_for(9_999, gold_only) == Tier.NONE
    with pytest.raises(ValidationError, match="rising"):
        policy.Loyalty.model_validate(
            {"tiers": [{"name": "gold", "min_spend": "100.00"}, {"name": "silver", "min_spend": "50.00"}]}
        )


async def _tier(db: Database, order_id: int) -> tuple[int, str]:
    async with db.transaction() as session:
        customer_id = await session.scalar(select(Order.customer_id).where(Order.id == order_id))
        tier = await session.scalar(select(Customer.tier).where(Customer.id == customer_id))
    assert customer_id is not None and tier is not None
    return int(customer_id), str(tier)


async def _told(db: Database, customer_id: int) -> list[str]:
    async with db.transaction() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.event == TIER_EVENT).order_by(OutboxEvent.id)
        return [
            e.payload["to"] for e in await session.scalars(stmt) if e.payload["customer_id"] == customer_id
        ]


async def test_a_completed_order_raises_the_tier_whose_discount_the_next_order_gets_and_a_refund_lowers_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    policy.install(policy.Policy.model_validate(LOW))
    order_id = await delivered_order(db, THREE_LINES)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    customer_id, tier = await _tier(db, order_id)
    assert tier == Tier.NONE  # not reviewed before its first completion

    done = await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)
    assert done.status_code == 200, done.text

    assert (await _tier(db, order_id))[1] == Tier.GOLD  # 156.50 paid in the window
    assert await _told(db, customer_id) == ["gold"]
    [row] = [r for r in await audit_rows(db, "customer", customer_id) if r.action == "customer.tier_changed"]
    assert row.after == {"customer_id": customer_id, "from": "none", "to": "gold", "spend": "156.50"}
    member = (await client.get(f"/api/v1/members/{customer_id}", headers=agent)).json()
    assert member["tier"] == "gold"

    # The gold member's next order: 2% of its goods off, a discount line shared by its lines.
    sales = await bearer(db, "sales")
    again = await client.post("/api/v1/orders", json=order_body([("SKU-2", 2, "45.50")]), headers=sales)
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["discounts"] == [{"kind": "tier", "code": "gold", "points": None, "amount": "1.82"}]
    assert [line["discount"] for line in body["lines"]] == ["1.82"]
    detail = (await client.get(f"/api/v1/orders/{body['id']}", headers=sales)).json()
    assert detail["discounts"] == [{"kind": "tier", "code": None, "points": None, "amount": "1.82"}]

    # A refund of SKU-1 (99.00 less its nothing of discount) leaves 57.50 spent: silver again.
    case = await open_case(client, agent, case_body(order_id, lines=[{"sku": "SKU-1", "quantity": 1}]))
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "return-shipment", {"carrier": "SF", "tracking_no": "SF9"})
    await act(client, warehouse, case["id"], "receive")
    inspection = {"lines": [{"sku": "SKU-1", "quantity": 1, "result": "restock", "warehouse": "WH-A"}]}
    await act(client, warehouse, case["id"], "inspect", inspection)
    await act(client, agent, case["id"], "refund")
    async with db.transaction() as session:
        refund_ids = list(await session.scalars(select(Refund.id).where(Refund.case_id == case["id"])))
    for refund_id in refund_ids:
        await settle(client, await bearer(db, "admin"), refund_id, "succeeded")

    assert (await _tier(db, order_id))[1] == Tier.SILVER
    assert await _told(db, customer_id) == ["gold", "silver"]


async def test_the_daily_walk_lowers_a_tier_whose_spend_left_the_window(
    client: httpx.AsyncClient, db: Database
) -> None:
    policy.install(policy.Policy.model_validate(LOW))
    order_id = await delivered_order(db, THREE_LINES)
    agent = await bearer(db, "customer_service")
    await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)
    customer_id, tier = await _tier(db, order_id)
    assert tier == Tier.GOLD
    async with db.transaction() as session:  # the payment a year and a day ago
        await session.execute(
            update(ValueEntry)
            .where(ValueEntry.customer_id == customer_id)
            .values(at=clock.now() - timedelta(days=366))
        )
        assert await worker.SWEEPS["service.care"](session) >= 1

    assert (await _tier(db, order_id))[1] == Tier.SILVER
    assert await _told(db, customer_id) == ["gold", "silver"]


async def test_joining_the_entry_tier_is_audited_but_nobody_is_told(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db, THREE_LINES)  # the default tiers: silver from 0.00
    agent = await bearer(db, "customer_service")

    await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)

    customer_id, tier = await _tier(db, order_id)
    assert tier == Tier.SILVER
    assert await _told(db, customer_id) == []
    assert [
        r.after["to"] for r in await audit_rows(db, "customer", customer_id) if r.after and "to" in r.after
    ] == ["silver"]


async def test_a_new_diamond_member_gets_the_least_busy_agent_who_takes_their_tickets_while_on_duty(
    client: httpx.AsyncClient, db: Database
) -> None:
    """LOY-2: reaching a tier with dedicated agents gives the member the agent with the fewest
    such members (audited); their tickets go to that agent while on duty, else the usual way."""
    policy.install(
        policy.Policy.model_validate(
            {
                "loyalty": {
                    "tiers": [
                        {"name": "silver", "min_spend": "0.00"},
                        {"name": "diamond", "min_spend": "100.00", "dedicated_agent": True},
                    ]
                }
            }
        )
    )
    order_id = await delivered_order(db, THREE_LINES)
    await cs_team(db, "ann", "bob")
    supervisor, sales = await bearer(db, "cs_supervisor"), await bearer(db, "sales")
    other = await client.post(
        "/api/v1/orders",
        json=order_body([("SKU-2", 1, "45.50")], customer={"name": "李四", "phone": "13900139000"}),
        headers=sales,
    )
    other_id, _ = await _tier(db, other.json()["id"])
    named = await client.put(f"/api/v1/members/{other_id}/agent", json={"agent": "ann"}, headers=supervisor)
    assert named.status_code == 200, named.text
    assert named.json()["agent"] == "ann"
    agent = await bearer(db, "customer_service")

    await client.post(f"/api/v1/orders/{order_id}/confirm-receipt", headers=agent)

    customer_id, tier = await _tier(db, order_id)
    assert tier == Tier.DIAMOND
    member = (await client.get(f"/api/v1/members/{customer_id}", headers=agent)).json()
    assert member["agent"] == "bob"  # ann serves one member already
    async with db.transaction() as session:
        bob = (await auth.find_user(session, "bob")).id
    [row] = [
        r for r in await audit_rows(db, "customer", customer_id) if r.action == "customer.agent_assigned"
    ]
    assert (row.before, row.after) == ({"agent_id": None}, {"agent_id": bob})
    ticket = await client.post("/api/v1/tickets", json=ticket_body(customer_id=customer_id), headers=agent)
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["assignee"] == "bob"
    async with db.transaction() as session:
        (await auth.find_user(session, "bob")).on_duty = False
    usual = await client.post("/api/v1/tickets", json=ticket_body(customer_id=customer_id), headers=agent)
    assert usual.json()["assignee"] != "bob"


@pytest.mark.parametrize(
    ("agent", "status", "field"),
    [("nobody", 422, "agent"), ("sue", 422, "agent"), ("ann", 403, None)],
)
async def test_only_a_supervisor_names_a_dedicated_agent_and_only_an_active_agent(
    client: httpx.AsyncClient, db: Database, agent: str, status: int, field: str | None
) -> None:
    await small_store(db)
    await cs_team(db, "ann", supervisors=("sue",))
    sales = await bearer(db, "sales")
    order = await client.post("/api/v1/orders", json=order_body([("SKU-2", 1, "45.50")]), headers=sales)
    customer_id, _ = await _tier(db, order.json()["id"])
    who = await bearer(db, "customer_service" if status == 403 else "manager")

    reply = await client.put(f"/api/v1/members/{customer_id}/agent", json={"agent": agent}, headers=who)

    assert reply.status_code == status, reply.text
    if field is not None:
        assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert (await client.get(f"/api/v1/members/{customer_id}", headers=sales)).json()["agent"] is None
