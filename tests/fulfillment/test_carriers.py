"""Carriers, the rule table (FUL-3), scorecards (FUL-7), freight bills (FUL-8) and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders import fulfillment as ful
from tests.builders.auth import bearer
from tests.builders.orders import address
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

START = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


async def choice(
    client: httpx.AsyncClient, headers: dict[str, str], province: str, grams: int, value: str
) -> str:
    reply = await client.get(
        "/api/v1/carrier-rules/choice",
        params={"province": province, "weight_g": grams, "order_value": value},
        headers=headers,
    )
    return str(reply.json()["carrier"]) if reply.status_code == 200 else str(reply.json()["code"])


async def test_the_rule_table_chooses_among_active_carriers(client: httpx.AsyncClient, db: Database) -> None:
    ops = await bearer(db, "operations")
    for code in ("SF", "YTO"):
        await ful.add_carrier(client, ops, code)
    await ful.add_rule(client, ops, carrier="YTO", priority=10, province="广东")
    heavy = await ful.add_rule(client, ops, carrier="SF", priority=20, min_weight_g=5000)
    await ful.add_rule(client, ops, carrier="SF", priority=30, min_order_value="1000.00")

    assert await choice(client, ops, "广东", 9000, "2000.00") == "YTO"
    assert await choice(client, ops, "上海", 5000, "10.00") == "SF"
    assert await choice(client, ops, "上海", 800, "1000.00") == "SF"
    assert await choice(client, ops, "上海", 800, "999.99") == "no_carrier_rule"
    listed = (await client.get("/api/v1/carrier-rules", headers=ops)).json()["items"]
    assert [(r["carrier"], r["priority"]) for r in listed] == [("YTO", 10), ("SF", 20), ("SF", 30)]

    off = await client.patch("/api/v1/carriers/YTO", json={"active": False}, headers=ops)
    assert off.json()["active"] is False
    assert await choice(client, ops, "广东", 9000, "2000.00") == "SF"  # the next matching rule
    assert (await client.delete(f"/api/v1/carrier-rules/{heavy['id']}", headers=ops)).status_code == 204
    assert await choice(client, ops, "广东", 9000, "2000.00") == "SF"  # order value rule
    assert await choice(client, ops, "广东", 9000, "20.00") == "no_carrier_rule"
    assert [r.action for r in await audit_rows(db, "carrier_rule", heavy["id"])] == [
        "carrier_rule.created",
        "carrier_rule.deleted",
    ]
    bad = await client.post(
        "/api/v1/carrier-rules",
        json={"carrier": "SF", "priority": 1, "min_weight_g": 500, "max_weight_g": 500},
        headers=ops,
    )
    assert bad.status_code == 422


async def test_shipping_with_no_matching_rule_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.add_carrier(client, team.ops, "SF")
    await ful.add_rule(client, team.ops, carrier="SF", priority=1, province="北京")
    order = await ful.paid_order(client, team.sales, [("SKU-1", 1, "99.00")])
    await ful.build_waves(client, team.warehouse)
    [task_id] = (await ful.tasks_of(client, team.warehouse, order["id"])).values()
    await ful.ready(client, team.warehouse, task_id)
    before = await ful.counts(db)

    refused = await ful.step(client, team.warehouse, task_id, "ship", {})

    assert (refused.status_code, refused.json()["code"]) == (409, "no_carrier_rule")
    assert await ful.counts(db) == before
    task = (await client.get(f"/api/v1/pick-tasks/{task_id}", headers=team.warehouse)).json()
    assert task["status"] == "checked"
    named = await ful.ship(client, team.warehouse, task_id, carrier="SF")  # a person may name it
    assert named["carrier"] == "SF"


async def test_the_store_works_with_at_most_three_active_carriers(
    client: httpx.AsyncClient, db: Database
) -> None:
    ops = await bearer(db, "operations")
    for code, name in (("SF", "顺丰"), ("YTO", "圆通"), ("ZTO", "中通")):
        body = {"code": code, "name": name, "tracking_url": "https://t.example/{tracking_no}"}
        reply = await client.post(
            "/api/v1/carriers", json={**body, "base_fee": "8.00", "per_kg_fee": "1.00"}, headers=ops
        )
        assert reply.status_code == 201, reply.text
        assert len(reply.json()["push_secret"]) >= 32
    fourth = {"code": "JD", "name": "京东", "tracking_url": "https://jd.example/{tracking_no}"}

    refused = await client.post(
        "/api/v1/carriers", json={**fourth, "base_fee": "9.00", "per_kg_fee": "1.00"}, headers=ops
    )
    no_placeholder = await client.post(
        "/api/v1/carriers",
        json={**fourth, "tracking_url": "https://jd.example/", "base_fee": "9.00", "per_kg_fee": "1.00"},
        headers=ops,
    )

    assert (refused.status_code, refused.json()["code"]) == (409, "too_many_carriers")
    assert no_placeholder.status_code == 422
    listed = (await client.get("/api/v1/carriers", headers=ops)).json()
    assert [c["code"] for c in listed["items"]] == ["SF", "YTO", "ZTO"]
    assert all("push_secret" not in c for c in listed["items"])
    created = await audit_rows(db, "carrier", "SF")
    assert "push_secret" not in created[0].after  # never in the audit log either


async def test_scorecards_rate_each_carrier_over_its_parcels_of_the_period(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    fake = FakeClock(START)
    with clock.use(fake):
        on_time, late, damaged = [
            (await ful.shipped_order(client, team, weight_g=weight))[0] for weight in (800, 2500, 1000)
        ]
        other = await ful.shipped_order(client, team, shipping_address=address(province="广东"))
        fake.advance(days=5)
        await ful.push(
            client,
            "SF",
            secrets["SF"],
            [ful.event(on_time["tracking_no"], "delivered", START + timedelta(hours=70))],
        )
        await ful.push(
            client,
            "SF",
            secrets["SF"],
            [ful.event(late["tracking_no"], "delivered", START + timedelta(hours=80))],
        )
        await ful.push(
            client,
            "SF",
            secrets["SF"],
            [ful.event(damaged["tracking_no"], "damaged", START + timedelta(hours=20))],
        )
        await ful.push(
            client,
            "YTO",
            secrets["YTO"],
            [ful.event(other[0]["tracking_no"], "delivered", START + timedelta(hours=30))],
        )
        cards = await client.get(
            "/api/v1/carriers/scorecards",
            params={
                "from": (START - timedelta(days=1)).isoformat(),
                "to": (START + timedelta(days=1)).isoformat(),
            },
            headers=team.ops,
        )
        before = await client.get(
            "/api/v1/carriers/scorecards",
            params={"from": (START - timedelta(days=9)).isoformat(), "to": START.isoformat()},
            headers=team.ops,
        )

    assert cards.status_code == 200, cards.text
    assert {c["carrier"]: c for c in cards.json()} == {
        "SF": {
            "carrier": "SF",
            "name": "顺丰速运",
            "parcels": 3,
            "on_time_rate": 0.3333,  # of 3 past the promise: one delivered within 72 h
            "exception_rate": 0.3333,
            "damage_rate": 0.3333,
            "average_cost": "13.33",  # 12.00, 16.00 (2.5 kg: 2 more started kg), 12.00
        },
        "YTO": {
            "carrier": "YTO",
            "name": "圆通速递",
            "parcels": 1,
            "on_time_rate": 1.0,
            "exception_rate": 0.0,
            "damage_rate": 0.0,
            "average_cost": "9.50",
        },
    }
    assert [c["parcels"] for c in before.json()] == [0, 0]


async def test_a_freight_bill_is_matched_over_charged_unknown_or_missing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.carriers_with_rules(client, team.ops)
    matched, over, missing = [(await ful.shipped_order(client, team, weight_g=1000))[0] for _ in range(3)]
    finance = await bearer(db, "finance")
    bill = (
        "waybill,amount\n"
        f"{matched['tracking_no']},12.00\n"
        f"{over['tracking_no']},15.00\n"
        "SF-NOT-OURS-1,9.00\n"
        "SF-NOT-OURS-2,nine\n"
    )

    reply = await client.post(
        "/api/v1/carriers/SF/freight-bills",
        params={"reference": "SF-2030-05"},
        content=bill.encode(),
        headers={**finance, "content-type": "text/csv"},
    )

    assert reply.status_code == 201, reply.text
    report = reply.json()
    assert report["counts"] == {"matched": 1, "over_charged": 1, "unknown_waybill": 1, "missing_bill": 1}
    assert [
        (ln["row"], ln["waybill"], ln["billed"], ln["expected"], ln["outcome"]) for ln in report["lines"]
    ] == [
        (2, matched["tracking_no"], "12.00", "12.00", "matched"),
        (3, over["tracking_no"], "15.00", "12.00", "over_charged"),
        (4, "SF-NOT-OURS-1", "9.00", None, "unknown_waybill"),
        (None, missing["tracking_no"], None, "12.00", "missing_bill"),
    ]
    assert report["errors"] == [{"row": 5, "waybill": "SF-NOT-OURS-2", "reason": "bad amount 'nine'"}]
    shown = (await client.get(f"/api/v1/shipments/{over['id']}", headers=finance)).json()
    assert shown["billed_cost"] == "15.00"
    again = await client.post(
        "/api/v1/carriers/SF/freight-bills",
        params={"reference": "SF-2030-05"},
        content=bill.encode(),
        headers={**finance, "content-type": "text/csv"},
    )
    assert (again.status_code, again.json()["code"]) == (409, "freight_bill_exists")
    warehouse = await client.post(
        "/api/v1/carriers/SF/freight-bills",
        params={"reference": "X"},
        content=b"waybill,amount\n",
        headers=team.warehouse,
    )
    assert warehouse.status_code == 403


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("warehouse", True), ("manager", True), ("operations", False), ("sales", False), ("finance", False)],
)
async def test_only_warehouse_staff_and_managers_build_waves(
    client: httpx.AsyncClient, db: Database, role: str, allowed: bool
) -> None:
    reply = await client.post("/api/v1/waves", json={}, headers=await bearer(db, role))
    assert reply.status_code == (201 if allowed else 403)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("operations", True), ("manager", True), ("warehouse", False), ("customer_service", False)],
)
async def test_only_operations_and_managers_manage_carriers(
    client: httpx.AsyncClient, db: Database, role: str, allowed: bool
) -> None:
    body = {"code": "SF", "name": "顺丰", "tracking_url": "https://t.example/{tracking_no}"}
    reply = await client.post(
        "/api/v1/carriers",
        json={**body, "base_fee": "8.00", "per_kg_fee": "1.00"},
        headers=await bearer(db, role),
    )
    assert reply.status_code == (201 if allowed else 403)


async def test_packing_and_shipping_are_refused_to_other_roles(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.carriers_with_rules(client, team.ops)
    order = await ful.paid_order(client, team.sales, [("SKU-1", 1, "99.00")])
    await ful.build_waves(client, team.warehouse)
    [task_id] = (await ful.tasks_of(client, team.warehouse, order["id"])).values()
    before = await ful.counts(db)

    for action, body in (
        ("pack", {"weight_g": 900, "materials": ["纸箱"]}),
        ("check", {"passed": True}),
        ("ship", {}),
    ):
        assert (await ful.step(client, team.sales, task_id, action, body)).status_code == 403
        assert (await ful.step(client, team.ops, task_id, action, body)).status_code == 403
    assert await ful.counts(db) == before
