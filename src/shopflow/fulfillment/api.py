from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from shopflow.core.api import PUBLIC, Pages, Session, Viewer, paged, problems, require
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.core.money import AmountText
from shopflow.core.schemas import AwareWhen, Id, Page, When, no_nul
from shopflow.fulfillment.console import prints
from shopflow.fulfillment.models.carriers import CarrierRule, Parcel
from shopflow.fulfillment.models.picking import WaveStatus
from shopflow.fulfillment.models.shipments import (
    CaseState,
    ExceptionKind,
    Shipment,
    ShipmentException,
    ShipmentStatus,
)
from shopflow.fulfillment.schemas import (
    BillLineOut,
    BillReport,
    CarrierChoice,
    CarrierCreated,
    CarrierIn,
    CarrierOut,
    CarrierPatch,
    CaseOut,
    CheckIn,
    ContactIn,
    EventOut,
    PackIn,
    PushAck,
    RowErrorOut,
    RuleIn,
    RuleOut,
    ScorecardOut,
    ShipIn,
    ShipmentDetail,
    ShipmentOut,
    TaskOut,
    WaveBuildIn,
    WaveDetail,
    WaveOut,
    Weight,
)
from shopflow.fulfillment.service import carriers, packing, reports, shipping, tracking, waves
from shopflow.inventory import service as inventory

router = APIRouter(tags=["fulfillment"], responses=problems(401))
PDF = prints.PDF
CSV = "text/csv"

# --- waves, pick lists, packing slips (FUL-1) ---------------------------------------------------


@router.post("/waves", status_code=201, response_model=list[WaveOut], responses=problems(403, 409))
async def build_waves(
    data: WaveBuildIn, session: Session, actor: Annotated[Actor, require("fulfillment.work")]
) -> list[WaveOut]:
    """Paid orders, earliest ship-by first, into one wave per warehouse; each order is `picking`."""
    built = await waves.build_waves(session, actor, data.max_orders)
    return await waves.describe_waves(session, built)


@router.get("/waves", response_model=Page[WaveOut], responses=problems(403))
async def list_waves(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("fulfillment.read")],
    status: WaveStatus | None = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[WaveOut]:
    items, total = await waves.list_waves(session, status, warehouse, pages.page, pages.page_size)
    return Page[WaveOut](**pages.of(items, total))


@router.get("/waves/{wave_id}", response_model=WaveDetail, responses=problems(403, 404))
async def get_wave(
    wave_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")]
) -> WaveDetail:
    return await waves.wave_detail(session, wave_id)


@router.get("/waves/{wave_id}/pick-list", response_class=HTMLResponse, responses=problems(403, 404))
async def pick_list_html(
    wave_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")]
) -> Response:
    """The printable pick list (HTML)."""
    return await prints.pick_list(session, wave_id, pdf=False)


@router.get(
    "/waves/{wave_id}/pick-list.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **problems(403, 404)},
)
async def pick_list_pdf(
    wave_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")]
) -> Response:
    return await prints.pick_list(session, wave_id, pdf=True)


@router.get("/pick-tasks/{task_id}", response_model=TaskOut, responses=problems(403, 404))
async def get_task(
    task_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")]
) -> TaskOut:
    return await waves.describe_task(session, await waves.get_task(session, task_id))


@router.get("/pick-tasks/{task_id}/packing-slip", response_class=HTMLResponse, responses=problems(403, 404))
async def packing_slip_html(
    task_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")], viewer: Viewer
) -> Response:
    return await prints.packing_slip(session, viewer, task_id, pdf=False)


@router.get(
    "/pick-tasks/{task_id}/packing-slip.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}, **problems(403, 404)},
)
async def packing_slip_pdf(
    task_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")], viewer: Viewer
) -> Response:
    return await prints.packing_slip(session, viewer, task_id, pdf=True)


# --- pack, check, ship (FUL-2, FUL-4) ----------------------------------------------------------


@router.post("/pick-tasks/{task_id}/pack", response_model=TaskOut, responses=problems(403, 404, 409))
async def pack(
    task_id: Id, data: PackIn, session: Session, actor: Annotated[Actor, require("fulfillment.work")]
) -> TaskOut:
    await packing.pack(session, actor, task_id, data)
    return await waves.describe_task(session, await waves.get_task(session, task_id))


@router.post("/pick-tasks/{task_id}/check", response_model=TaskOut, responses=problems(403, 404, 409))
async def check(
    task_id: Id, data: CheckIn, session: Session, actor: Annotated[Actor, require("fulfillment.work")]
) -> TaskOut:
    """The quality check: passed, the parcel may ship; failed, it and its order go back to picking."""
    await packing.check(session, actor, task_id, data)
    return await waves.describe_task(session, await waves.get_task(session, task_id))


@router.post(
    "/pick-tasks/{task_id}/ship",
    status_code=201,
    response_model=ShipmentOut,
    responses=problems(403, 404, 409),
)
async def ship(
    task_id: Id, data: ShipIn, session: Session, actor: Annotated[Actor, require("fulfillment.work")]
) -> ShipmentOut:
    shipment = await shipping.ship(session, actor, task_id, data)
    return (await _shipments_out(session, [shipment]))[0]


# --- shipments and exceptions (FUL-5, FUL-6) ---------------------------------------------------


async def _shipments_out(session: Session, found: list[Shipment]) -> list[ShipmentOut]:
    by_id = await carriers.carriers_by_id(session, {s.carrier_id for s in found})
    warehouses = {w.id: w.code for w in await inventory.list_warehouses(session)}
    return [
        ShipmentOut(
            id=s.id,
            order_id=s.order_id,
            task_id=s.task_id,
            warehouse=warehouses[s.warehouse_id],
            carrier=by_id[s.carrier_id].code,
            carrier_name=by_id[s.carrier_id].name,
            tracking_no=s.tracking_no,
            tracking_url=by_id[s.carrier_id].link(s.tracking_no),
            status=ShipmentStatus(s.status),
            weight_g=s.weight_g,
            expected_cost=s.expected_cost,
            billed_cost=s.billed_cost,
            shipped_at=s.shipped_at,
            deliver_by=s.deliver_by,
            delivered_at=s.delivered_at,
            last_event=s.last_event,
            last_event_at=s.last_event_at,
        )
        for s in found
    ]


def _case_out(case: ShipmentException, shipment: Shipment) -> CaseOut:
    return CaseOut(
        id=case.id,
        shipment_id=shipment.id,
        tracking_no=shipment.tracking_no,
        order_id=shipment.order_id,
        kind=case.kind,
        state=case.state,
        opened_at=case.opened_at,
        contact_by=case.contact_by,
        closed_at=case.closed_at,
        solution=case.solution,
    )


@router.get("/shipments", response_model=Page[ShipmentOut], responses=problems(403))
async def list_shipments(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("fulfillment.read")],
    order_id: Id | None = None,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    status: ShipmentStatus | None = None,
    q: Annotated[str | None, Query(max_length=80, description="a waybill or an order number")] = None,
) -> Page[ShipmentOut]:
    found, total = await shipping.list_shipments(
        session, order_id, carrier, status, pages.page, pages.page_size, q
    )
    items = await _shipments_out(session, found)
    return Page[ShipmentOut](**pages.of(items, total))


@router.get("/shipments/{shipment_id}", response_model=ShipmentDetail, responses=problems(403, 404))
async def get_shipment(
    shipment_id: Id, session: Session, _: Annotated[Actor, require("fulfillment.read")]
) -> ShipmentDetail:
    """The parcel with its tracking timeline in event time order and its exception cases."""
    shipment = await shipping.get_shipment(session, shipment_id)
    [out] = await _shipments_out(session, [shipment])
    return ShipmentDetail(
        **out.model_dump(),
        timeline=[EventOut.model_validate(e) for e in await shipping.timeline(session, shipment.id)],
        exceptions=[_case_out(c, shipment) for c in await shipping.exceptions_of(session, shipment.id)],
    )


@router.get("/exceptions", response_model=Page[CaseOut], responses=problems(403))
async def list_exceptions(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("fulfillment.read")],
    state: CaseState | None = None,
    kind: ExceptionKind | None = None,
) -> Page[CaseOut]:
    """Exception cases, the nearest contact deadline first."""
    found, total = await tracking.list_cases(session, state, pages.page, pages.page_size, kind)
    parcels = await shipping.shipments_by_id(session, {c.shipment_id for c in found})
    items = [_case_out(c, parcels[c.shipment_id]) for c in found]
    return Page[CaseOut](**pages.of(items, total))


@router.post("/exceptions/{case_id}/contact", response_model=CaseOut, responses=problems(403, 404, 409))
async def contact(
    case_id: Id,
    data: ContactIn,
    session: Session,
    actor: Annotated[Actor, require("fulfillment.exceptions")],
) -> CaseOut:
    """The customer was contacted with a solution: the case closes and its clock stops (FUL-6)."""
    case = await tracking.contacted(session, actor, case_id, data.solution)
    return _case_out(case, await shipping.get_shipment(session, case.shipment_id))


# --- carriers, rules, pushed events, reports (FUL-3, FUL-5, FUL-7, FUL-8) ----------------------


@router.post("/carriers", status_code=201, response_model=CarrierCreated, responses=problems(403, 409))
async def create_carrier(
    data: CarrierIn, session: Session, actor: Annotated[Actor, require("carriers.manage")]
) -> CarrierCreated:
    carrier, secret = await carriers.create_carrier(session, actor, data)
    return CarrierCreated(**CarrierOut.model_validate(carrier).model_dump(), push_secret=secret)


@router.get("/carriers", response_model=Page[CarrierOut], responses=problems(403))
async def list_carriers(
    session: Session, pages: Pages, _: Annotated[Actor, require("carriers.read")]
) -> Page[CarrierOut]:
    found = [CarrierOut.model_validate(c) for c in await carriers.list_carriers(session)]
    return Page[CarrierOut](**paged(found, pages))


@router.get("/carriers/scorecards", response_model=list[ScorecardOut], responses=problems(403))
async def scorecards(
    session: Session,
    _: Annotated[Actor, require("carriers.read")],
    shipped_from: Annotated[When, Query(alias="from")],
    shipped_to: Annotated[When, Query(alias="to")],
) -> list[ScorecardOut]:
    """FUL-7 over the parcels shipped in [from, to): on-time rate against the delivery promise,
    exception rate, damage rate, average cost per parcel (billed where billed, else expected)."""
    if shipped_from.tzinfo is None or shipped_to.tzinfo is None:
        raise Invalid("from and to need a time zone, like 2026-11-01T00:00:00+08:00")
    return [
        ScorecardOut(
            carrier=carrier.code,
            name=carrier.name,
            parcels=card.parcels,
            on_time_rate=card.on_time_rate,
            exception_rate=card.exception_rate,
            damage_rate=card.damage_rate,
            average_cost=card.average_cost,
        )
        for carrier, card in await reports.scorecards(session, shipped_from, shipped_to)
    ]


@router.get("/carriers/{code}", response_model=CarrierOut, responses=problems(403, 404))
async def get_carrier(
    code: Annotated[str, Path(max_length=20)], session: Session, _: Annotated[Actor, require("carriers.read")]
) -> CarrierOut:
    return CarrierOut.model_validate(await carriers.get_carrier(session, code))


@router.patch("/carriers/{code}", response_model=CarrierOut, responses=problems(403, 404))
async def update_carrier(
    code: Annotated[str, Path(max_length=20)],
    data: CarrierPatch,
    session: Session,
    actor: Annotated[Actor, require("carriers.manage")],
) -> CarrierOut:
    return CarrierOut.model_validate(await carriers.update_carrier(session, actor, code, data))


@router.post(
    "/carriers/{code}/events",
    response_model=PushAck,
    responses=problems(401, 404, 422, notes={401: "bad signature: nothing changed", 422: "bad events"}),
    openapi_extra=PUBLIC,
)
async def carrier_events(
    code: Annotated[str, Path(max_length=20)], request: Request, session: Session
) -> PushAck:
    """A carrier's tracking push (FUL-5): public, signed with the carrier's push secret as
    `X-Carrier-Signature: hex(HMAC-SHA256(secret, raw body))`. Body:
    `{"events": [{"waybill", "status", "time", "location"?, "description"?}]}`."""
    body = await request.body()
    recorded = await tracking.receive_push(
        session, code, body, request.headers.get(tracking.SIGNATURE_HEADER)
    )
    return PushAck(stored=recorded.stored, duplicates=recorded.duplicates)


@router.post(
    "/carriers/{code}/freight-bills",
    status_code=201,
    response_model=BillReport,
    responses=problems(403, 404, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {CSV: {"schema": {"type": "string", "description": "columns waybill, amount"}}},
        }
    },
)
async def freight_bill(
    code: Annotated[str, Path(max_length=20)],
    request: Request,
    session: Session,
    actor: Annotated[Actor, require("freight.reconcile")],
    reference: Annotated[str, Query(min_length=1, max_length=120)],
    period_from: Annotated[AwareWhen | None, Query(alias="from")] = None,
    period_to: Annotated[AwareWhen | None, Query(alias="to")] = None,
) -> BillReport:
    """FUL-8: reconcile a carrier's bill (CSV body): matched, over-charged, unknown waybills, and
    the parcels shipped in [from, to) it does not bill (to defaults to now)."""
    try:
        content = no_nul((await request.body()).decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid("the bill must be UTF-8 text", code="bad_file") from None
    except ValueError as exc:  # a NUL character
        raise Invalid(
            "the bill has errors; nothing was changed", errors=[FieldError("body", str(exc))]
        ) from None
    result = await reports.reconcile_bill(session, actor, code, reference, content, period_from, period_to)
    return bill_report(result)


def bill_report(result: reports.BillResult) -> BillReport:
    return BillReport(
        bill_id=result.bill_id,
        carrier=result.carrier.code,
        reference=result.reference,
        counts=result.counts,
        lines=[
            BillLineOut(
                row=ln.row, waybill=ln.waybill, billed=ln.billed, expected=ln.expected, outcome=ln.outcome
            )
            for ln in result.lines
        ],
        errors=[RowErrorOut(row=e.row, waybill=e.waybill, reason=e.reason) for e in result.errors],
    )


async def _rules_out(session: Session, rules: list[CarrierRule]) -> list[RuleOut]:
    codes = {c.id: c.code for c in await carriers.list_carriers(session)}
    return [
        RuleOut(
            id=r.id,
            carrier=codes[r.carrier_id],
            priority=r.priority,
            province=r.province,
            min_weight_g=r.min_weight_g,
            max_weight_g=r.max_weight_g,
            min_order_value=r.min_order_value,
            max_order_value=r.max_order_value,
        )
        for r in rules
    ]


@router.post("/carrier-rules", status_code=201, response_model=RuleOut, responses=problems(403, 404))
async def add_rule(
    data: RuleIn, session: Session, actor: Annotated[Actor, require("carriers.manage")]
) -> RuleOut:
    return (await _rules_out(session, [await carriers.add_rule(session, actor, data)]))[0]


@router.get("/carrier-rules", response_model=Page[RuleOut], responses=problems(403))
async def list_rules(
    session: Session, pages: Pages, _: Annotated[Actor, require("carriers.read")]
) -> Page[RuleOut]:
    """The rule table in the order it is read: priority, then age; the first match names the carrier."""
    return Page[RuleOut](**paged(await _rules_out(session, await carriers.list_rules(session)), pages))


@router.get("/carrier-rules/choice", response_model=CarrierChoice, responses=problems(403, 409))
async def rule_choice(
    session: Session,
    _: Annotated[Actor, require("carriers.read")],
    province: Annotated[str, Query(min_length=1, max_length=40)],
    weight_g: Annotated[Weight, Query()],
    order_value: Annotated[AmountText, Query()],
) -> CarrierChoice:
    """Which carrier the rule table picks for a parcel, and what it should cost."""
    carrier = await carriers.choose(session, Parcel(province, weight_g, order_value))
    return CarrierChoice(carrier=carrier.code, expected_cost=carrier.cost(weight_g))


@router.delete("/carrier-rules/{rule_id}", status_code=204, responses=problems(403, 404))
async def delete_rule(
    rule_id: Id, session: Session, actor: Annotated[Actor, require("carriers.manage")]
) -> Response:
    await carriers.delete_rule(session, actor, rule_id)
    return Response(status_code=204)
