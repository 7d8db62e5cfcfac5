"""Products, SKUs and recorded price changes through the HTTP API (CAT-1, CAT-2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shopflow.catalog.models import Category, PriceChange, Sku
from shopflow.core import audit, clock
from shopflow.core.auth import User
from shopflow.core.db import Database
from tests.builders.auth import bearer


def sku(code: str, price: str = "99.00", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": f"纯棉T恤 {code}",
        "price": price,
        "cost": "40.00",
        "weight_g": 300,
        "price_band": "profit",
        "barcode": "6901234567892",
    }
    return {**body, **overrides}


def product(*skus: dict[str, Any], name: str = "纯棉圆领T恤") -> dict[str, Any]:
    return {"name": name, "description": "100% 棉", "skus": list(skus)}


async def stored_skus(db: Database, *codes: str) -> dict[str, Sku]:
    async with db.transaction() as session:
        found = await session.scalars(select(Sku).where(Sku.code.in_(codes)))
        return {s.code: s for s in found}


async def user_id(db: Database, username: str) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return int(found)


async def test_a_product_with_skus_is_created_with_prices_in_fen_shown_as_strings(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = product(sku("TEE-W-M", "99.00"), sku("TEE-W-L", "45.5", cost="12.30", price_band="traffic"))
    reply = await client.post("/api/v1/products", json=body, headers=await bearer(db, "operations"))

    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created["name"] == "纯棉圆领T恤"
    assert [(s["code"], s["price"], s["cost"], s["price_band"]) for s in created["skus"]] == [
        ("TEE-W-M", "99.00", "40.00", "profit"),
        ("TEE-W-L", "45.50", "12.30", "traffic"),
    ]
    assert all(s["product_id"] == created["id"] and s["sellable"] for s in created["skus"])
    stored = await stored_skus(db, "TEE-W-M", "TEE-W-L")
    assert (stored["TEE-W-M"].price, stored["TEE-W-M"].cost) == (9900, 4000)
    assert (stored["TEE-W-L"].price, stored["TEE-W-L"].cost) == (4550, 1230)
    assert stored["TEE-W-M"].barcode == "6901234567892"


async def test_get_sku_returns_it_with_an_empty_price_history(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    await client.post("/api/v1/products", json=product(sku("MUG-1", "29.90")), headers=headers)

    reply = await client.get("/api/v1/skus/MUG-1", headers=await bearer(db, "warehouse"))

    assert reply.status_code == 200, reply.text
    got = reply.json()
    assert (got["code"], got["price"], got["weight_g"], got["price_history"]) == ("MUG-1", "29.90", 300, [])


async def test_an_existing_sku_code_is_a_409_naming_the_sku_and_nothing_is_created(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    first = await client.post("/api/v1/products", json=product(sku("SKU-A")), headers=headers)
    assert first.status_code == 201

    reply = await client.post(
        "/api/v1/products", json=product(sku("SKU-NEW"), sku("SKU-A"), name="另一件"), headers=headers
    )

    assert reply.status_code == 409, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["code"] == "duplicate_sku"
    assert [e["field"] for e in reply.json()["errors"]] == ["skus[1].code"]
    assert "SKU-A" in reply.json()["errors"][0]["message"]
    assert (await client.get("/api/v1/skus/SKU-NEW", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/skus/SKU-A", headers=headers)).json()["name"] == "纯棉T恤 SKU-A"


async def test_a_code_repeated_inside_one_request_is_a_422_naming_each_place(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    body = product(sku("DUP-1"), sku("OK-1"), sku("DUP-1"))

    reply = await client.post("/api/v1/products", json=body, headers=headers)

    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["skus[0].code", "skus[2].code"]
    assert await stored_skus(db, "DUP-1", "OK-1") == {}


@pytest.mark.parametrize("price", ["9.999", "-1", "abc", "", 99.5, None])
async def test_a_bad_price_is_a_422_naming_the_field(
    client: httpx.AsyncClient, db: Database, price: object
) -> None:
    body = product(sku("GOOD-1"), sku("BAD-1", price="1.00") | {"price": price})

    reply = await client.post("/api/v1/products", json=body, headers=await bearer(db, "manager"))

    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in reply.json()["errors"]] == ["skus[1].price"]
    assert await stored_skus(db, "GOOD-1", "BAD-1") == {}


async def test_an_absurdly_large_price_is_a_422_not_a_server_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = product(sku("HUGE-1", price="100000000000000000000.00"))
    reply = await client.post("/api/v1/products", json=body, headers=await bearer(db, "manager"))
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["skus[0].price"]


async def test_a_product_needs_at_least_one_sku(client: httpx.AsyncClient, db: Database) -> None:
    reply = await client.post("/api/v1/products", json=product(), headers=await bearer(db, "manager"))
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["skus"]


async def test_an_unknown_sku_is_404(client: httpx.AsyncClient, db: Database) -> None:
    headers = await bearer(db, "manager")
    got = await client.get("/api/v1/skus/NOPE-404", headers=headers)
    assert got.status_code == 404 and got.json()["code"] == "sku_not_found"
    patched = await client.patch("/api/v1/skus/NOPE-404", json={"price": "10.00"}, headers=headers)
    assert patched.status_code == 404 and patched.json()["code"] == "sku_not_found"


async def test_a_price_change_is_recorded_with_who_when_old_and_new(
    client: httpx.AsyncClient, db: Database
) -> None:
    # A traffic SKU (floor 60%) cut by 20.2% by a manager (authority 30%): no approval (CAT-2).
    jeans = sku("JEANS-30", price_band="traffic")
    await client.post("/api/v1/products", json=product(jeans), headers=await bearer(db, "manager"))
    headers = await bearer(db, "manager", username="li.na")
    when = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)

    with clock.use(clock.FakeClock(when)):
        reply = await client.patch(
            "/api/v1/skus/JEANS-30", json={"price": "79.00", "reason": "3.8 促销"}, headers=headers
        )

    assert reply.status_code == 200, reply.text
    assert reply.json()["price"] == "79.00"
    changer = await user_id(db, "li.na")
    expected = [
        {
            "old_price": "99.00",
            "new_price": "79.00",
            "changed_by": changer,
            "changed_at": when.isoformat().replace("+00:00", "Z"),
            "reason": "3.8 促销",
        }
    ]
    assert reply.json()["price_history"] == expected
    assert (await client.get("/api/v1/skus/JEANS-30", headers=headers)).json()["price_history"] == expected
    async with db.transaction() as session:
        rows = list(await session.scalars(select(PriceChange)))
        stored = (await stored_skus(db, "JEANS-30"))["JEANS-30"]
    assert [(r.old_price, r.new_price, r.changed_by, r.changed_at) for r in rows] == [
        (9900, 7900, changer, when)
    ]
    assert stored.price == 7900


async def test_successive_price_changes_keep_the_full_history(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    await client.post("/api/v1/products", json=product(sku("BAG-1", "169.00")), headers=headers)
    fake = clock.FakeClock(datetime(2026, 6, 1, tzinfo=UTC))
    with clock.use(fake):
        for price in ("149.00", "159.00"):
            fake.advance(days=1)
            await client.patch("/api/v1/skus/BAG-1", json={"price": price}, headers=headers)

    history = (await client.get("/api/v1/skus/BAG-1", headers=headers)).json()["price_history"]

    assert [(h["old_price"], h["new_price"]) for h in history] == [("169.00", "149.00"), ("149.00", "159.00")]
    assert history[1]["changed_at"] > history[0]["changed_at"]


async def test_a_price_change_is_audited(client: httpx.AsyncClient, db: Database) -> None:
    await client.post(
        "/api/v1/products",
        json=product(sku("CUP-1", "89.00", price_band="traffic")),
        headers=await bearer(db, "admin"),
    )
    headers = await bearer(db, "manager", username="zhao.min")

    await client.patch("/api/v1/skus/CUP-1", json={"price": "69.00"}, headers=headers)

    async with db.transaction() as session:
        trail = await audit.trail(session, "sku", "CUP-1")
    assert [(e.actor_name, e.action, e.before, e.after) for e in trail] == [
        ("zhao.min", "sku.updated", {"price": 8900}, {"price": 6900})
    ]
    assert trail[0].actor_id == await user_id(db, "zhao.min")
    assert abs(trail[0].at - clock.now()) < timedelta(minutes=1)


async def test_changes_that_leave_the_price_alone_add_no_price_history(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    await client.post("/api/v1/products", json=product(sku("HAT-1", "59.00")), headers=headers)

    renamed = await client.patch(
        "/api/v1/skus/HAT-1", json={"name": "渔夫帽", "price": "59.00"}, headers=headers
    )

    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["price"], renamed.json()["price_history"]) == (
        "渔夫帽",
        "59.00",
        [],
    )
    again = await client.patch("/api/v1/skus/HAT-1", json={"name": "渔夫帽"}, headers=headers)
    assert again.status_code == 200
    async with db.transaction() as session:
        trail = await audit.trail(session, "sku", "HAT-1")
    # one entry, of the name only: the price stayed, and the repeated rename changed nothing
    assert [(e.before, e.after) for e in trail] == [({"name": "纯棉T恤 HAT-1"}, {"name": "渔夫帽"})]


@pytest.mark.parametrize("price", ["9.999", "-1", "abc"])
async def test_a_bad_new_price_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, price: str
) -> None:
    headers = await bearer(db, "manager")
    await client.post("/api/v1/products", json=product(sku("SOCK-1", "19.00")), headers=headers)

    reply = await client.patch("/api/v1/skus/SOCK-1", json={"price": price}, headers=headers)

    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == ["price"]
    got = (await client.get("/api/v1/skus/SOCK-1", headers=headers)).json()
    assert (got["price"], got["price_history"]) == ("19.00", [])


async def test_a_role_without_pricing_rights_cannot_change_a_price(
    client: httpx.AsyncClient, db: Database
) -> None:
    await client.post(
        "/api/v1/products", json=product(sku("BELT-1", "99.00")), headers=await bearer(db, "manager")
    )
    for role in ("sales", "warehouse", "customer_service"):
        reply = await client.patch(
            "/api/v1/skus/BELT-1", json={"price": "1.00"}, headers=await bearer(db, role)
        )
        assert reply.status_code == 403, (role, reply.text)
    got = (await client.get("/api/v1/skus/BELT-1", headers=await bearer(db, "sales"))).json()
    assert (got["price"], got["price_history"]) == ("99.00", [])


async def test_a_product_filed_under_a_category_path_finds_or_creates_each_level(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "admin")

    cups = await client.post(
        "/api/v1/products", json={**product(sku("CUP-1")), "category": ["家居", "杯具"]}, headers=headers
    )
    mugs = await client.post(
        "/api/v1/products", json={**product(sku("CUP-2")), "category": [" 家居 ", "杯具"]}, headers=headers
    )
    top = await client.post(
        "/api/v1/products", json={**product(sku("HOME-1")), "category": ["家居"]}, headers=headers
    )
    deep = await client.post(
        "/api/v1/products", json={**product(sku("X-1")), "category": ["a", "b", "c"]}, headers=headers
    )

    assert cups.status_code == 201, cups.text
    assert mugs.json()["category_id"] == cups.json()["category_id"] is not None
    async with db.transaction() as session:
        rows = (await session.execute(select(Category.id, Category.parent_id, Category.name))).all()
    assert sorted(rows) == [
        (top.json()["category_id"], None, "家居"),
        (cups.json()["category_id"], top.json()["category_id"], "杯具"),
    ]
    assert deep.status_code == 422
    assert "category" in deep.text
