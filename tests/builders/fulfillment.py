"""Fulfillment driven through the HTTP API: carriers, paid orders, waves, packing, shipping and
tracking events pushed and signed the way a carrier signs them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from shopflow.core import sla
from shopflow.core.db import Database
from shopflow.fulfillment.models.picking import PickTask, Wave
from shopflow.fulfillment.models.shipments import Shipment, ShipmentException, TrackingEvent
from shopflow.fulfillment.service.tracking import SIGNATURE_HEADER, sign
from shopflow.inventory.models import LedgerEntry
from tests.builders.auth import bearer
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.rows import COUNTED

CARRIERS = {
    "SF": ("顺丰速运", "https://www.sf-express.example/track?no={tracking_no}", "12.00", "2.00"),
    "YTO": ("圆通速递", "https://www.yto.example/t/{tracking_no}", "8.00", "1.50"),
}


@dataclass(frozen=True)
class Crew:
    """Who does what: operations set up carriers, sales take orders, the warehouse ships."""

    ops: dict[str, str]
    sales: dict[str, str]
    warehouse: dict[str, str]


async def crew(db: Database) -> Crew:
    return Crew(await bearer(db, "operations"), await bearer(db, "sales"), await bearer(db, "warehouse"))


async def add_carrier(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> str:
    """The carrier as in CARRIERS; returns its push secret."""
    name, url, base, per_kg = CARRIERS[code]
    body = {"code": code, "name": name, "tracking_url": url, "base_fee": base, "per_kg_fee": per_kg}
    reply = await client.post("/api/v1/carriers", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["push_secret"])


async def add_rule(client: httpx.AsyncClient, headers: dict[str, str], **rule: Any) -> dict[str, Any]:
    reply = await client.post("/api/v1/carrier-rules", json=rule, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def carriers_with_rules(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """SF for Shanghai, YTO for everything else; the push secret of each."""
    secrets = {code: await add_carrier(client, headers, code) for code in CARRIERS}
    await add_rule(client, headers, carrier="SF", priority=10, province="上海")
    await add_rule(client, headers, carrier="YTO", priority=100)
    return secrets


async def paid_order(
    client: httpx.AsyncClient, headers: dict[str, str], lines: list[tuple[str, int, str]], **overrides: Any
) -> dict[str, Any]:
    order = await place_order(client, headers, lines, **overrides)
    payment = await start_payment(client, headers, order["id"])
    await pay(client, payment)
    return order


async def build_waves(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    reply = await client.post("/api/v1/waves", json={}, headers=headers)
    assert reply.status_code == 201, reply.text
    return list(reply.json())


async def tasks_of(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, int]:
    """The order's pick task per warehouse code."""
    found: dict[str, int] = {}
    for wave in (await client.get("/api/v1/waves?page_size=500", headers=headers)).json()["items"]:
        detail = (await client.get(f"/api/v1/waves/{wave['id']}", headers=headers)).json()
        found.update({t["warehouse"]: t["id"] for t in detail["tasks"] if t["order_id"] == order_id})
    return found


async def step(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: int, action: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/api/v1/pick-tasks/{task_id}/{action}", json=body, headers=headers)


async def ready(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: int, weight_g: int = 1200
) -> None:
    """Packed and through the quality check."""
    packed = await step(client, headers, task_id, "pack", {"weight_g": weight_g, "materials": ["纸箱 M"]})
    assert packed.status_code == 200, packed.text
    checked = await step(client, headers, task_id, "check", {"passed": True})
    assert checked.status_code == 200, checked.text


async def ship(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: int, **body: Any
) -> dict[str, Any]:
    reply = await step(client, headers, task_id, "ship", body)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def shipped_order(
    client: httpx.AsyncClient,
    team: Crew,
    lines: list[tuple[str, int, str]] | None = None,
    weight_g: int = 1200,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """A paid order taken through a wave, packing and the check to shipped; its shipments."""
    order = await paid_order(client, team.sales, lines or [("SKU-1", 1, "99.00")], **overrides)
    await build_waves(client, team.warehouse)
    shipments = []
    for task_id in (await tasks_of(client, team.warehouse, order["id"])).values():
        await ready(client, team.warehouse, task_id, weight_g)
        shipments.append(await ship(client, team.warehouse, task_id))
    return shipments


def event(waybill: str, status: str, at: datetime, **extra: str) -> dict[str, str]:
    return {"waybill": waybill, "status": status, "time": at.isoformat(), **extra}


async def push(
    client: httpx.AsyncClient,
    carrier: str,
    secret: str,
    events: list[dict[str, str]],
    signature: str | None = None,
) -> httpx.Response:
    body = json.dumps({"events": events}).encode()
    headers = {"content-type": "application/json", SIGNATURE_HEADER: signature or sign(body, secret)}
    return await client.post(f"/api/v1/carriers/{carrier}/events", content=body, headers=headers)


async def clocks(db: Database, subject: str) -> dict[str, sla.SlaClock]:
    async with db.transaction() as session:
        found = await session.scalars(select(sla.SlaClock).where(sla.SlaClock.subject == subject))
        return {c.kind: c for c in found}


async def counts(db: Database) -> dict[str, int]:
    """Rows per table of everything an order or a parcel writes."""
    tables = {
        **COUNTED,
        "waves": Wave,
        "pick_tasks": PickTask,
        "shipments": Shipment,
        "tracking_events": TrackingEvent,
        "shipment_exceptions": ShipmentException,
        "stock_ledger": LedgerEntry,
        "sla_clocks": sla.SlaClock,
    }
    async with db.transaction() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }
