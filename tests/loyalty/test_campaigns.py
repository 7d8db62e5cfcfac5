"""Campaigns through the API (LOY-3, issue 16 items 4 and 8): created with their window, channels,
coupons and price rules (refused by field), and their figures: the orders attributed through the
coupons (a cancelled one not counted) or the price rules, sales, discounts, uses, new members,
gross margin and ROI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from shopflow.catalog.models import Sku
from shopflow.core import clock, money
from shopflow.core.db import Database
from shopflow.inventory.models import Reservation
from shopflow.loyalty.campaign_models import Campaign
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.rows import audit_rows


async def _store(db: Database) -> tuple[dict[str, str], dict[str, str]]:
    """Three SKUs in stock (cost: half the price); an operations user's and a sales user's headers."""
    await add_product(db, {"TEA-1": 3000, "CUP-1": 5000, "POT-1": 12000})
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"TEA-1": 100, "CUP-1": 100, "POT-1": 100})
    return await bearer(db, "operations"), await bearer(db, "sales")


async def _coupon(client: httpx.AsyncClient, headers: dict[str, str], code: str, value: str) -> int:
    reply = await client.post(
        "/api/v1/coupons", json={"code": code, "kind": "fixed", "value": value}, headers=headers
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def _window(**fields: Any) -> dict[str, Any]:
    now = clock.now()
    return {
        "name": "双十二",
        "theme": "年终大促",
        "kind": "holiday",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        **fields,
    }


async def _order(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    phone: str,
    lines: list[tuple[str, int, str]],
    **fields: Any,
) -> dict[str, Any]:
    customer = {"name": "李四", "phone": phone, "email": f"{phone}@example.cn"}
    reply = await client.post(
        "/api/v1/orders", json=order_body(lines, customer=customer, **fields), headers=headers
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def test_a_campaign_is_created_listed_read_and_audited(client: httpx.AsyncClient, db: Database) -> None:
    ops, _ = await _store(db)
    ten = await _coupon(client, ops, "TEN", "10.00")

    reply = await client.post(
        "/api/v1/campaigns",
        json=_window(
            channels=["web"], coupon_ids=[ten], gift_sku="CUP-1", gift_min_spend="299.00", budget="5000"
        ),
        headers=ops,
    )

    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert (made["kind"], made["channels"], made["coupon_ids"]) == ("holiday", ["web"], [ten])
    assert (made["gift_sku"], made["gift_min_spend"], made["budget"]) == ("CUP-1", "299.00", "5000.00")
    listed = (await client.get("/api/v1/campaigns", headers=ops)).json()
    assert ([c["id"] for c in listed["items"]], listed["total"]) == ([made["id"]], 1)
    assert (await client.get(f"/api/v1/campaigns/{made['id']}", headers=ops)).json() == made
    assert (await client.get("/api/v1/campaigns/999999", headers=ops)).status_code == 404
    assert [r.action for r in await audit_rows(db, "campaign", made["id"])] == ["campaign.created"]


async def test_bad_campaigns_are_refused_by_field_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    now = clock.now()
    cases = [
        (_window(ends_at=(now - timedelta(days=2)).isoformat()), "ends_at"),
        (_window(coupon_ids=[424242]), "coupon_ids"),
        (_window(price_rule_ids=[424242]), "price_rule_ids"),
        (_window(channels=["nowhere"]), "channels"),
        (_window(gift_sku="NOPE"), "gift_sku"),
        (_window(gift_min_spend="10.00"), "gift_sku"),
        (_window(kind="flash"), "kind"),
        (_window(budget="-1"), "budget"),
    ]
    for body, field in cases:
        reply = await client.post("/api/v1/campaigns", json=body, headers=ops)
        assert reply.status_code == 422, (body, reply.text)
        assert field in [e["field"] for e in reply.json()["errors"]], (body, reply.text)
    assert (await client.post("/api/v1/campaigns", json=_window(), headers=sales)).status_code == 403
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_the_figures_count_the_coupon_orders_of_the_window_and_channels_but_not_a_cancelled_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    ten, five, other = (
        await _coupon(client, ops, "TEN", "10.00"),
        await _coupon(client, ops, "FIVE", "5.00"),
        await _coupon(client, ops, "OTHER", "3.00"),
    )
    made = (
        await client.post(
            "/api/v1/campaigns", json=_window(channels=["web"], coupon_ids=[ten, five]), headers=ops
        )
    ).json()
    # A returning buyer: an order before, without a coupon (not attributed; B is no new member).
    await _order(client, sales, "13900000002", [("TEA-1", 1, "30.00")])
    first = await _order(
        client, sales, "13900000001", [("TEA-1", 1, "30.00"), ("CUP-1", 1, "50.00")], coupons=["TEN"]
    )
    second = await _order(client, sales, "13900000002", [("POT-1", 1, "120.00")], coupons=["FIVE"])
    cancelled = await _order(client, sales, "13900000003", [("CUP-1", 2, "50.00")], coupons=["TEN"])
    await _order(client, sales, "13900000004", [("CUP-1", 1, "50.00")], coupons=["OTHER"])  # not its coupon
    await _order(client, sales, "13900000005", [("CUP-1", 1, "50.00")], coupons=["FIVE"], channel="manual")
    reply = await client.post(
        f"/api/v1/orders/{cancelled['id']}/cancel", json={"reason": "changed mind"}, headers=ops
    )
    assert reply.status_code == 200, reply.text
    assert other

    figures = (await client.get(f"/api/v1/campaigns/{made['id']}/metrics", headers=ops)).json()

    assert (figures["state"], figures["orders"], figures["coupon_uses"], figures["new_members"]) == (
        "running",
        2,
        2,
        1,
    )
    assert figures["sales"] == money.fmt(
        money.parse(first["totals"]["total"]) + money.parse(second["totals"]["total"])
    )
    # Discounts 10.00 + 5.00; the margin before them (80 − 40) + (120 − 60) = 100.00.
    assert (figures["discounts"], figures["gross_margin"], figures["gift_cost"], figures["cost"]) == (
        "15.00",
        "100.00",
        "0.00",
        "15.00",
    )
    assert figures["roi"] == "5.6667"  # (100.00 − 15.00) / 15.00: what the orders earned, per yuan spent
    assert [(d["orders"], d["discounts"], d["gross_margin"]) for d in figures["days"]] == [
        (2, "15.00", "100.00")
    ]
    sales_user = await client.get(f"/api/v1/campaigns/{made['id']}/metrics", headers=sales)
    assert sales_user.status_code in (200, 403)


async def test_an_order_its_price_rule_priced_is_attributed_with_the_cut_as_the_cost(
    client: httpx.AsyncClient, db: Database
) -> None:
    """LOY-3, CAT-3: a campaign running a price rule counts the orders with a line the rule priced
    (below the list price while in force), not one of a SKU it does not cover."""
    ops, sales = await _store(db)
    manager = await bearer(db, "manager")
    start = (clock.now() - timedelta(hours=1)).isoformat()
    tea = await client.post(
        "/api/v1/price-rules",
        json={"name": "茶九折", "sku": "TEA-1", "percent": "10", "starts_at": start},
        headers=manager,
    )
    assert tea.status_code == 201, tea.text
    assert tea.json()["state"] == "active"
    made = await client.post(
        "/api/v1/campaigns", json=_window(price_rule_ids=[tea.json()["id"]]), headers=ops
    )
    assert made.status_code == 201, made.text
    assert made.json()["price_rule_ids"] == [tea.json()["id"]]
    await _order(client, sales, "13900000001", [("TEA-1", 2, "27.00"), ("CUP-1", 1, "50.00")])
    await _order(client, sales, "13900000002", [("CUP-1", 1, "50.00")])  # nothing the rule covers

    figures = (await client.get(f"/api/v1/campaigns/{made.json()['id']}/metrics", headers=ops)).json()

    # One order: its teas 2 × 3.00 under the list price; the margin before that cut
    # (60.00 − 30.00) + (50.00 − 25.00).
    assert (figures["orders"], figures["coupon_uses"], figures["discounts"], figures["gross_margin"]) == (
        1,
        0,
        "6.00",
        "55.00",
    )
    assert figures["roi"] == "8.1667"  # (55.00 − 6.00) / 6.00


async def test_a_campaign_not_begun_or_without_uses_has_no_roi(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, _ = await _store(db)
    ten = await _coupon(client, ops, "TEN", "10.00")
    now = clock.now()
    later = _window(
        coupon_ids=[ten],
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=2)).isoformat(),
    )
    made = (await client.post("/api/v1/campaigns", json=later, headers=ops)).json()

    figures = (await client.get(f"/api/v1/campaigns/{made['id']}/metrics", headers=ops)).json()

    assert (figures["state"], figures["orders"], figures["cost"], figures["roi"], figures["days"]) == (
        "scheduled",
        0,
        "0.00",
        None,
        [],
    )


async def _reserved(db: Database, order_id: int) -> dict[str, int]:
    async with db.transaction() as session:
        stmt = (
            select(Sku.code, func.sum(Reservation.quantity))
            .join(Sku, Sku.id == Reservation.sku_id)
            .where(Reservation.order_id == order_id)
            .group_by(Sku.code)
        )
        return {str(code): int(n) for code, n in (await session.execute(stmt)).all()}


async def test_an_order_reaching_the_gifts_minimum_gets_it_free_while_in_stock_and_its_cost_counts(
    client: httpx.AsyncClient, db: Database
) -> None:
    """LOY-3: goods after discounts at or over the minimum spend, in the campaign's channel, get the
    gift SKU as a free line, reserved with the order; under it, in another channel or once the gift
    is out of stock, the order goes on without it. The gifts' cost is the campaign's."""
    await add_product(db, {"TEA-1": 3000, "CUP-1": 5000, "GIFT-1": 8000})
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"TEA-1": 100, "CUP-1": 100, "GIFT-1": 1})
    ops, sales = await bearer(db, "operations"), await bearer(db, "sales")
    await _coupon(client, ops, "TEN", "10.00")
    body = _window(channels=["web"], gift_sku="GIFT-1", gift_min_spend="100.00")
    made = (await client.post("/api/v1/campaigns", json=body, headers=ops)).json()

    under = await _order(client, sales, "13900000001", [("CUP-1", 2, "50.00")], coupons=["TEN"])  # 90.00
    elsewhere = await _order(client, sales, "13900000002", [("CUP-1", 2, "50.00")], channel="manual")
    given = await _order(client, sales, "13900000003", [("CUP-1", 2, "50.00")])  # 100.00: the gift
    none_left = await _order(client, sales, "13900000004", [("TEA-1", 4, "30.00")])

    assert [(line["sku"], line["unit_price"]) for line in given["lines"]] == [
        ("CUP-1", "50.00"),
        ("GIFT-1", "0.00"),
    ]
    assert given["totals"]["subtotal"] == "100.00"
    assert await _reserved(db, given["id"]) == {"CUP-1": 2, "GIFT-1": 1}
    for order in (under, elsewhere, none_left):
        assert "GIFT-1" not in [line["sku"] for line in order["lines"]]
        assert order["status"] == "confirmed"
    assert await _reserved(db, none_left["id"]) == {"TEA-1": 4}
    figures = (await client.get(f"/api/v1/campaigns/{made['id']}/metrics", headers=ops)).json()
    # The gift's order: margin before the gift (100.00 − 50.00); the gift's cost 40.00 (half its price).
    assert (figures["orders"], figures["gift_cost"], figures["gross_margin"], figures["cost"]) == (
        1,
        "40.00",
        "50.00",
        "40.00",
    )
    assert figures["roi"] == "0.2500"
