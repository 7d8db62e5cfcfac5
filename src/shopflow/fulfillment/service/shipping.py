"""Shipping a parcel: carrier by rule, waybill, stock out through the ledger (FUL-4, INV-1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, policy, sla
from shopflow.core.audit import Actor
from shopflow.fulfillment.errors import NothingToShip, ShipmentNotFound, TrackingNumberTaken
from shopflow.fulfillment.models.carriers import Carrier, Parcel
from shopflow.fulfillment.models.picking import PickTask, TaskStatus, WaveStatus
from shopflow.fulfillment.models.shipments import (
    Shipment,
    ShipmentClock,
    ShipmentException,
    ShipmentStatus,
    TrackingEvent,
    new_waybill,
    shipment_subject,
)
from shopflow.fulfillment.repository import picking as picking_repository
from shopflow.fulfillment.repository import shipments as shipment_repository
from shopflow.fulfillment.schemas import ShipIn
from shopflow.fulfillment.service import carriers as carrier_service
from shopflow.fulfillment.service.waves import locked_task
from shopflow.inventory import service as inventory
from shopflow.orders.models import Order
from shopflow.orders.service import fulfillment_steps, queries

TRACKING_NO_ATTEMPTS = 5


async def _insert(
    session: AsyncSession, values: dict[str, Any], carrier: Carrier, given: str | None
) -> Shipment:
    for _ in range(1 if given else TRACKING_NO_ATTEMPTS):
        values["tracking_no"] = given or new_waybill(carrier.code)
        shipment = await shipment_repository.insert_shipment(session, values)
        if shipment is not None:
            return shipment
    if given:
        raise TrackingNumberTaken(f"tracking number {given!r} is already used by another parcel")
    raise RuntimeError("could not draw a free tracking number")


def notice(shipment: Shipment, carrier: Carrier) -> dict[str, str]:
    """What the customer is told of a parcel (ORD-8)."""
    return {
        "carrier": carrier.code,
        "carrier_name": carrier.name,
        "tracking_no": shipment.tracking_no,
        "tracking_url": carrier.link(shipment.tracking_no),
    }


def _parcel(order: Order, weight_g: int) -> Parcel:
    """What the rule table looks at (FUL-3): destination, package weight, goods value."""
    return Parcel(province=order.ship_province, weight_g=weight_g, order_value=order.subtotal)


async def suggested_carrier(session: AsyncSession, task: PickTask) -> Carrier | None:
    """The carrier the rule table would choose for a packed parcel; None before it is weighed.
    Raises NoCarrier when no rule matches, as shipping it without naming a carrier would."""
    if task.weight_g is None:
        return None
    order = await queries.get_order(session, task.order_id)
    return await carrier_service.choose(session, _parcel(order, task.weight_g))


async def ship(session: AsyncSession, actor: Actor, task_id: int, data: ShipIn) -> Shipment:
    """FUL-4: a checked parcel leaves with a carrier (named, or chosen by the rule table) and a
    waybill; its stock leaves through the ledger and its reservations are consumed. When it is
    the order's last parcel the order is `shipped` and the customer is told every waybill."""
    task, order = await locked_task(session, task_id)
    at = clock.now()
    previous = task.move_to(TaskStatus.SHIPPED, at)
    await picking_repository.save_task(session, task)
    assert task.weight_g is not None  # packed before it could pass the check
    if data.carrier is not None:
        carrier = await carrier_service.get_carrier(session, data.carrier)
    else:
        carrier = await carrier_service.choose(session, _parcel(order, task.weight_g))
    rules = policy.current()
    values: dict[str, Any] = {
        "task_id": task.id,
        "order_id": order.id,
        "warehouse_id": task.warehouse_id,
        "carrier_id": carrier.id,
        "status": ShipmentStatus.SHIPPED,
        "weight_g": task.weight_g,
        "expected_cost": carrier.cost(task.weight_g),
        "shipped_at": at,
        "deliver_by": at + timedelta(hours=rules.orders.deliver_within_hours),
        "created_by": actor.user_id,
    }
    shipment = await _insert(session, values, carrier, data.tracking_no)
    reference = f"shipment:{shipment.id}:{shipment.tracking_no}"
    stuck_after = timedelta(hours=rules.fulfillment.stuck_without_event_hours)
    audit.queue(
        session,
        audit.row(
            actor,
            "pick_task.shipped",
            "pick_task",
            task.id,
            {"status": previous},
            {"status": task.status},
            at,
        ),
        audit.row(
            actor, "shipment.created", "shipment", shipment.id, None, {**notice(shipment, carrier)}, at
        ),
    )
    # A new shipment has no clock yet: its no-event clock is written with the ledger and the trail.
    sla.queue_running(session, shipment_subject(shipment.id), ShipmentClock.NO_EVENT, at + stuck_after)
    if not await inventory.ship_reserved(session, actor, order.id, task.warehouse_id, reference):
        raise NothingToShip(f"order {order.order_no} holds no stock in this warehouse to ship")
    if all(
        status == TaskStatus.SHIPPED
        for _, status in await picking_repository.tasks_of_order(session, order.id)
    ):
        parcels = await shipment_repository.parcels_of_order(session, order.id)
        await fulfillment_steps.mark_shipped_locked(session, actor, order, [notice(p, c) for p, c in parcels])
    await _close_wave_if_done(session, actor, task.wave_id, at)
    return shipment


async def _close_wave_if_done(session: AsyncSession, actor: Actor, wave_id: int, at: datetime) -> None:
    """The last step of a ship: the wave row is locked before counting, so that of two parcels
    shipped at once the second sees the first and closes the wave."""
    wave = await picking_repository.get_wave(session, wave_id, lock=True)
    assert wave is not None
    if wave.status == WaveStatus.OPEN and not await picking_repository.unshipped_in_wave(session, wave_id):
        wave.move_to(WaveStatus.DONE, at)
        await picking_repository.save_wave(session, wave)
        await audit.record(
            session, audit.row(actor, "wave.done", "wave", wave.id, None, {"status": wave.status}, at)
        )


async def get_shipment(session: AsyncSession, shipment_id: int) -> Shipment:
    shipment = await shipment_repository.get_shipment(session, shipment_id)
    if shipment is None:
        raise ShipmentNotFound(f"no shipment {shipment_id}")
    return shipment


async def list_shipments(
    session: AsyncSession,
    order_id: int | None,
    carrier: str | None,
    status: ShipmentStatus | None,
    page: int,
    page_size: int,
    search: str | None = None,
) -> tuple[list[Shipment], int]:
    """A page of parcels, newest first; `search` is a waybill, our order number or the channel's."""
    carrier_id = None if carrier is None else (await carrier_service.get_carrier(session, carrier)).id
    found = None
    if search:
        matching, _, _ = await queries.list_orders(session, number=search)
        found = ({search, search.upper()}, [order.id for order in matching])
    return await shipment_repository.page_shipments(
        session, order_id, carrier_id, status, (page - 1) * page_size, page_size, found
    )


async def shipments_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Shipment]:
    return await shipment_repository.shipments_by_id(session, ids)


async def shipment_of_task(session: AsyncSession, task_id: int) -> Shipment | None:
    """The parcel a task shipped, if it has."""
    return await shipment_repository.shipment_of_task(session, task_id)


async def timeline(session: AsyncSession, shipment_id: int) -> list[TrackingEvent]:
    """FUL-5: the parcel's events in the order they happened, whatever order they arrived in."""
    return await shipment_repository.timeline(session, shipment_id)


async def exceptions_of(session: AsyncSession, shipment_id: int) -> list[ShipmentException]:
    return await shipment_repository.cases_of_shipment(session, shipment_id)
