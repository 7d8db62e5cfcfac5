"""Price rules (CAT-3) and discount approvals (CAT-2), issue 16 items 5 and 6: the effective price
of a SKU at a moment is one rule (the lowest of the rules in force, never under its floor, never
above the list price), stated in `models.effective_price` and in sale_facts' SQL, and they agree;
order intake charges it; a rule or price change beyond the band's floor or the role's authority
waits for a supervisor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from shopflow import worker
from shopflow.catalog import pricing, repository
from shopflow.catalog.models import PriceRule, effective_price
from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.inventory.models import Stock
from tests.builders.auth import bearer
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.rows import audit_rows

T0 = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)
RULES = "/api/v1/price-rules"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def sku(code: str, price: str = "100.00", band: str = "profit") -> dict[str, Any]:
    return {
        "code": code,
        "name": f"T恤 {code}",
        "price": price,
        "cost": "30.00",
        "weight_g": 300,
        "price_band": band,
    }


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], category: list[str], *skus: dict[str, Any]
) -> int:
    body = {"name": f"商品 {skus[0]['code']}", "category": category, "skus": list(skus)}
    reply = await client.post("/api/v1/products", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["category_id"])


async def rule(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"name": "促销", "starts_at": iso(T0), **fields}
    return await client.post(RULES, json=body, headers=headers)


async def price(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, at: datetime
) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/skus/{code}/price", params={"at": iso(at)}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def made(
    rule_id: int, price: int | None = None, percent_bp: int | None = None, floor: int | None = None
) -> PriceRule:
    return PriceRule(id=rule_id, price=price, percent_bp=percent_bp, floor=floor)


def test_the_lowest_rule_wins_never_under_its_floor_never_above_the_list_price() -> None:
    ten, twenty, fixed = made(1, percent_bp=1000), made(2, percent_bp=2000), made(3, price=8500)
    assert effective_price(10000, 8000, []) == (10000, None)
    assert effective_price(10000, 8000, [ten, fixed]) == (8500, fixed)
    assert effective_price(10000, 8000, [ten, twenty]) == (8000, twenty)  # 80.00 is the band floor
    assert effective_price(10000, 8500, [twenty, made(4, percent_bp=1500)]) == (
        8500,
        twenty,
    )  # tie: lowest id
    held = made(5, percent_bp=5000, floor=7000)
    assert effective_price(10000, 8000, [held]) == (7000, held)  # its own floor, under the band's
    assert effective_price(10000, 8000, [made(6, price=9999, floor=12000)])[0] == 10000  # never above list
    assert effective_price(999, 0, [made(7, percent_bp=3333)])[0] == 666  # 665.967 rounds half up


@pytest.mark.parametrize(("text", "bp"), [("10", 1000), ("12.5", 1250), ("0.01", 1), ("99.99", 9999)])
def test_a_percent_is_read_in_basis_points_and_written_back(text: str, bp: int) -> None:
    assert pricing.parse_percent(text) == bp
    assert pricing.percent_text(bp) == text


@pytest.mark.parametrize("text", ["0", "100", "-5", "12.345", "ten", "nan", "inf"])
def test_a_percent_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        pricing.parse_percent(text)


async def test_overlapping_rules_a_category_covering_its_subcategory_the_floor_and_the_window_edges(
    client: httpx.AsyncClient, db: Database
) -> None:
    manager = await bearer(db, "manager")
    tees = await add(client, manager, ["服装", "T恤"], sku("TEE-1"), sku("TEE-2", "50.00", "traffic"))
    async with db.transaction() as session:
        clothes = (await repository.category_parents(session, [tees]))[tees]
    assert clothes is not None
    ends = T0 + timedelta(days=7)

    whole = await rule(client, manager, name="服装九折", category=clothes, percent="10", ends_at=iso(ends))
    fixed = await rule(
        client, manager, name="TEE-1 特价", sku="TEE-1", price="85.00", starts_at=iso(T0 + timedelta(days=2))
    )
    deep = await rule(client, manager, name="T恤七五折", category=tees, percent="25", ends_at=iso(ends))
    assert [r.status_code for r in (whole, fixed, deep)] == [201, 201, 201], deep.text
    assert [r.json()["state"] for r in (whole, fixed, deep)] == ["active", "active", "active"]

    before = await price(client, manager, "TEE-1", T0 - timedelta(seconds=1))
    at_start = await price(client, manager, "TEE-1", T0)
    later = await price(client, manager, "TEE-1", T0 + timedelta(days=3))
    traffic = await price(client, manager, "TEE-2", T0)
    at_end = await price(client, manager, "TEE-1", ends)

    assert (before["price"], before["rule_id"]) == ("100.00", None)
    assert before["reason"] == "list price: no price rule in force"
    # 25% off would be 75.00: the profit band's floor (80%) holds it at 80.00
    assert (at_start["price"], at_start["rule_id"], at_start["list_price"]) == (
        "80.00",
        deep.json()["id"],
        "100.00",
    )
    assert "held at its floor 80.00" in at_start["reason"]
    assert (later["price"], later["rule"]) == ("80.00", "T恤七五折")  # 85.00 is not the lowest
    assert (traffic["price"], traffic["rule_id"]) == ("37.50", deep.json()["id"])  # traffic floor: 30.00
    assert (at_end["price"], at_end["rule_id"]) == ("85.00", fixed.json()["id"])  # the window is [start, end)

    missing = await client.get("/api/v1/skus/NOPE/price", headers=manager)
    assert missing.status_code == 404
    listed = (await client.get(RULES, headers=await bearer(db, "sales"))).json()
    assert [r["name"] for r in listed["items"]] == ["T恤七五折", "TEE-1 特价", "服装九折"]
    assert listed["items"][2]["category_path"] == "服装"
    one = (await client.get(f"{RULES}/{fixed.json()['id']}", headers=manager)).json()
    assert (one["sku"], one["price"], one["percent"], one["floor"]) == ("TEE-1", "85.00", None, None)


async def test_sale_facts_sql_and_price_at_agree(client: httpx.AsyncClient, db: Database) -> None:
    manager = await bearer(db, "manager")
    admin = await bearer(db, "admin")
    second = await bearer(db, "admin", username="admin.two")
    tees = await add(
        client,
        manager,
        ["服装", "T恤"],
        sku("A-1"),
        sku("A-2", "19.99", "traffic"),
        sku("A-3", "500.00", "image"),
    )
    await add(client, manager, ["家居"], sku("B-1", "33.33"))
    async with db.transaction() as session:
        clothes = (await repository.category_parents(session, [tees]))[tees]
    day = timedelta(days=1)
    for fields in (
        {"category": clothes, "percent": "7.5", "ends_at": iso(T0 + 4 * day)},
        {"category": tees, "percent": "33.33", "starts_at": iso(T0 + day), "ends_at": iso(T0 + 3 * day)},
        {"sku": "A-1", "price": "91.00", "floor": "90.00", "starts_at": iso(T0 + 2 * day)},
        {
            "sku": "A-3",
            "percent": "60",
            "floor": "150.00",
            "starts_at": iso(T0 + day),
        },  # admin: below the floor
        {"sku": "B-1", "price": "20.00"},
        {
            "sku": "A-2",
            "percent": "50",
            "kind": "markdown",
            "stock_above": 5,
            "stock_days": 1,
        },  # not triggered
    ):
        created = await rule(client, admin, **fields)
        assert created.status_code == 201, created.text
        if created.json()["state"] == "pending":  # under the band's floor: another admin approves
            decided = await client.post(f"{RULES}/{created.json()['id']}/approve", headers=second)
            assert decided.json()["state"] == "active", decided.text
    codes = ["A-1", "A-2", "A-3", "B-1"]
    seen = set()
    async with db.transaction() as session:
        for hours in range(-2, 24 * 6, 5):
            at = T0 + timedelta(hours=hours)
            facts = await repository.sale_facts(session, codes, at)
            for code in codes:
                expected = await pricing.price_at(session, code, at)
                assert facts[code].price == expected.price, (code, at)
                seen.add((code, expected.price))
    assert len(seen) >= 9  # the moments cover the rules' changes


async def test_intake_charges_the_promotional_price_during_a_promotion_and_the_list_price_after(
    client: httpx.AsyncClient, db: Database
) -> None:
    manager = await bearer(db, "manager")
    sales = await bearer(db, "sales")
    await add(client, manager, ["服装"], sku("SALE-1", "99.00", "traffic"))
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"SALE-1": 10})
    created = await rule(client, manager, sku="SALE-1", price="79.00", ends_at=iso(T0 + timedelta(days=3)))
    assert created.json()["state"] == "active"

    def place(unit_price: str) -> Any:
        return client.post("/api/v1/orders", json=order_body([("SALE-1", 1, unit_price)]), headers=sales)

    fake = clock.FakeClock(T0 + timedelta(hours=1))
    with clock.use(fake):
        at_list = await place("99.00")
        at_promotion = await place("79.00")
        fake.advance(days=3)
        after_promotion = await place("79.00")
        after_at_list = await place("99.00")

    assert at_list.status_code == 422
    assert at_list.json()["errors"] == [
        {"field": "lines[0].unit_price", "message": "does not match the current price 79.00"}
    ]
    assert at_promotion.status_code == 201, at_promotion.text
    assert after_promotion.status_code == 422
    assert after_at_list.status_code == 201, after_at_list.text


async def markdown_sweep(db: Database) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS["inventory.markdowns"](session)


async def test_a_stock_markdown_applies_after_its_days_above_and_stops_when_stock_falls(
    client: httpx.AsyncClient, db: Database
) -> None:
    manager = await bearer(db, "manager")
    await add(client, manager, ["家居"], sku("MUG-1", "40.00", "traffic"))
    await add_warehouse(db, "WH-A", 1)
    await add_warehouse(db, "WH-B", 2)
    await receive(db, "WH-A", {"MUG-1": 300})
    created = await rule(
        client, manager, kind="markdown", sku="MUG-1", percent="10", stock_above=500, stock_days=30
    )
    assert created.status_code == 201, created.text
    fake = clock.FakeClock(T0)
    with clock.use(fake):
        assert await markdown_sweep(db) == 0  # 300 on hand: not above
        await receive(db, "WH-B", {"MUG-1": 250})  # 550 over both warehouses
        assert await markdown_sweep(db) == 1
        assert await markdown_sweep(db) == 0  # noted once
        fake.advance(days=29, hours=23)
        assert await markdown_sweep(db) == 0
        async with db.transaction() as session:
            assert (await repository.sale_facts(session, ["MUG-1"]))["MUG-1"].price == 4000
        fake.advance(hours=1)
        async with db.transaction() as session:
            assert (await repository.sale_facts(session, ["MUG-1"]))["MUG-1"].price == 3600
        marked = await price(client, manager, "MUG-1", fake.current)
        assert (marked["price"], marked["rule_id"]) == ("36.00", created.json()["id"])
        assert marked["reason"].startswith("markdown #")
        stored = (await client.get(f"{RULES}/{created.json()['id']}", headers=manager)).json()
        assert stored["above_since"] == iso(T0) and stored["marked_from"] == iso(T0 + timedelta(days=30))

        async with db.transaction() as session:  # sold down to 500: not above any more
            await session.execute(update(Stock).values(on_hand=250))
        assert await markdown_sweep(db) == 1
        assert (await price(client, manager, "MUG-1", fake.current))["price"] == "40.00"
        stored = (await client.get(f"{RULES}/{created.json()['id']}", headers=manager)).json()
        assert (stored["above_since"], stored["marked_from"]) == (None, None)


async def test_bad_rules_are_refused_at_their_fields(client: httpx.AsyncClient, db: Database) -> None:
    manager = await bearer(db, "manager")
    tees = await add(client, manager, ["服装", "T恤"], sku("BAD-1"))

    async def refused(**fields: Any) -> list[dict[str, str]]:
        reply = await rule(client, manager, **fields)
        assert reply.status_code == 422, reply.text
        return reply.json()["errors"]

    assert await refused(sku="BAD-1", percent="10", ends_at=iso(T0)) == [
        {"field": "ends_at", "message": "must be after starts_at"}
    ]
    assert await refused(percent="10") == [{"field": "sku", "message": "give a SKU or a category"}]
    assert await refused(sku="BAD-1", category=tees, percent="10") == [
        {"field": "category", "message": "give a SKU or a category, not both"}
    ]
    assert await refused(sku="NOPE", percent="10") == [{"field": "sku", "message": "no SKU 'NOPE'"}]
    assert await refused(category=999999, percent="10") == [
        {"field": "category", "message": "no category 999999"}
    ]
    assert await refused(sku="BAD-1", percent="100") == [
        {"field": "percent", "message": "must be more than 0 and less than 100"}
    ]
    assert await refused(sku="BAD-1") == [
        {"field": "percent", "message": "give a price or a percent off, one of them"}
    ]
    assert await refused(sku="BAD-1", price="100.00") == [
        {"field": "price", "message": "must be below the list price 100.00"}
    ]
    assert await refused(sku="BAD-1", price="85.00", floor="90.00") == [
        {"field": "price", "message": "is below the floor 90.00 given"}
    ]
    assert await refused(category=tees, percent="5", floor="10.00") == [
        {"field": "floor", "message": "a category's rule keeps each SKU's band floor"}
    ]
    assert await refused(sku="BAD-1", percent="5", kind="markdown") == [
        {"field": "stock_above", "message": "a markdown needs it"},
        {"field": "stock_days", "message": "a markdown needs it"},
    ]
    assert (await client.get(RULES, headers=manager)).json()["total"] == 0
    denied = await rule(client, await bearer(db, "sales"), sku="BAD-1", percent="5")
    assert denied.status_code == 403


async def test_a_rule_beyond_the_floor_or_authority_waits_for_a_supervisor(
    client: httpx.AsyncClient, db: Database
) -> None:
    operations = await bearer(db, "operations", username="ops.wang")
    manager = await bearer(db, "manager", username="mgr.li")
    other = await bearer(db, "manager", username="mgr.zhou")
    admin = await bearer(db, "admin")
    await add(client, manager, ["服装"], sku("APP-1"), sku("APP-2"), sku("APP-3"))

    # operations may grant no discount (authority 0%): 5% off waits
    small = (await rule(client, operations, name="九五折", sku="APP-1", percent="5")).json()
    # under the profit band's floor (80.00), by a manager: waits, and asks the price as its floor
    under = (await rule(client, manager, name="七折", sku="APP-2", price="70.00")).json()
    # 40% off is beyond a manager's 30% authority
    deep = (await rule(client, admin, name="六折", sku="APP-3", price="60.00", floor="60.00")).json()

    assert (small["state"], small["reasons"]) == (
        "pending",
        ["5% off the list price exceeds the operations authority of 0%"],
    )
    assert under["state"] == "pending" and under["floor"] == "70.00"
    assert under["reasons"] == ["70.00 is below the band's floor 80.00 (80% of 100.00)"]
    assert deep["state"] == "pending"  # admin's own request too: below the floor
    for code in ("APP-1", "APP-2", "APP-3"):
        shown = await price(client, manager, code, T0 + timedelta(hours=1))
        assert (shown["price"], shown["rule_id"]) == ("100.00", None)  # pending: not in force

    def decide(rule_id: int, verdict: str, headers: dict[str, str]) -> Any:
        return client.post(f"{RULES}/{rule_id}/{verdict}", json={"note": "ok"}, headers=headers)

    own = await decide(under["id"], "approve", manager)
    sales = await decide(small["id"], "approve", await bearer(db, "sales"))
    beyond = await decide(deep["id"], "approve", other)
    assert (own.status_code, own.json()["code"]) == (403, "own_request")
    assert sales.status_code == 403
    assert (beyond.status_code, beyond.json()["code"]) == (403, "beyond_authority")

    approved = await decide(under["id"], "approve", other)
    rejected = await decide(small["id"], "reject", manager)
    again = await decide(small["id"], "approve", manager)
    assert (approved.status_code, approved.json()["state"]) == (200, "active")
    assert (rejected.status_code, rejected.json()["state"]) == (200, "rejected")
    assert again.status_code == 409
    assert (await price(client, manager, "APP-2", T0 + timedelta(hours=1)))["price"] == "70.00"
    assert (await price(client, manager, "APP-1", T0 + timedelta(hours=1)))["price"] == "100.00"
    actions = [r.action for r in await audit_rows(db, "price_rule", under["id"])]
    assert actions == ["price_rule.created", "price_rule.approved"]
    decided = [r for r in await audit_rows(db, "approval", under["approval_id"])]
    assert [r.action for r in decided] == ["approval.requested", "approval.approved"]
    assert [r.action for r in await audit_rows(db, "price_rule", small["id"])][-1] == "price_rule.rejected"


async def test_a_price_change_below_the_floor_waits_and_the_old_price_holds(
    client: httpx.AsyncClient, db: Database
) -> None:
    operations = await bearer(db, "operations", username="ops.chen")
    manager = await bearer(db, "manager", username="mgr.sun")
    await add(client, manager, ["服装"], sku("CHG-1"))

    asked = await client.patch(
        "/api/v1/skus/CHG-1", json={"price": "75.00", "name": "新名", "reason": "清仓"}, headers=operations
    )
    twice = await client.patch("/api/v1/skus/CHG-1", json={"price": "74.00"}, headers=operations)
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert (body["price"], body["name"], body["price_history"]) == ("100.00", "新名", [])
    pending = body["pending_price_change"]
    assert (pending["new_price"], pending["requested_by"]) == ("75.00", "ops.chen")
    assert pending["reasons"] == [
        "75.00 is below the band's floor 80.00 (80% of 100.00)",
        "25% off the list price exceeds the operations authority of 0%",
    ]
    assert (twice.status_code, twice.json()["code"]) == (409, "price_change_pending")
    async with db.transaction() as session:
        assert (await repository.sale_facts(session, ["CHG-1"]))["CHG-1"].price == 10000

    approve = "/api/v1/skus/CHG-1/price-change/approve"
    own = await client.post(approve, headers=operations)
    assert own.status_code == 403
    done = await client.post(approve, json={"note": "清仓批准"}, headers=manager)
    assert done.status_code == 200, done.text
    assert (done.json()["price"], done.json()["pending_price_change"]) == ("75.00", None)
    assert [(h["old_price"], h["new_price"], h["reason"]) for h in done.json()["price_history"]] == [
        ("100.00", "75.00", "清仓")
    ]
    none_left = await client.post("/api/v1/skus/CHG-1/price-change/reject", headers=manager)
    assert none_left.status_code == 404

    await client.patch("/api/v1/skus/CHG-1", json={"price": "70.00"}, headers=operations)
    refused = await client.post("/api/v1/skus/CHG-1/price-change/reject", headers=manager)
    assert (refused.json()["price"], refused.json()["pending_price_change"]) == ("75.00", None)
