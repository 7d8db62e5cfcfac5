"""A paid order served from two warehouses, end to end over HTTP: wave, pick list, packing with a
failed then passed check, split shipment, signed tracking pushes, delivery (FUL-1..6, INV-1)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pypdf

from shopflow.core.db import Database
from shopflow.inventory import repository as stock
from shopflow.inventory.models import ReservationState
from tests.builders import fulfillment as ful
from tests.builders.auth import bearer
from tests.builders.inventory import all_stock, ledger_sums
from tests.builders.rows import audit_rows, outbox
from tests.builders.store import small_store

T0 = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


async def test_paid_split_order_goes_from_wave_to_delivered(client: httpx.AsyncClient, db: Database) -> None:
    await small_store(db)  # SKU-1: 10 in WH-A, 5 in WH-B; SKU-2: 20 in WH-A
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    order = await ful.paid_order(client, team.sales, [("SKU-1", 12, "99.00"), ("SKU-2", 1, "45.50")])
    oid = order["id"]
    held = await ful.paid_order(client, team.sales, [("SKU-2", 1, "45.50")])
    hold = await client.post(
        f"/api/v1/orders/{held['id']}/hold", json={}, headers=await bearer(db, "customer_service")
    )
    assert hold.status_code == 200, hold.text

    # FUL-1: one wave per warehouse; the held order is left out; the order is picking.
    waves = await ful.build_waves(client, team.warehouse)

    assert sorted((w["warehouse"], w["orders"], w["status"]) for w in waves) == [
        ("WH-A", 1, "open"),
        ("WH-B", 1, "open"),
    ]
    assert await _status(client, team, oid) == "picking"
    assert await _status(client, team, held["id"]) == "on_hold"
    tasks = await ful.tasks_of(client, team.warehouse, oid)
    task_a = (await client.get(f"/api/v1/pick-tasks/{tasks['WH-A']}", headers=team.warehouse)).json()
    assert [(ln["sku_code"], ln["quantity"]) for ln in task_a["lines"]] == [("SKU-1", 10), ("SKU-2", 1)]
    wave_a = next(w for w in waves if w["warehouse"] == "WH-A")

    # Printable pick list and packing slip, HTML and PDF, Chinese included.
    html = await client.get(f"/api/v1/waves/{wave_a['id']}/pick-list", headers=team.warehouse)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert order["order_no"] in html.text and "商品 SKU-1" in html.text and "拣货单" in html.text
    pdf = await client.get(f"/api/v1/waves/{wave_a['id']}/pick-list.pdf", headers=team.warehouse)
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "拣货单" in text and "商品 SKU-1" in text and "商品 SKU-2" in text and order["order_no"] in text
    slip = await client.get(f"/api/v1/pick-tasks/{tasks['WH-B']}/packing-slip.pdf", headers=team.warehouse)
    slip_text = pdf_text(slip.content)
    # RSK-3: the carrier's address in full; the recipient's name masked and no phone, even masked.
    assert "装箱单" in slip_text and "张*" in slip_text and "浦东新区 世纪大道100号 200120" in slip_text
    assert "张三" not in slip_text and "****8000" not in slip_text and "13800138000" not in slip_text
    assert "2/2" in slip_text

    # FUL-2: both parcels packed -> order packed; a failed check sends it back to picking.
    pack = {"weight_g": 5400, "materials": ["纸箱 L", "气泡膜"]}
    assert (await ful.step(client, team.warehouse, tasks["WH-A"], "pack", pack)).status_code == 200
    assert await _status(client, team, oid) == "picking"
    assert (await ful.step(client, team.warehouse, tasks["WH-B"], "pack", pack)).status_code == 200
    assert await _status(client, team, oid) == "packed"
    failed = await ful.step(
        client, team.warehouse, tasks["WH-B"], "check", {"passed": False, "reason": "少一件"}
    )
    assert failed.json()["status"] == "picking" and failed.json()["qc_failures"] == 1
    assert [(ln["sku_code"], ln["quantity"]) for ln in failed.json()["lines"]] == [("SKU-1", 2)]
    detail = (await client.get(f"/api/v1/orders/{oid}", headers=team.sales)).json()
    assert detail["status"] == "picking"
    assert detail["history"][-1]["reason"] == "quality check failed: 少一件"

    # Illegal steps are refused with 409 and change nothing.
    before = await ful.counts(db)
    again = await ful.step(client, team.warehouse, tasks["WH-B"], "check", {"passed": True})
    early = await ful.step(client, team.warehouse, tasks["WH-A"], "ship", {})
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    assert (early.status_code, early.json()["code"]) == (409, "invalid_transition")
    assert await ful.counts(db) == before

    await ful.ready(client, team.warehouse, tasks["WH-B"], 1300)
    assert (
        await ful.step(client, team.warehouse, tasks["WH-A"], "check", {"passed": True})
    ).status_code == 200

    # FUL-3/4: the rule picks SF for Shanghai; the first parcel alone does not ship the order.
    parcel_a = await ful.ship(client, team.warehouse, tasks["WH-A"])
    assert (parcel_a["carrier"], parcel_a["warehouse"], parcel_a["weight_g"]) == ("SF", "WH-A", 5400)
    assert parcel_a["expected_cost"] == "22.00"  # 12.00 first kg + 5 started kg x 2.00
    assert await _status(client, team, oid) == "packed"
    parcel_b = await ful.ship(
        client, team.warehouse, tasks["WH-B"], carrier="YTO", tracking_no="YT-TEST-0001"
    )
    assert (parcel_b["carrier"], parcel_b["warehouse"], parcel_b["expected_cost"]) == ("YTO", "WH-B", "9.50")
    assert await _status(client, team, oid) == "shipped"

    shipped = [e for e in await outbox(db, f"order:{oid}") if e.event == "order.shipped"]
    assert len(shipped) == 1
    assert sorted(shipped[0].payload["shipments"], key=lambda p: p["carrier"]) == [
        {
            "carrier": "SF",
            "carrier_name": "顺丰速运",
            "tracking_no": parcel_a["tracking_no"],
            "tracking_url": f"https://www.sf-express.example/track?no={parcel_a['tracking_no']}",
        },
        {
            "carrier": "YTO",
            "carrier_name": "圆通速递",
            "tracking_no": "YT-TEST-0001",
            "tracking_url": "https://www.yto.example/t/YT-TEST-0001",
        },
    ]
    listed = (await client.get("/api/v1/waves?status=done", headers=team.warehouse)).json()
    assert {w["id"] for w in listed["items"]} == {w["id"] for w in waves}

    # INV-1/INV-2: stock left through the ledger; reservations consumed; on-hand = ledger sum.
    sku1 = (await client.get("/api/v1/inventory/SKU-1", headers=team.sales)).json()
    assert [(w["warehouse"], w["on_hand"], w["reserved"]) for w in sku1["warehouses"]] == [
        ("WH-A", 0, 0),
        ("WH-B", 3, 0),
    ]
    ledger = (await client.get("/api/v1/inventory/SKU-1/ledger", headers=team.sales)).json()["items"]
    assert sorted((e["kind"], e["quantity"]) for e in ledger if e["kind"] == "shipment") == [
        ("shipment", -10),
        ("shipment", -2),
    ]
    async with db.transaction() as session:
        states = {r.state for r in await stock.reservations_of(session, oid)}
        sums = await ledger_sums(session)
        rows = await all_stock(session)
    assert states == {ReservationState.CONSUMED}
    assert all(sums.get((r.sku_id, r.warehouse_id), 0) == r.on_hand for r in rows)

    # FUL-5: signed pushes; a late event takes its place by time; a repeat is stored once.
    sf = secrets["SF"]
    waybill = parcel_a["tracking_no"]
    first = await ful.push(
        client,
        "SF",
        sf,
        [
            ful.event(waybill, "picked_up", T0, location="上海"),
            ful.event(waybill, "at_hub", T0 + timedelta(hours=10), location="杭州"),
        ],
    )
    assert first.json() == {"stored": 2, "duplicates": 0}
    late = await ful.push(client, "SF", sf, [ful.event(waybill, "in_transit", T0 + timedelta(hours=4))])
    repeat = await ful.push(client, "SF", sf, [ful.event(waybill, "at_hub", T0 + timedelta(hours=10))])
    assert late.json() == {"stored": 1, "duplicates": 0}
    assert repeat.json() == {"stored": 0, "duplicates": 1}
    parcel = (await client.get(f"/api/v1/shipments/{parcel_a['id']}", headers=team.sales)).json()
    assert [e["status"] for e in parcel["timeline"]] == ["picked_up", "in_transit", "at_hub"]
    assert (parcel["status"], parcel["last_event"]) == ("in_transit", "at_hub")
    no_event = (await ful.clocks(db, f"shipment:{parcel_a['id']}"))["shipment.no_event"]
    assert (no_event.state, no_event.deadline) == ("running", T0 + timedelta(hours=10 + 48))

    delivered = ful.event(waybill, "delivered", T0 + timedelta(hours=30))
    assert (await ful.push(client, "SF", sf, [delivered])).json()["stored"] == 1
    assert await _status(client, team, oid) == "shipped"  # one parcel still on its way
    yto = [ful.event("YT-TEST-0001", "delivered", T0 + timedelta(hours=40))]
    assert (await ful.push(client, "YTO", secrets["YTO"], yto)).status_code == 200
    assert await _status(client, team, oid) == "delivered"
    assert [e.event for e in await outbox(db, f"order:{oid}")].count("order.delivered") == 1
    assert (await ful.clocks(db, f"shipment:{parcel_a['id']}"))["shipment.no_event"].state == "met"
    trail = [(r.action, r.actor_name) for r in await audit_rows(db, "shipment", parcel_a["id"])]
    assert trail[1:] == [
        ("shipment.in_transit", "carrier:SF"),
        ("shipment.tracked", "carrier:SF"),
        ("shipment.tracked", "carrier:SF"),
        ("shipment.delivered", "carrier:SF"),
        ("shipment.tracked", "carrier:SF"),
    ]


async def test_a_push_with_a_bad_signature_or_an_unknown_waybill_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)
    good = [ful.event(parcel["tracking_no"], "picked_up", T0)]
    before = await ful.counts(db)

    forged = await ful.push(client, "SF", secrets["SF"], good, signature="0" * 64)
    wrong_key = await ful.push(client, "SF", secrets["YTO"], good)
    unsigned = await client.post("/api/v1/carriers/SF/events", json={"events": good})
    other_carrier = await ful.push(client, "YTO", secrets["YTO"], good)
    unknown = await ful.push(client, "SF", secrets["SF"], [*good, ful.event("SF-NO-SUCH-1", "picked_up", T0)])
    bad_status = await ful.push(
        client, "SF", secrets["SF"], [ful.event(parcel["tracking_no"], "teleported", T0)]
    )

    assert [r.status_code for r in (forged, wrong_key, unsigned)] == [401, 401, 401]
    assert forged.json()["code"] == "bad_signature"
    assert (other_carrier.status_code, unknown.status_code, bad_status.status_code) == (422, 422, 422)
    assert unknown.json()["errors"] == [
        {"field": "events[1].waybill", "message": "no parcel 'SF-NO-SUCH-1' with SF"}
    ]
    assert await ful.counts(db) == before
    detail = (await client.get(f"/api/v1/shipments/{parcel['id']}", headers=team.sales)).json()
    assert detail["timeline"] == [] and detail["status"] == "shipped"


async def _status(client: httpx.AsyncClient, team: ful.Crew, order_id: int) -> str:
    return str((await client.get(f"/api/v1/orders/{order_id}", headers=team.sales)).json()["status"])
