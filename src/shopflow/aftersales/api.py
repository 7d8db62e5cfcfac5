"""After-sales cases over HTTP (ASV-1..6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service
from shopflow.aftersales.models import Case, CaseState, CaseType, ReturnEvent, ReturnShipment, rule_name
from shopflow.aftersales.schemas import (
    CaseIn,
    CaseLineOut,
    CaseOut,
    EligibilityOut,
    InspectIn,
    OrderAftersalesOut,
    RefundOut,
    RejectIn,
    ReturnEventOut,
    ReturnShipmentIn,
    ReturnShipmentOut,
)
from shopflow.core import clock, policy
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page

router = APIRouter(tags=["aftersales"], responses=problems(401))
CASES = "/aftersales/cases"


def sentence(case: Case) -> str:
    """The eligibility sentence of a stored case: its rule and when its window ends."""
    name = rule_name(case.rule, policy.current().aftersales)
    return f"{name} ends {clock.local_text(case.deadline - timedelta(minutes=1))}"


def case_out(
    case: Case, shipment: ReturnShipment | None = None, tracked: Sequence[ReturnEvent] = ()
) -> CaseOut:
    return CaseOut(
        id=case.id,
        case_no=case.case_no,
        order_id=case.order_id,
        type=CaseType(case.type),
        reason=case.reason,  # type: ignore[arg-type]
        opened=case.opened,
        state=CaseState(case.state),
        eligibility=EligibilityOut(rule=case.rule, deadline=case.deadline, sentence=sentence(case)),
        refund=RefundOut(
            items=case.items,
            discount_share=case.discount_share,
            shipping=case.shipping,
            return_shipping=case.return_shipping,
            total=case.refund_total,
        ),
        refunded=case.refunded,
        amount=case.amount,
        lines=[
            CaseLineOut(
                sku=line.sku_code,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_share=line.discount_share,
                restocked=line.restocked,
                written_off=line.written_off,
            )
            for line in case.lines
        ],
        note=case.note,
        reject_reason=case.reject_reason,
        replacement_order_id=case.replacement_order_id,
        return_shipment=None
        if shipment is None
        else ReturnShipmentOut(
            carrier=shipment.carrier,
            tracking_no=shipment.tracking_no,
            created_at=shipment.created_at,
            received_at=shipment.received_at,
            events=[
                ReturnEventOut(
                    status=e.status, occurred_at=e.occurred_at, location=e.location, description=e.description
                )
                for e in tracked
            ],
        ),
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


async def _answer(session: AsyncSession, case: Case) -> CaseOut:
    shipment = await service.return_shipment(session, case.id)
    return case_out(case, shipment, await service.return_events(session, shipment))


@router.post(CASES, status_code=201, response_model=CaseOut, responses=problems(403, 404, 422))
async def open_case(
    data: CaseIn, session: Session, actor: Annotated[Actor, require("aftersales.open")]
) -> CaseOut:
    """Open a case; 422 `not_eligible` names the rule and its deadline, and nothing is stored."""
    return await _answer(session, await service.open_case(session, actor, data))


@router.get(CASES, response_model=Page[CaseOut], responses=problems(403))
async def list_cases(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("aftersales.read")],
    state: CaseState | None = None,
    type: CaseType | None = None,
    order_id: int | None = None,
    late: bool = False,
) -> Page[CaseOut]:
    found, total = await service.list_cases(session, state, type, order_id, pages.page, pages.page_size, late)
    return Page[CaseOut](**pages.of([case_out(case) for case in found], total))


@router.get(CASES + "/{case_id}", response_model=CaseOut, responses=problems(403, 404))
async def get_case(case_id: Id, session: Session, _: Annotated[Actor, require("aftersales.read")]) -> CaseOut:
    return await _answer(session, await service.get_case(session, case_id))


@router.get("/orders/{order_id}/aftersales", response_model=OrderAftersalesOut, responses=problems(403, 404))
async def order_aftersales(
    order_id: Id, session: Session, _: Annotated[Actor, require("aftersales.read")]
) -> OrderAftersalesOut:
    standing = await service.order_aftersales(session, order_id)
    return OrderAftersalesOut(order_id=order_id, aftersales=standing.aftersales, refunded=standing.refunded)


Step = Callable[[AsyncSession, Actor, int], Awaitable[Case]]


def _step_route(name: str, permission: str, step: Step, summary: str) -> None:
    """POST .../{case_id}/{name}: one step of the case by `step`, for holders of `permission`.
    (The dependency is a default: an annotation naming `permission` could not be resolved.)"""

    async def endpoint(case_id: Id, session: Session, actor: Actor = require(permission)) -> CaseOut:
        return await _answer(session, await step(session, actor, case_id))

    router.add_api_route(
        f"{CASES}/{{case_id}}/{name}",
        endpoint,
        methods=["POST"],
        response_model=CaseOut,
        responses=problems(403, 404, 409),
        summary=summary,
        name=f"case_{name}",
    )


_step_route(
    "approve", "aftersales.decide", service.approve, "Approve (ASV-3; compensation above the limit: ASV-5)"
)
_step_route("cancel", "aftersales.open", service.cancel, "Cancel before the goods are sent")
_step_route("receive", "aftersales.inspect", service.receive, "The returned goods arrived")
_step_route("refund", "aftersales.decide", service.request_refund, "Ask the ledger for the itemised refund")
_step_route("exchange", "aftersales.decide", service.exchange, "Place the replacement order (ASV-6)")
_step_route("repair", "aftersales.decide", service.repair, "The goods are repaired")
_step_route("close", "aftersales.decide", service.close, "Close a settled case")


@router.post(CASES + "/{case_id}/reject", response_model=CaseOut, responses=problems(403, 404, 409, 422))
async def reject(
    case_id: Id, data: RejectIn, session: Session, actor: Annotated[Actor, require("aftersales.decide")]
) -> CaseOut:
    return await _answer(session, await service.reject(session, actor, case_id, data.reason))


@router.post(
    CASES + "/{case_id}/return-shipment", response_model=CaseOut, responses=problems(403, 404, 409, 422)
)
async def return_shipment(
    case_id: Id,
    data: ReturnShipmentIn,
    session: Session,
    actor: Annotated[Actor, require("aftersales.open")],
) -> CaseOut:
    return await _answer(session, await service.record_return_shipment(session, actor, case_id, data))


@router.post(CASES + "/{case_id}/inspect", response_model=CaseOut, responses=problems(403, 404, 409, 422))
async def inspect(
    case_id: Id, data: InspectIn, session: Session, actor: Annotated[Actor, require("aftersales.inspect")]
) -> CaseOut:
    return await _answer(session, await service.inspect(session, actor, case_id, data))
