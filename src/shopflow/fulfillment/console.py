"""Console pages of fulfillment: waves and their pick lists, a pick task's packing, quality check and
shipping, shipments with their tracking timeline, exception cases and their contact clock (FUL-1..6).

Every action calls the service the API calls; a refused action changes nothing and the page says why,
with what was typed kept in its form.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import console, policy, sla
from shopflow.core.api import Session
from shopflow.core.console import (
    ALERT_KINDS,
    CLOCKS,
    MESSAGES,
    N_,
    NAV,
    PANELS,
    STATES,
    SUBJECTS,
    Console,
    NavItem,
    Pager,
    can_do,
    can_view,
    label,
    render,
)
from shopflow.core.errors import AppError
from shopflow.fulfillment import printing
from shopflow.fulfillment.errors import NoCarrier, TrackingNumberTaken
from shopflow.fulfillment.models.picking import TaskStatus, WaveStatus
from shopflow.fulfillment.models.shipments import (
    CaseState,
    ExceptionKind,
    ShipmentClock,
    ShipmentStatus,
    TrackingStatus,
    exception_kind_for,
    shipment_subject,
)
from shopflow.fulfillment.schemas import CheckIn, ContactIn, PackIn, ShipIn, WaveBuildIn
from shopflow.fulfillment.service import carriers, packing, shipping, tracking, waves
from shopflow.inventory import service as inventory

router = APIRouter(include_in_schema=False)

E = TypeVar("E", bound=StrEnum)
MAX_PARCELS = 50  # an order's parcels shown on its page

WAVE_STATUS = {
    WaveStatus.OPEN: label("wave status", "in progress"),
    WaveStatus.DONE: label("wave status", "done"),
}
TASK_STATUS = {
    TaskStatus.PICKING: label("pick task status", "picking"),
    TaskStatus.PACKED: label("pick task status", "packed"),
    TaskStatus.CHECKED: label("pick task status", "checked"),
    TaskStatus.SHIPPED: label("pick task status", "shipped"),
}
SHIPMENT_STATUS = {
    ShipmentStatus.SHIPPED: label("shipment status", "handed over"),
    ShipmentStatus.IN_TRANSIT: label("shipment status", "in transit"),
    ShipmentStatus.EXCEPTION: label("shipment status", "exception"),
    ShipmentStatus.DELIVERED: label("shipment status", "delivered"),
    ShipmentStatus.RETURNED: label("shipment status", "returned"),
}
TRACKING = {
    TrackingStatus.PICKED_UP: label("tracking event", "Picked up"),
    TrackingStatus.IN_TRANSIT: label("tracking event", "In transit"),
    TrackingStatus.AT_HUB: label("tracking event", "Arrived at hub"),
    TrackingStatus.OUT_FOR_DELIVERY: label("tracking event", "Out for delivery"),
    TrackingStatus.DELIVERED: label("tracking event", "Delivered"),
    TrackingStatus.EXCEPTION: label("tracking event", "Exception"),
    TrackingStatus.DAMAGED: label("tracking event", "Damaged"),
    TrackingStatus.LOST: label("tracking event", "Lost"),
    TrackingStatus.RETURNED: label("tracking event", "Returned"),
}
EXCEPTION_KINDS = {
    ExceptionKind.STUCK: label("exception kind", "no tracking update"),
    ExceptionKind.DAMAGED: label("exception kind", "damaged"),
    ExceptionKind.LOST: label("exception kind", "lost"),
    ExceptionKind.RETURNED: label("exception kind", "returned"),
    ExceptionKind.OTHER: label("exception kind", "other problem"),
}
CASE_STATES = {
    CaseState.OPEN: label("exception state", "to contact"),
    CaseState.CLOSED: label("exception state", "contacted"),
}
NAV.append(NavItem("/fulfillment", label("nav", "Fulfillment"), "fulfillment.read", 40))
STATES.update(
    {
        "wave": WAVE_STATUS,
        "pick task": TASK_STATUS,
        "shipment": SHIPMENT_STATUS,
        "exception case": CASE_STATES,
    }
)
SUBJECTS.update(
    {
        "shipment": ("/fulfillment/shipments/{id}", label("subject", "Shipment")),
        "exception": ("/fulfillment/exceptions/{id}", label("subject", "Exception case")),
    }
)
CLOCKS.update(
    {
        ShipmentClock.NO_EVENT: label("clock", "Tracking update (FUL-6)"),
        ShipmentClock.EXCEPTION_CONTACT: label("clock", "Customer contact (FUL-6)"),
    }
)
ALERT_KINDS["logistics_exception"] = label("alert kind", "Parcel problem")
MESSAGES.extend(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (r"no wave (?P<id>\d+)", N_("There is no wave %(id)s.")),
        (r"no pick task (?P<id>\d+)", N_("There is no pick task %(id)s.")),
        (r"no shipment (?P<id>\d+)", N_("There is no shipment %(id)s.")),
        (r"no exception case (?P<id>\d+)", N_("There is no exception case %(id)s.")),
        (r"no carrier ['\"](?P<code>.*)['\"]", N_("There is no carrier %(code)s.")),
        (
            r"no carrier rule matches a parcel of (?P<weight>\d+) g to (?P<province>.*) for an order"
            r" of (?P<value>[\d.]+); add a rule or name the carrier",
            N_(
                "No carrier rule matches a parcel of %(weight)s g to %(province)s for an order of"
                " ¥%(value)s: choose the carrier, or ask operations to add a rule."
            ),
        ),
        (
            r"tracking number ['\"](?P<number>.*)['\"] is already used by another parcel",
            N_("Tracking number %(number)s is already used by another parcel."),
        ),
        (
            r"order (?P<number>\S+) holds no stock in this warehouse to ship",
            N_("Order %(number)s holds no stock in this warehouse to ship."),
        ),
        ("Field required", N_("is required")),
        (r"Input should be greater than (?P<n>\d+)", N_("must be more than %(n)s")),
        (r"Input should be less than or equal to (?P<n>\d+)", N_("must be at most %(n)s")),
        (r"String should have at least (?P<n>\d+) characters", N_("at least %(n)s characters")),
        (r"String should match pattern '\^\[A-Za-z0-9-\]\+\$'", N_("only letters, digits and hyphens")),
        (r"List should have at most (?P<n>\d+) items.*", N_("at most %(n)s items")),
        ("Value error, a failed check needs a reason", N_("a failed check needs a reason")),
    )
)


def _chosen(kind: type[E], value: str) -> E | None:
    """A filter's value as its enum; anything else (blank, "all") filters nothing."""
    return kind(value) if value in {member.value for member in kind} else None


def _typed(values: dict[str, str], *names: str) -> dict[str, str]:
    """The fields that were filled in, trimmed: a blank field is a missing one."""
    return {name: value for name in names if (value := values.get(name, "").strip())}


# --- waves --------------------------------------------------------------------------------------


async def _waves(
    session: AsyncSession,
    c: Console,
    filters: dict[str, str],
    page: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    size = console.page_size()
    found, total = await waves.list_waves(
        session, _chosen(WaveStatus, filters["status"]), filters["warehouse"] or None, page, size
    )
    return render(
        c,
        "fulfillment/waves.html",
        status,
        waves=found,
        pager=Pager(page, size, total),
        filters=filters,
        statuses=WAVE_STATUS,
        warehouses=await inventory.list_warehouses(session),
        wave_size=policy.current().fulfillment.wave_size,
        values=values,
        errors=errors,
    )


@router.get("/fulfillment")
async def wave_list(
    session: Session,
    c: Annotated[Console, can_view("fulfillment.read")],
    status: str = "",
    warehouse: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _waves(session, c, {"status": status, "warehouse": warehouse}, page, {}, {})


@router.post("/fulfillment/waves")
async def create_waves(session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    """FUL-1: paid orders, earliest ship-by first, into one wave per warehouse holding their stock."""
    values = await console.form_values(c.request)
    try:
        data = console.parsed(WaveBuildIn, _typed(values, "max_orders"))
        built = await waves.build_waves(session, c.actor, data.max_orders)  # type: ignore[arg-type]
        described = await waves.describe_waves(session, built)
    except AppError as exc:
        await session.rollback()
        errors = console.field_errors(exc.errors, c) or {"form": c.error(exc)}
        return await _waves(session, c, {"status": "", "warehouse": ""}, 1, values, errors, exc.status)
    if described:
        c.flash(
            c.gettext(
                "Waves created: %(waves)d, with %(orders)d orders to pick.",
                waves=len(described),
                orders=sum(wave.orders for wave in described),
            )
        )
    else:
        c.flash(c.gettext("No paid order is waiting to be picked: no wave was created."))
    return console.redirect("/fulfillment")


@router.get("/fulfillment/waves/{wave_id}")
async def wave_page(
    wave_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return render(
        c,
        "fulfillment/wave.html",
        wave=await waves.wave_detail(session, wave_id),
        statuses=WAVE_STATUS,
        task_statuses=TASK_STATUS,
    )


@router.get("/fulfillment/waves/{wave_id}/pick-list")
async def pick_list(
    wave_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return printing.html_response("fulfillment/pick_list.html", await waves.pick_list(session, wave_id))


@router.get("/fulfillment/waves/{wave_id}/pick-list.pdf")
async def pick_list_pdf(
    wave_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    doc = await waves.pick_list(session, wave_id)
    return printing.pdf_response(printing.pick_list_pdf(doc), f"pick-list-{doc.wave_no}.pdf")


# --- pick tasks: pack, check, ship --------------------------------------------------------------


async def _task(
    session: AsyncSession,
    c: Console,
    task_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    task = await waves.get_task(session, task_id)
    ship_to: dict[str, Any] = {"carriers": [], "suggested": None, "no_rule": None}
    if task.status == TaskStatus.CHECKED and c.can("fulfillment.work"):
        ship_to["carriers"] = [found for found in await carriers.list_carriers(session) if found.active]
        try:
            ship_to["suggested"] = await shipping.suggested_carrier(session, task)
        except NoCarrier as exc:
            ship_to["no_rule"] = c.error(exc)
    return render(
        c,
        "fulfillment/task.html",
        status,
        task=await waves.describe_task(session, task),
        wave=await waves.get_wave(session, task.wave_id),
        shipment=await shipping.shipment_of_task(session, task.id),
        statuses=TASK_STATUS,
        can_work=c.can("fulfillment.work"),
        values=values or {},
        errors=errors or {},
        refusal=refusal,
        **ship_to,
    )


@router.get("/fulfillment/tasks/{task_id}")
async def task_page(
    task_id: int, session: Session, c: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return await _task(session, c, task_id)


@router.get("/fulfillment/tasks/{task_id}/packing-slip")
async def packing_slip(
    task_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> HTMLResponse:
    return printing.html_response("fulfillment/packing_slip.html", await waves.packing_slip(session, task_id))


@router.get("/fulfillment/tasks/{task_id}/packing-slip.pdf")
async def packing_slip_pdf(
    task_id: int, session: Session, _: Annotated[Console, can_view("fulfillment.read")]
) -> Response:
    doc = await waves.packing_slip(session, task_id)
    return printing.pdf_response(printing.packing_slip_pdf(doc), f"packing-slip-{doc.order_no}-{task_id}.pdf")


TaskWork = Callable[[dict[str, str]], Awaitable[str]]  # the form's values -> where to go next


async def _act(
    session: AsyncSession,
    c: Console,
    task_id: int,
    work: TaskWork,
    field: Callable[[str], str] = str,
) -> Response:
    """Run a step of a task; on refusal nothing is kept and the page says why, with what was typed."""
    values = await console.form_values(c.request)
    try:
        target = await work(values)
    except AppError as exc:
        await session.rollback()
        errors = console.field_errors(exc.errors, c, field)
        if isinstance(exc, TrackingNumberTaken):
            errors["tracking_no"] = c.error(exc)
        refusal = None if errors else c.error(exc)
        return await _task(session, c, task_id, values, errors, refusal, exc.status)
    return console.redirect(target)


def _materials(typed: str) -> list[str]:
    """Packing materials as typed: separated by commas (either width), 、 or new lines."""
    return [part.strip() for part in re.split(r"[,，、\n]", typed) if part.strip()]


@router.post("/fulfillment/tasks/{task_id}/pack")
async def pack(task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    async def work(values: dict[str, str]) -> str:
        data = _typed(values, "weight_g")
        materials = _materials(values.get("materials", ""))
        packed = console.parsed(PackIn, {**data, "materials": materials} if materials else data)
        await packing.pack(session, c.actor, task_id, packed)  # type: ignore[arg-type]
        c.flash(c.gettext("Packed, %(weight)d g: waiting for the quality check.", weight=packed.weight_g))
        return f"/fulfillment/tasks/{task_id}"

    return await _act(session, c, task_id, work, lambda name: name.partition("[")[0])


@router.post("/fulfillment/tasks/{task_id}/check")
async def check(
    task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]
) -> Response:
    """The quality check: passed, the parcel may ship; failed, it and its order go back to picking."""

    async def work(values: dict[str, str]) -> str:
        data = console.parsed(CheckIn, {"passed": values.get("passed") == "true", **_typed(values, "reason")})
        await packing.check(session, c.actor, task_id, data)  # type: ignore[arg-type]
        if data.passed:
            c.flash(c.gettext("Quality check passed: the parcel is ready to ship."))
        else:
            c.flash(c.gettext("Quality check failed: the parcel and its order are back to picking."), "error")
        return f"/fulfillment/tasks/{task_id}"

    return await _act(session, c, task_id, work, lambda name: name or "reason")


@router.post("/fulfillment/tasks/{task_id}/ship")
async def ship(task_id: int, session: Session, c: Annotated[Console, can_do("fulfillment.work")]) -> Response:
    """FUL-4: the checked parcel leaves with the chosen carrier, or the rule's, and its waybill."""

    async def work(values: dict[str, str]) -> str:
        data = console.parsed(ShipIn, _typed(values, "carrier", "tracking_no"))
        shipment = await shipping.ship(session, c.actor, task_id, data)  # type: ignore[arg-type]
        carrier = (await carriers.carriers_by_id(session, {shipment.carrier_id}))[shipment.carrier_id]
        c.flash(
            c.gettext(
                "Shipped with %(carrier)s, tracking number %(number)s.",
                carrier=carrier.name,
                number=shipment.tracking_no,
            )
        )
        return f"/fulfillment/shipments/{shipment.id}"

    return await _act(session, c, task_id, work)


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
    size = console.page_size()
    found, total = await shipping.list_shipments(
        session,
        order_id,
        carrier or None,
        _chosen(ShipmentStatus, status),
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


async def _order_shipments(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel of its parcels (FUL-4: one per warehouse when split)."""
    if not c.can("fulfillment.read"):
        return ""
    found, _ = await shipping.list_shipments(session, order_id, None, None, 1, MAX_PARCELS)
    if not found:
        return ""
    return console.fragment(
        c,
        "fulfillment/_order_shipments.html",
        shipments=found,
        by_id=await carriers.carriers_by_id(session, {s.carrier_id for s in found}),
        statuses=SHIPMENT_STATUS,
        events=TRACKING,
    )


PANELS["order"].append(_order_shipments)


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
    size = console.page_size()
    cases, total = await tracking.list_cases(
        session, _chosen(CaseState, state), page, size, _chosen(ExceptionKind, kind)
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
    values = await console.form_values(c.request)
    try:
        data = console.parsed(ContactIn, {"solution": values.get("solution", "").strip()})
        await tracking.contacted(session, c.actor, case_id, data.solution)  # type: ignore[arg-type]
    except AppError as exc:
        await session.rollback()
        errors = console.field_errors(exc.errors, c) or {"form": c.error(exc)}
        return await _case(session, c, case_id, values, errors, exc.status)
    c.flash(c.gettext("Recorded: the customer was contacted and the case is closed."))
    return console.redirect("/fulfillment/exceptions")
