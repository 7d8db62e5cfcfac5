"""Coupons through the API (LOY-4, ORD-2, issue 16 items 3 and 8): created with their limits, checked
for a basket, named by an order (422 naming `coupon` with the reason, nothing stored), applied as
discount lines shared by the lines, and given back when the order is cancelled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.core.money import parse
from shopflow.loyalty.models import Coupon, CouponKind, CouponUse
from shopflow.loyalty.schemas import CouponIn
from shopflow.orders.models import Order
from tests.builders.aftersales import case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.rows import audit_rows


async def _store(db: Database) -> tuple[dict[str, str], dict[str, str]]:
    """Three SKUs in stock; the headers of an operations user (coupons) and a sales user (orders)."""
    await add_product(db, {"TEA-1": 3000, "CUP-1": 5000, "POT-1": 12000})
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"TEA-1": 100, "CUP-1": 100, "POT-1": 100})
    return await bearer(db, "operations"), await bearer(db, "sales")


async def coupon(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    reply = await client.post(
        "/api/v1/coupons", json={"kind": "fixed", "value": "10.00", **fields}, headers=headers
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def place(
    client: httpx.AsyncClient, headers: dict[str, str], lines: list[tuple[str, int, str]], **fields: Any
) -> httpx.Response:
    return await client.post("/api/v1/orders", json=order_body(lines, **fields), headers=headers)


async def test_a_coupon_is_created_with_its_fields_and_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, _ = await _store(db)
    made = await coupon(
        client,
        ops,
        code="summer10",
        kind="percent",
        value="12.5",
        min_spend="99.00",
        limit_total=50,
        limit_per_customer=1,
        skus=["TEA-1"],
        stacking_group="store",
        combines_with=["shipping"],
    )

    assert made["code"] == "SUMMER10"  # stored in upper case
    assert (made["value"], made["min_spend"], made["used"], made["codes"]) == ("12.5", "99.00", 0, 1)
    assert (made["limit_total"], made["limit_per_customer"], made["skus"]) == (50, 1, ["TEA-1"])
    listed = (await client.get("/api/v1/coupons", headers=ops)).json()
    assert [c["code"] for c in listed["items"]] == ["SUMMER10"]
    rows = await audit_rows(db, "coupon", made["id"])
    assert [r.action for r in rows] == ["coupon.created"]
    taken = await client.post(
        "/api/v1/coupons", json={"code": "Summer10", "kind": "fixed", "value": "1.00"}, headers=ops
    )
    assert taken.status_code == 409


async def test_bad_coupons_are_refused_by_field(client: httpx.AsyncClient, db: Database) -> None:
    ops, sales = await _store(db)
    cases = [
        ({"code": "A1X", "kind": "percent", "value": "120"}, "value"),
        ({"code": "A2X", "kind": "fixed", "value": "0"}, "value"),
        ({"code": "A3X", "kind": "fixed", "value": "abc"}, "value"),
        ({"code": "A4X", "kind": "fixed", "value": "5.00", "skus": ["NOPE"]}, "skus"),
        ({"code": "A5X", "kind": "fixed", "value": "5.00", "categories": [999]}, "categories"),
        ({"code": "A6X", "kind": "fixed", "value": "5.00", "combines_with": ["x"]}, "stacking_group"),
        (
            {
                "code": "A7X",
                "kind": "fixed",
                "value": "5.00",
                "starts_at": "2026-12-10T00:00:00Z",
                "ends_at": "2026-12-09T00:00:00Z",
            },
            "ends_at",
        ),
    ]
    for body, field in cases:
        reply = await client.post("/api/v1/coupons", json=body, headers=ops)
        assert reply.status_code == 422, (body, reply.text)
        assert field in [e["field"] for e in reply.json()["errors"]], (body, reply.text)
    forbidden = await client.post(
        "/api/v1/coupons", json={"code": "A8X", "kind": "fixed", "value": "5.00"}, headers=sales
    )
    assert forbidden.status_code == 403
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) == 0


async def test_an_order_with_a_coupon_has_its_discount_line_shared_by_its_lines(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    made = await coupon(client, ops, code="TEN", value="10.00", min_spend="50.00")

    reply = await place(
        client, sales, [("TEA-1", 1, "30.00"), ("CUP-1", 1, "50.00"), ("POT-1", 1, "120.00")], coupons=["ten"]
    )

    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert order["totals"] == {
        "subtotal": "200.00",
        "shipping": "0.00",
        "discount": "10.00",
        "total": "190.00",
    }
    assert order["discounts"] == [{"kind": "coupon", "code": "TEN", "points": None, "amount": "10.00"}]
    # 10.00 over 30/50/120 by largest remainder: 1.50, 2.50, 6.00, summing to the fen.
    assert [line["discount"] for line in order["lines"]] == ["1.50", "2.50", "6.00"]
    detail = (await client.get(f"/api/v1/orders/{order['id']}", headers=sales)).json()
    assert detail["discounts"] == order["discounts"]
    assert (await client.get(f"/api/v1/coupons/{made['id']}", headers=ops)).json()["used"] == 1
    uses = (await client.get(f"/api/v1/coupons/{made['id']}/uses", headers=ops)).json()
    assert [(u["order_id"], u["discount"], u["released_at"]) for u in uses["items"]] == [
        (order["id"], "10.00", None)
    ]


async def test_an_invalid_coupon_is_a_422_naming_coupon_and_the_reason_and_stores_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    now = clock.now()
    await coupon(client, ops, code="OLD", ends_at=(now - timedelta(days=1)).isoformat())
    await coupon(client, ops, code="SOON", starts_at=(now + timedelta(days=1)).isoformat())
    await coupon(client, ops, code="BIG", min_spend="99.00")
    await coupon(client, ops, code="POTONLY", skus=["POT-1"])
    await coupon(client, ops, code="ONCE", limit_total=1)
    first = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["ONCE"])
    assert first.status_code == 201, first.text

    expected = {
        "OLD": "has expired",
        "SOON": "is not valid yet",
        "BIG": "minimum spend 99.00 not met",
        "POTONLY": "is not for this SKU",
        "ONCE": "limit reached",
        "NOSUCH": "no coupon with code 'NOSUCH'",
    }
    for code, reason in expected.items():
        reply = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=[code])
        assert reply.status_code == 422, reply.text
        errors = reply.json()["errors"]
        assert [e["field"] for e in errors] == ["coupon"]
        assert reason in errors[0]["message"], (code, errors)
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
        assert await session.scalar(select(func.count()).select_from(CouponUse)) == 1


async def test_a_cancelled_order_gives_its_use_and_the_buyers_allowance_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    made = await coupon(client, ops, code="ONEEACH", limit_total=1, limit_per_customer=1)
    order = (await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["ONEEACH"])).json()
    again = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["ONEEACH"])
    assert again.status_code == 422
    assert "limit reached" in again.json()["errors"][0]["message"]

    cancelled = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=ops
    )
    assert cancelled.status_code == 200, cancelled.text

    assert (await client.get(f"/api/v1/coupons/{made['id']}", headers=ops)).json()["used"] == 0
    uses = (await client.get(f"/api/v1/coupons/{made['id']}/uses", headers=ops)).json()["items"]
    assert uses[0]["released_at"] is not None  # the ledger keeps the released use
    reused = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["ONEEACH"])
    assert reused.status_code == 201, reused.text  # the same buyer: the cancelled order took no allowance


async def test_the_per_customer_limit_counts_each_buyer_apart(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    await coupon(client, ops, code="PERBUYER", limit_per_customer=1)
    zhang = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["PERBUYER"])
    li = await place(
        client,
        sales,
        [("TEA-1", 1, "30.00")],
        coupons=["PERBUYER"],
        customer={"name": "李四", "phone": "13900139000"},
    )
    zhang_again = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=["PERBUYER"])

    assert (zhang.status_code, li.status_code, zhang_again.status_code) == (201, 201, 422)
    assert "1 per customer" in zhang_again.json()["errors"][0]["message"]


async def test_batch_codes_are_unique_and_each_used_once(client: httpx.AsyncClient, db: Database) -> None:
    ops, sales = await _store(db)
    made = await coupon(client, ops, code="BATCH")
    reply = await client.post(f"/api/v1/coupons/{made['id']}/codes", json={"count": 300}, headers=ops)
    assert reply.status_code == 201, reply.text
    codes = reply.json()["codes"]
    assert len(codes) == len(set(codes)) == 300
    assert all(code.startswith("BATCH-") for code in codes)

    first = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=[codes[0].lower()])
    second = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=[codes[0]])
    other = await place(client, sales, [("TEA-1", 1, "30.00")], coupons=[codes[1]])

    assert (first.status_code, second.status_code, other.status_code) == (201, 422, 201)
    assert "the code is used" in second.json()["errors"][0]["message"]
    assert (await client.get(f"/api/v1/coupons/{made['id']}", headers=ops)).json()["codes"] == 301
    too_many = await client.post(f"/api/v1/coupons/{made['id']}/codes", json={"count": 100_001}, headers=ops)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "count"


async def test_check_says_what_a_coupon_takes_off_or_why_not(client: httpx.AsyncClient, db: Database) -> None:
    ops, _ = await _store(db)
    await coupon(
        client, ops, code="PCT", kind="percent", value="15", skus=["CUP-1", "POT-1"], min_spend="100.00"
    )
    basket = [
        {"sku": "TEA-1", "quantity": 2},
        {"sku": "CUP-1", "quantity": 1},
        {"sku": "POT-1", "quantity": 1},
    ]

    good = await client.post(
        "/api/v1/coupons/check",
        json={"code": "pct", "customer_phone": "13800138000", "lines": basket},
        headers=ops,
    )
    short = await client.post("/api/v1/coupons/check", json={"code": "PCT", "lines": basket[:2]}, headers=ops)
    unknown = await client.post(
        "/api/v1/coupons/check", json={"code": "PCT", "lines": [{"sku": "NOPE"}]}, headers=ops
    )

    assert good.status_code == 200, good.text
    # 15% of the CUP and POT lines (50 + 120 = 170.00): 25.50, shared 7.50 / 18.00; the TEA not covered.
    assert good.json() == {
        "code": "PCT",
        "valid": True,
        "discount": "25.50",
        "reason": None,
        "lines": [
            {"sku": "TEA-1", "discount": "0.00"},
            {"sku": "CUP-1", "discount": "7.50"},
            {"sku": "POT-1", "discount": "18.00"},
        ],
    }
    assert short.json()["valid"] is False
    assert "minimum spend 100.00 not met" in short.json()["reason"]
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "lines[0].sku"


async def test_of_several_coupons_the_best_combination_applies_and_is_explained(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops, sales = await _store(db)
    await coupon(client, ops, code="STORE5", value="5.00", stacking_group="store", combines_with=["platform"])
    await coupon(
        client, ops, code="STORE20", value="20.00", stacking_group="store", combines_with=["platform"]
    )
    await coupon(client, ops, code="PLAT8", value="8.00", stacking_group="platform", combines_with=["store"])

    reply = await place(client, sales, [("POT-1", 1, "120.00")], coupons=["STORE5", "STORE20", "PLAT8"])

    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert [d["code"] for d in order["discounts"]] == ["PLAT8", "STORE20"]
    assert order["totals"]["discount"] == "28.00"
    assert "STORE5 not applied: only one coupon of the group 'store' applies" in order["discount_note"]


async def test_a_refund_of_one_of_three_discounted_lines_gives_back_that_lines_share_only(
    client: httpx.AsyncClient, db: Database
) -> None:
    # 10.00 off 99.00 + 45.50 + 12.00 (156.50): shares 6.32, 2.91, 0.77 by largest remainder.
    ten = CouponIn(code="TEN", kind=CouponKind.FIXED, value="10.00")
    lines = [("SKU-1", 1, "99.00"), ("SKU-2", 1, "45.50"), ("SKU-3", 1, "12.00")]
    order_id = await delivered_order(db, lines, ten)
    agent = await bearer(db, "customer_service")

    case = await open_case(client, agent, case_body(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))

    refund = case["refund"]
    assert (refund["items"], refund["discount_share"]) == ("45.50", "2.91")
    assert parse(refund["total"]) == 4550 - 291 + parse(refund["shipping"]) - parse(refund["return_shipping"])
