"""Console pages of after-sales (ASV-1..6): the case queue, a case's page with the steps the
reader's role may take, opening a case from an order, and the order page's after-sales panel."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service
from shopflow.aftersales.models import (
    PAYING,
    RETURNING,
    Case,
    CaseClock,
    CaseState,
    CaseType,
    Reason,
    case_subject,
    rule_days,
)
from shopflow.aftersales.schemas import CaseIn, InspectIn, ReturnShipmentIn
from shopflow.core import audit, auth, policy, sla
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    chosen,
    form_errors,
    form_values,
    page_size,
    parsed,
    step_back,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import AuditField, NavItem, Pages
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.inventory import service as inventory
from shopflow.orders.service import queries as orders

router = APIRouter(include_in_schema=False)
C = CaseState

STATES = {
    C.REQUESTED: label("case state", "requested"),
    C.APPROVED: label("case state", "approved"),
    C.REJECTED: label("case state", "rejected"),
    C.AWAITING_RETURN: label("case state", "awaiting return"),
    C.RECEIVED: label("case state", "received"),
    C.INSPECTED: label("case state", "inspected"),
    C.REFUNDING: label("case state", "refunding"),
    C.REFUNDED: label("case state", "refunded"),
    C.EXCHANGED: label("case state", "exchanged"),
    C.REPAIRED: label("case state", "repaired"),
    C.CLOSED: label("case state", "closed"),
    C.CANCELLED: label("case state", "cancelled"),
}
TYPES = {
    CaseType.REFUND_ONLY: label("case type", "Refund only"),
    CaseType.RETURN_REFUND: label("case type", "Return and refund"),
    CaseType.EXCHANGE: label("case type", "Exchange"),
    CaseType.REPAIR: label("case type", "Repair"),
    CaseType.COMPENSATION: label("case type", "Compensation"),
}
REASONS = {
    Reason.NO_REASON: label("case reason", "No reason (unopened)"),
    Reason.QUALITY: label("case reason", "Quality problem"),
    Reason.WRONG_ITEM: label("case reason", "Wrong item sent"),
    Reason.DAMAGED_IN_TRANSIT: label("case reason", "Damaged in transit"),
    Reason.OTHER: label("case reason", "Other"),
}
STANDINGS = {
    "in_progress": label("after-sales", "in progress"),
    "refunded": label("after-sales", "refunded"),
    "partially_refunded": label("after-sales", "partially refunded"),
    "returned": label("after-sales", "returned"),
    "none": label("after-sales", "none"),
}
# The rule a case was opened under, as the reader says it, with its days and last minute.
RULES = {
    "no_reason_return": N_("%(days)s-day no-reason return ends %(deadline)s"),
    "quality_return": N_("%(days)s-day quality return ends %(deadline)s"),
    "other_with_approval": N_(
        "%(days)s-day return for another reason (an agent approves it) ends %(deadline)s"
    ),
}
MESSAGES = (
    (r"no case (?P<id>\d+)", N_("There is no after-sales case %(id)s.")),
    (
        r"(?P<days>\d+)-day no-reason return ended (?P<deadline>.+)",
        N_("%(days)s-day no-reason return ended %(deadline)s"),
    ),
    (
        r"(?P<days>\d+)-day quality return ended (?P<deadline>.+)",
        N_("%(days)s-day quality return ended %(deadline)s"),
    ),
    (
        r"(?P<days>\d+)-day return for another reason \(an agent approves it\) ended (?P<deadline>.+)",
        N_("%(days)s-day return for another reason (an agent approves it) ended %(deadline)s"),
    ),
    (
        r"opened goods are not eligible for the (?P<days>\d+)-day no-reason return",
        N_("opened goods are not eligible for the %(days)s-day no-reason return"),
    ),
    ("the order is not delivered yet", N_("the order is not delivered yet")),
    (
        r"(?P<sku>\S+): (?P<left>\d+) of (?P<delivered>\d+) can still be returned"
        r" \((?P<held>\d+) in other cases\)",
        N_("%(sku)s: %(left)s of %(delivered)s can still be returned (%(held)s in other cases)"),
    ),
    (
        r"the compensation (?P<amount>\S+) is above the agent limit of (?P<limit>\S+) yuan:"
        r" a supervisor approves it",
        N_("The compensation %(amount)s is above the agent limit of %(limit)s yuan: a supervisor approves."),
    ),
    ("a compensation needs an amount above 0", N_("a compensation needs an amount above 0")),
    ("at least one line is required", N_("at least one line is required")),
)
# The steps the case page offers, each with the permission it needs and whether it applies.
STEPS: dict[str, tuple[Any, str]] = {
    "approve": (service.approve, "aftersales.decide"),
    "cancel": (service.cancel, "aftersales.open"),
    "receive": (service.receive, "aftersales.inspect"),
    "refund": (service.request_refund, "aftersales.decide"),
    "exchange": (service.exchange, "aftersales.decide"),
    "repair": (service.repair, "aftersales.decide"),
    "close": (service.close, "aftersales.decide"),
}
STEP_TARGETS = {
    "approve": C.APPROVED,
    "cancel": C.CANCELLED,
    "refund": C.REFUNDING,
    "exchange": C.EXCHANGED,
    "repair": C.REPAIRED,
    "close": C.CLOSED,
}
STEP_BUTTONS = {
    "approve": N_("Approve"),
    "cancel": N_("Cancel the request"),
    "receive": N_("Goods received"),
    "refund": N_("Refund"),
    "exchange": N_("Ship the replacement"),
    "repair": N_("Repaired"),
    "close": N_("Close the case"),
}


def sentence(c: Console, case: Case) -> str:
    """The rule a case was opened under, in the reader's language: "7-day no-reason return ends …"."""
    return c.gettext(
        RULES[case.rule],
        days=rule_days(case.rule, policy.current().aftersales),
        deadline=c.when(case.deadline - timedelta(minutes=1)),
    )


def steps_for(c: Console, case: Case) -> list[str]:
    """The one-click steps the reader may take on the case now."""
    found = []
    for name, (_, permission) in STEPS.items():
        if not c.can(permission):
            continue
        allowed = case.can_receive if name == "receive" else case.can_move_to(STEP_TARGETS[name])
        if allowed:
            found.append(name)
    return found


@router.get("/aftersales")
async def case_queue(
    session: Session,
    c: Annotated[Console, can_view("aftersales.read")],
    state: str = "",
    type: str = "",
    late: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Every case, newest first, by state, type, and whether a clock of it is late."""
    size = page_size()
    cases, total = await service.list_cases(
        session, chosen(CaseState, state), chosen(CaseType, type), None, page, size, late=late == "1"
    )
    found = await sla.of_subjects(session, [case_subject(case.id) for case in cases])
    clocks: dict[int, list[sla.SlaClock]] = {}
    for each in found:
        clocks.setdefault(int(each.subject.removeprefix("case:")), []).append(each)
    return render(
        c,
        "aftersales/list.html",
        cases=cases,
        clocks=clocks,
        order_numbers=await orders.order_numbers(session, {case.order_id for case in cases}),
        filters={"state": state, "type": type, "late": late},
        states=STATES,
        types=TYPES,
        reasons=REASONS,
        pager=Pager(page, size, total),
    )


async def _case_page(
    session: AsyncSession,
    c: Console,
    case_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    case = await service.get_case(session, case_id)
    order = await orders.get_order(session, case.order_id)
    shipment = await service.return_shipment(session, case.id)
    return render(
        c,
        "aftersales/case.html",
        status,
        case=case,
        order=order,
        sentence=sentence(c, case),
        shipment=shipment,
        tracked=await service.return_events(session, shipment),
        tracking_events=c.states("tracking event"),
        clocks=await sla.of_subject(session, case_subject(case.id)),
        trail=await audit.trail(session, "case", case.id),
        steps=steps_for(c, case),
        buttons=STEP_BUTTONS,
        can_ship_back=case.can_ship_back and shipment is None and c.can("aftersales.open"),
        can_reject=case.can_move_to(C.REJECTED) and c.can("aftersales.decide"),
        can_inspect=case.can_inspect and c.can("aftersales.inspect"),
        warehouses=await inventory.list_warehouses(session),
        states=STATES,
        types=TYPES,
        reasons=REASONS,
        paying=case.type in PAYING,
        returning=case.type in RETURNING,
        values=values or {},
        errors=errors or {},
    )


@router.get("/aftersales/{case_id}")
async def case_page(
    case_id: int, session: Session, c: Annotated[Console, can_view("aftersales.read")]
) -> HTMLResponse:
    return await _case_page(session, c, case_id)


async def _act(
    c: Console, session: AsyncSession, case_id: int, values: dict[str, str], work: Any, done: str
) -> Response:
    """Run one step of the case; the case page again, saying why, when the service refuses it."""

    async def refused(exc: AppError) -> Response:
        return await _case_page(session, c, case_id, values, form_errors(exc, c), exc.status)

    return await step_back(c, session, f"/aftersales/{case_id}", work, done, refused)


@router.post("/aftersales/{case_id}/reject")
async def reject(
    case_id: int, session: Session, c: Annotated[Console, can_do("aftersales.decide")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        reason = values.get("reason", "").strip()
        if not reason:
            raise Invalid(
                "the form has errors; nothing was changed", errors=[FieldError("reason", "is required")]
            )
        await service.reject(session, c.actor, case_id, reason)  # type: ignore[arg-type]

    return await _act(c, session, case_id, values, work, N_("The request was rejected."))


@router.post("/aftersales/{case_id}/return-shipment")
async def return_shipment(
    case_id: int, session: Session, c: Annotated[Console, can_do("aftersales.open")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(
            ReturnShipmentIn,
            {"carrier": values.get("carrier", ""), "tracking_no": values.get("tracking_no", "")},
        )
        await service.record_return_shipment(session, c.actor, case_id, data)  # type: ignore[arg-type]

    return await _act(c, session, case_id, values, work, N_("The return shipment was recorded."))


@router.post("/aftersales/{case_id}/inspect")
async def inspect(
    case_id: int, session: Session, c: Annotated[Console, can_do("aftersales.inspect")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        case = await service.get_case(session, case_id)
        lines = [
            {
                "sku": line.sku_code,
                "quantity": line.quantity,
                "result": values.get(f"result-{line.id}", "restock"),
                "warehouse": values.get(f"warehouse-{line.id}") or None,
                "note": values.get(f"note-{line.id}") or None,
            }
            for line in case.lines
        ]
        await service.inspect(session, c.actor, case_id, parsed(InspectIn, {"lines": lines}))  # type: ignore[arg-type]

    return await _act(c, session, case_id, values, work, N_("The inspection was recorded."))


@router.post("/aftersales/{case_id}/{step}")
async def take_step(
    case_id: int, step: str, session: Session, c: Annotated[Console, can_do("aftersales.read")]
) -> Response:
    """A one-click step (approve, cancel, receive, refund, exchange, repair, close), authorised
    by its own permission."""
    found = STEPS.get(step)
    if found is None:
        return redirect(f"/aftersales/{case_id}")
    use_case, permission = found
    values = await form_values(c.request)

    async def work() -> None:
        auth.authorize(c.actor, permission)  # type: ignore[arg-type]
        await use_case(session, c.actor, case_id)

    return await _act(c, session, case_id, values, work, N_("Done."))


# --- opening a case from the order page ---------------------------------------------------------


async def _new_case_page(
    session: AsyncSession,
    c: Console,
    order_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    order = await orders.get_order(session, order_id)
    return render(
        c,
        "aftersales/new.html",
        status,
        order=order,
        types=TYPES,
        reasons=REASONS,
        values=values or {},
        errors=errors or {},
    )


@router.get("/orders/{order_id}/aftersales/new")
async def new_case(
    order_id: int, session: Session, c: Annotated[Console, can_view("aftersales.open")]
) -> HTMLResponse:
    return await _new_case_page(session, c, order_id)


@router.post("/orders/{order_id}/aftersales/new")
async def open_case(
    order_id: int, session: Session, c: Annotated[Console, can_do("aftersales.open")]
) -> Response:
    values = await form_values(c.request)
    address = f"/orders/{order_id}/aftersales/new"

    async def run() -> Response:
        order = await orders.get_order(session, order_id)
        lines = [
            {"sku": line.sku_code, "quantity": values[f"qty-{line.id}"].strip()}
            for line in order.lines
            if values.get(f"qty-{line.id}", "").strip() not in ("", "0")
        ]
        data = parsed(
            CaseIn,
            {
                "order_id": order_id,
                "type": values.get("type", ""),
                "reason": values.get("reason", ""),
                "opened": values.get("opened") == "1",
                "lines": lines,
                "amount": values.get("amount") or None,
                "note": values.get("note") or None,
            },
        )
        case = await service.open_case(session, c.actor, data)  # type: ignore[arg-type]
        c.flash(c.gettext("Case %(no)s opened.", no=case.case_no))
        return redirect(f"/aftersales/{case.id}")

    async def refused(exc: AppError) -> Response:
        return await _new_case_page(session, c, order_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, run, refused, address=address)


async def _order_cases(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel: its cases, its after-sales standing and what was refunded."""
    standing = await service.order_aftersales(session, order_id)
    return fragment(
        c,
        "aftersales/_order_cases.html",
        order_id=order_id,
        cases=await service.cases_of_order(session, order_id),
        standing=standing,
        standings=STANDINGS,
        states=STATES,
        types=TYPES,
    )


PAGES = Pages(
    router,
    nav=(NavItem("/aftersales", label("nav", "After-sales"), "aftersales.read", 25),),
    states={"case": STATES},
    subjects={"case": ("/aftersales/{id}", label("subject", "After-sales case"))},
    clocks={
        CaseClock.REVIEW: label("clock", "Case review"),  # ASV-3
        CaseClock.REFUND: label("clock", "Refund"),  # ASV-4
    },
    actions={
        "case.refund_requested": label("audit action", "refund requested"),
        "case.return_shipped": label("audit action", "return shipped"),  # a quality replacement's goods
        "case.tracked": label("audit action", "return tracked"),  # the carrier's events (ASV-3, FUL-5)
    },
    fields={
        "rule": AuditField(label("audit field", "Rule")),
        "refund_total": AuditField(label("audit field", "Refund")),
        "refunded": AuditField(label("audit field", "Refunded")),
    },
    messages=MESSAGES,
    panels={"order.side": (_order_cases,)},
)
