"""Console pages of shipments: the parcels with their tracking timeline, the order page's panel of
its parcels, and the exception cases with their contact clock (FUL-4, FUL-5, FUL-6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import sla
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_
from shopflow.core.console.page import Console
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.fulfillment.console.labels import CASE_STATES, EXCEPTION_KINDS, SHIPMENT_STATUS, TRACKING
from shopflow.fulfillment.models.shipments import (
    CaseState,
    ExceptionKind,
    ShipmentStatus,
    TrackingStatus,
    exception_kind_for,
    shipment_subject,
)
from shopflow.fulfillment.schemas import ContactIn
from shopflow.fulfillment.service import carriers, shipping, tracking, waves
from shopflow.inventory import service as inventory

router = APIRouter(include_in_schema=False)

MAX_PARCELS = 50  # an order's parcels shown on its page
MESSAGES = (
    (r"no shipment (?P<id>\d+)", N_("There is no shipment %(id)s.")),
    (r"no exception case (?P<id>\d+)", N_("There is no exception case %(id)s.")),
)


# --- shipments ----------------------------------------------------------------------------------


@router.get("/fulfillment/shipments")
async def shipment_list(
    session: Session,
    c: Annotated[Console, can_view("fulfillment.read")],
    carrier: Annotated[str, Query(max_length=20)] = "",
    status: str = "",
    q: Annotated[str, Query(max_length=80)] = "",
    order_id: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    size = page_size()
    found, total = await shipping.list_shipments(
        session,
        order_id,
        carrier or None,
        chosen(ShipmentStatus, status),
        page,
        size,
        q.strip() or None,
    )
    return render(
        c,
        "fulfillment/shipments.html",
        shipments=found,
        carriers=await carriers.list_carriers(session),
        by_id=await carriers.carriers_by_id(session, {s.carrier_id for s in found}),
        order_numbers=await waves.order_numbers(session, {s.task_id for s in found}),
        warehouses={w.id: w.code for w in await inventory.list_warehouses(session)},
        pager=Pager(page, size, total),
        filters={"carrier": carrier, "status": status, "q": q, "order_id": order_id},
        statuses=SHIPMENT_STATUS,
        events=TRACKING,
    )


async def order_shipments(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel of its parcels (FUL-4: one per warehouse when split)."""
    if not c.can("fulfillment.read"):
        return ""
    found, _ = await shipping.list_shipments(session, order_id, None, None, 1, MAX_PARCELS)
    if not found:
        return ""
    return fragment(
        c,
        "fulfillment/_order_shipments.html",
        shipments=found,
        by_id=await carriers.carriers_by_id(session, {s.carrier_id for s in found}),
        statuses=SHIPMENT_STATUS,
        events=TRACKING,
    )


@router.get("/fulfillment/shipments/{shipment_id}")
async def shipment_page(
    shipment_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    """The parcel with its tracking timeline in event time order, problems marked, and its cases."""
    shipment = await shipping.get_shipment(session, shipment_id)
    events = await shipping.timeline(session, shipment.id)
    cases = await shipping.exceptions_of(session, shipment.id)
    return render(
        c,
        "fulfillment/shipment.html",
        shipment=shipment,
        carrier=(await carriers.carriers_by_id(session, {shipment.carrier_id}))[shipment.carrier_id],
        order_no=(await waves.order_numbers(session, {shipment.task_id}))[shipment.task_id],
        warehouses={w.id: w for w in await inventory.list_warehouses(session)},
        events=events,
        problems={e.id for e in events if exception_kind_for(TrackingStatus(e.status)) is not None},
        cases=cases,
        case_clocks=await tracking.contact_clocks(session, [case.id for case in cases]),
        clocks=await sla.of_subject(session, shipment_subject(shipment.id)),
        statuses=SHIPMENT_STATUS,
        tracking_events=TRACKING,
        kinds=EXCEPTION_KINDS,
        case_states=CASE_STATES,
    )


# --- exception cases (FUL-6) --------------------------------------------------------------------


@router.get("/fulfillment/exceptions")
async def exception_list(
    session: Session,
    c: Annotated[Console, can_view("fulfillment.read")],
    state: str = CaseState.OPEN,
    kind: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Open cases first by the nearest contact deadline; the list refreshes itself (HTMX)."""
    size = page_size()
    cases, total = await tracking.list_cases(
        session, chosen(CaseState, state), page, size, chosen(ExceptionKind, kind)
    )
    shipments = await shipping.shipments_by_id(session, {case.shipment_id for case in cases})
    live = bool(c.request.headers.get("HX-Request"))
    return render(
        c,
        "fulfillment/_exceptions_live.html" if live else "fulfillment/exceptions.html",
        cases=cases,
        shipments=shipments,
        order_numbers=await waves.order_numbers(session, {s.task_id for s in shipments.values()}),
        clocks=await tracking.contact_clocks(session, [case.id for case in cases]),
        pager=Pager(page, size, total),
        state=state,
        kind=kind,
        kinds=EXCEPTION_KINDS,
        states=CASE_STATES,
    )


async def _case(
    session: AsyncSession,
    c: Console,
    case_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    case = await tracking.get_case(session, case_id)
    shipment = await shipping.get_shipment(session, case.shipment_id)
    return render(
        c,
        "fulfillment/exception.html",
        status,
        case=case,
        shipment=shipment,
        order_no=(await waves.order_numbers(session, {shipment.task_id}))[shipment.task_id],
        clock_found=(await tracking.contact_clocks(session, [case.id])).get(case.id),
        kinds=EXCEPTION_KINDS,
        states=CASE_STATES,
        shipment_statuses=SHIPMENT_STATUS,
        values=values or {},
        errors=errors or {},
    )


@router.get("/fulfillment/exceptions/{case_id}")
async def exception_page(
    case_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return await _case(session, c, case_id)


@router.post("/fulfillment/exceptions/{case_id}/contact")
async def contact(
    case_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.exceptions")]
) -> Response:
    """The customer was contacted with a solution: the case closes and its clock stops (FUL-6)."""
    values = await form_values(c.request)

    async def close() -> Response:
        data = parsed(ContactIn, {"solution": values.get("solution", "").strip()})
        await tracking.contacted(session, c.actor, case_id, data.solution)  # type: ignore[arg-type]
        c.flash(c.gettext("Recorded: the customer was contacted and the case is closed."))
        return redirect("/fulfillment/exceptions")

    async def refused(exc: AppError) -> Response:
        return await _case(session, c, case_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, close, refused, address=f"/fulfillment/exceptions/{case_id}")
