"""FUL-4: a waybill named when shipping must be free; a taken one is refused and nothing is written."""

from __future__ import annotations

import re

import httpx

from shopflow.core.db import Database
from tests.builders import fulfillment as ful
from tests.builders.store import small_store


async def test_a_taken_waybill_is_refused_and_the_parcel_ships_with_another(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.carriers_with_rules(client, team.ops)
    [first] = await ful.shipped_order(client, team)
    order = await ful.paid_order(client, team.sales, [("SKU-2", 1, "45.50")])
    await ful.build_waves(client, team.warehouse)
    [task_id] = (await ful.tasks_of(client, team.warehouse, order["id"])).values()
    await ful.ready(client, team.warehouse, task_id)
    before = await ful.counts(db)

    taken = await ful.step(client, team.warehouse, task_id, "ship", {"tracking_no": first["tracking_no"]})

    assert (taken.status_code, taken.json()["code"]) == (409, "tracking_number_taken")
    assert await ful.counts(db) == before
    parcel = await ful.ship(client, team.warehouse, task_id, carrier="YTO", tracking_no="YT-FREE-0001")
    assert (parcel["tracking_no"], parcel["carrier"], parcel["status"]) == ("YT-FREE-0001", "YTO", "shipped")
    assert await ful.counts(db) == {
        **before,
        "shipments": before["shipments"] + 1,
        "stock_ledger": before["stock_ledger"] + 1,
        "sla_clocks": before["sla_clocks"] + 2,  # the parcel's no-event clock, the order's delivery clock
        "audit_log": before["audit_log"] + 4,  # task shipped, shipment created, order shipped, wave done
        "outbox": before["outbox"] + 1,
    }


async def test_a_drawn_waybill_is_the_carriers_code_and_twelve_digits_never_like_an_order_number(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)
    order = (await client.get(f"/api/v1/orders/{parcel['order_id']}", headers=team.sales)).json()

    assert re.fullmatch(rf"{parcel['carrier']}-\d{{12}}", parcel["tracking_no"]), parcel["tracking_no"]
    assert re.fullmatch(r"SF\d+", order["order_no"]) and not re.match(r"SF\d", parcel["tracking_no"])
