"""The goods coming back (ASV-3, INV-1): the return shipment, its carrier's tracking (FUL-5),
the goods received and inspected, each unit restocked or written off."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import repository
from shopflow.aftersales.models import Case, CaseClock, CaseType, ReturnEvent, ReturnShipment, case_subject
from shopflow.aftersales.schemas import InspectIn, ReturnShipmentIn
from shopflow.aftersales.service.steps import (
    C,
    asked,
    get_case,
    notice,
    refund_deadline,
    release_order,
    side_step,
    step,
)
from shopflow.core import audit, clock, events, sla
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, InvalidTransition
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.fulfillment.service import tracking
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Movement
from shopflow.orders.models import order_subject


async def record_return_shipment(
    session: AsyncSession, actor: Actor, case_id: int, data: ReturnShipmentIn
) -> Case:
    """ASV-3: the goods are on their way back, with the carrier and tracking number; for a
    quality replacement already shipped the case stays `exchanged` (its return is still due)."""
    case = await get_case(session, case_id, lock=True)
    at = clock.now()
    if case.return_pending and case.can_ship_back:
        if await repository.return_shipment(session, case.id) is not None:
            raise InvalidTransition("case", case.state, C.AWAITING_RETURN)
        side_step(
            session,
            actor,
            case,
            "case.return_shipped",
            at,
            carrier=data.carrier,
            tracking_no=data.tracking_no,
        )
    else:
        await step(
            session, actor, case, C.AWAITING_RETURN, at, carrier=data.carrier, tracking_no=data.tracking_no
        )
    session.add(
        ReturnShipment(
            case_id=case.id,
            carrier=data.carrier,
            tracking_no=data.tracking_no,
            created_by=actor.user_id,
            created_at=at,
        )
    )
    await session.flush()
    await events.record(
        session,
        "aftersales.return_shipped",
        order_subject(case.order_id),
        notice(case, carrier=data.carrier, tracking_no=data.tracking_no),
    )
    return case


async def receive(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """The returned goods arrived: `received`, to be inspected. For a quality replacement shipped
    at once the case stays `exchanged`, its goods received and still to be inspected."""
    return await _received(session, actor, await get_case(session, case_id, lock=True))


async def _received(session: AsyncSession, actor: Actor, case: Case) -> Case:
    at = clock.now()
    shipment = await repository.return_shipment(session, case.id)
    if case.return_pending:
        if not case.can_receive:
            raise InvalidTransition("case", case.state, C.RECEIVED)
        case.received_at = case.updated_at = at
        side_step(session, actor, case, "case.received", at)
    else:
        await step(session, actor, case, C.RECEIVED, at)
    if shipment is not None:
        shipment.received_at = at
    await session.flush()
    await events.record(session, "aftersales.received", order_subject(case.order_id), notice(case))
    return case


# --- the return's tracking (ASV-3, FUL-5) ----------------------------------------------------


async def followed_returns(session: AsyncSession, carrier: str | None, waybills: Collection[str]) -> set[str]:
    """Which of `waybills` are return shipments, with the carrier of that code when one is named
    (as the customer gave it, any case): fulfillment hands their carriers' events to `track_returns`."""
    found = await repository.return_shipments_by_tracking(session, waybills)
    return {s.tracking_no for s in found if carrier is None or s.carrier.casefold() == carrier.casefold()}


async def track_returns(
    session: AsyncSession, actor: Actor, reported: list[tracking.Reported], source: str
) -> tuple[int, int]:
    """A carrier's events of return shipments (pushed or imported like the store's own parcels):
    each stored once on the shipment's tracking timeline and put on its case's timeline (audited
    as `case.tracked`). A delivery ("signed for") of goods the case awaits is their arrival: the
    case is `received` as if the warehouse had said so, and inspected next. (stored, duplicates)"""
    at = clock.now()
    stored = duplicates = 0
    for shipment in await repository.return_shipments_by_tracking(session, {r.waybill for r in reported}):
        case = await get_case(session, shipment.case_id, lock=True)
        new = []
        for event in sorted(
            (r for r in reported if r.waybill == shipment.tracking_no), key=lambda r: r.occurred_at
        ):
            values = {
                "shipment_id": shipment.id,
                "status": event.status,
                "occurred_at": event.occurred_at,
                "location": event.location,
                "description": event.description,
                "source": source,
                "received_at": at,
            }
            if await repository.insert_return_event(session, values) is None:
                duplicates += 1
                continue
            stored += 1
            new.append(event)
        if not new:
            continue
        trail = [{"status": e.status, "at": e.occurred_at.isoformat(), "location": e.location} for e in new]
        after = {"tracking_no": shipment.tracking_no, "source": source, "events": trail}
        audit.queue(session, audit.row(actor, "case.tracked", "case", case.id, None, after, at))
        if any(e.status == TrackingStatus.DELIVERED for e in new) and case.can_receive:
            await _received(session, actor, case)
    await session.flush()
    return stored, duplicates


RETURNS = tracking.Follower(followed_returns, track_returns)


async def return_events(session: AsyncSession, shipment: ReturnShipment | None) -> list[ReturnEvent]:
    return [] if shipment is None else await repository.return_events(session, shipment.id)


async def inspect(session: AsyncSession, actor: Actor, case_id: int, data: InspectIn) -> Case:
    """ASV-3, INV-1: every returned unit restocked (a `return` movement into the chosen
    warehouse) or written off (`return` then `write_off`, with the note), each a ledger row. The
    goods of a quality replacement shipped at once are inspected the same way; then the case closes."""
    case = await get_case(session, case_id, lock=True)
    if not case.can_inspect:
        raise InvalidTransition("case", case.state, C.INSPECTED)
    by_sku = {line.sku_code: line for line in case.lines}
    errors, decided = asked(data.lines, by_sku.keys(), f"in case {case.case_no}")
    errors += [
        FieldError(
            "lines", f"{line.sku_code}: {decided[line.sku_code]} inspected of {line.quantity} returned"
        )
        for line in case.lines
        if decided[line.sku_code] != line.quantity
    ]
    # Into the named warehouse, else the first by priority (INV-3's order).
    warehouses = {w.code: w for w in await inventory.list_warehouses(session) if w.active}
    errors += [
        FieldError(f"lines[{i}].warehouse", f"unknown warehouse {ask.warehouse!r}")
        for i, ask in enumerate(data.lines)
        if (ask.warehouse is None and not warehouses)
        or (ask.warehouse is not None and ask.warehouse not in warehouses)
    ]
    if errors:
        raise Invalid("every returned unit must be inspected once; nothing was stored", errors=errors)
    at = clock.now()
    replaced = case.return_pending
    inspected = [ask.model_dump() for ask in data.lines]
    if replaced:
        case.inspected_at = case.updated_at = at
        side_step(session, actor, case, "case.inspected", at, lines=inspected)
    else:
        await step(session, actor, case, C.INSPECTED, at, lines=inspected)
    for ask in data.lines:
        warehouse = (
            warehouses[ask.warehouse] if ask.warehouse is not None else next(iter(warehouses.values()))
        )
        line = by_sku[ask.sku]
        reference = f"case:{case.case_no}"
        await inventory.post_movements(
            session, actor, warehouse.id, {line.sku_id: ask.quantity}, Movement.RETURN, reference
        )
        if ask.result == "restock":
            line.restocked += ask.quantity
        else:
            why = f"{reference} {ask.note or 'write_off'}"[:120]
            await inventory.post_movements(
                session, actor, warehouse.id, {line.sku_id: -ask.quantity}, Movement.WRITE_OFF, why
            )
            line.written_off += ask.quantity
    await session.flush()
    if case.type == CaseType.RETURN_REFUND:
        await sla.start(session, case_subject(case.id), CaseClock.REFUND, refund_deadline(at))
    if replaced:
        await step(session, actor, case, C.CLOSED, at)
        await release_order(session, case)
        await events.record(session, "aftersales.closed", order_subject(case.order_id), notice(case))
    return case
