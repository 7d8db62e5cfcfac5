"""Tickets over HTTP (SVC-1..3, SVC-7)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy, sla
from shopflow.core.api import Pages, Session, Viewer, problems, require
from shopflow.core.audit import Actor
from shopflow.core.personal_data import Viewer as ViewerType
from shopflow.core.schemas import Id, Page
from shopflow.service import reviews, service
from shopflow.service import scripts as scripts_for
from shopflow.service.models import (
    Category,
    MessageKind,
    Priority,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketState,
    TicketType,
    ticket_subject,
)
from shopflow.service.schemas import (
    AssignIn,
    ClockOut,
    EscalateIn,
    InboundIn,
    MessageIn,
    MessageOut,
    ReviewIn,
    ReviewOut,
    ScriptOut,
    TicketIn,
    TicketOut,
)

router = APIRouter(tags=["tickets"], responses=problems(401))
TICKETS = "/tickets"
ONE = TICKETS + "/{ticket_id}"


async def ticket_out(
    session: AsyncSession, viewer: ViewerType, ticket: Ticket, *, full: bool = False, late: bool = False
) -> TicketOut:
    phone = None
    if ticket.contact is not None:
        phone = viewer.contact(session, "ticket", ticket.id, {"ticket": ticket.contact})["ticket"]["phone"]
    names = await service.usernames(session, [ticket.assignee_id, ticket.escalated_to])
    out = TicketOut(
        id=ticket.id,
        type=TicketType(ticket.type),
        channel=TicketChannel(ticket.channel),
        priority=Priority(ticket.priority),
        category=Category(ticket.category),
        state=TicketState(ticket.state),
        subject=ticket.subject,
        customer_id=ticket.customer_id,
        phone=phone,
        order_id=ticket.order_id,
        case_id=ticket.case_id,
        assignee=names.get(ticket.assignee_id or 0),
        escalation=ticket.escalation,
        escalation_reason=ticket.escalation_reason,
        escalated_to=names.get(ticket.escalated_to or 0),
        escalated_at=ticket.escalated_at,
        created_at=ticket.created_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        late=late,
    )
    if full:
        now = clock.now()
        clocks = await sla.of_subject(session, ticket_subject(ticket.id))
        out.clocks = [
            ClockOut(kind=c.kind, state=c.state, deadline=c.deadline, late=sla.is_late(c, now))
            for c in clocks
        ]
        out.late = any(c.late for c in out.clocks)
        out.messages = [
            MessageOut(id=m.id, kind=MessageKind(m.kind), author=m.author, body=m.content["body"], at=m.at)
            for m in await service.messages(session, ticket.id)
        ]
    return out


@router.post(TICKETS, status_code=201, response_model=TicketOut, responses=problems(403, 422))
async def create_ticket(
    data: TicketIn, session: Session, viewer: Viewer, actor: Annotated[Actor, require("tickets.write")]
) -> TicketOut:
    """A ticket (SVC-1): linked, assigned (SVC-3), on its clocks (SVC-2, SVC-7); a complaint or a
    case beyond the agent's authority goes to a supervisor at once."""
    ticket = await service.create_ticket(session, actor, data)
    return await ticket_out(session, viewer, ticket, full=True)


@router.get(TICKETS, response_model=Page[TicketOut], responses=problems(403, 422))
async def list_tickets(
    session: Session,
    pages: Pages,
    viewer: Viewer,
    actor: Annotated[Actor, require("tickets.read")],
    type: TicketType | None = None,
    state: TicketState | None = None,
    assignee: str | None = None,
    mine: bool = False,
    unassigned: bool = False,
    escalated: bool = False,
    late: bool = False,
) -> Page[TicketOut]:
    """Tickets, late ones first, then newest first; by type, state, assignee (`mine`: the
    caller's), unassigned, escalated (not yet resolved) and late."""
    found, total = await service.list_tickets(
        session,
        type_=type,
        state=state,
        assignee=actor.name if mine else assignee,
        unassigned=unassigned,
        escalated=escalated,
        late=late,
        page=pages.page,
        page_size=pages.page_size,
    )
    overdue = await service.late_among(session, [t.id for t in found])
    items = [await ticket_out(session, viewer, t, late=t.id in overdue) for t in found]
    return Page[TicketOut](**pages.of(items, total))


@router.get(ONE, response_model=TicketOut, responses=problems(403, 404))
async def get_ticket(
    ticket_id: Id, session: Session, viewer: Viewer, _: Annotated[Actor, require("tickets.read")]
) -> TicketOut:
    return await ticket_out(session, viewer, await service.get_ticket(session, ticket_id), full=True)


@router.get(ONE + "/scripts", response_model=Page[ScriptOut], responses=problems(403, 404, 422))
async def scripts(
    ticket_id: Id,
    session: Session,
    pages: Pages,
    viewer: Viewer,
    _: Annotated[Actor, require("tickets.read")],
    q: Annotated[str, Query(max_length=200, description="Words or Chinese text; blank: every script")] = "",
    language: Literal["zh_CN", "en"] | None = None,
) -> Page[ScriptOut]:
    """The knowledge base's reply scripts for this ticket (SVC-4), those `q` finds (as `GET
    /kb/search`), the ones in `language` (default: the policy's `notify.language`) first; each
    one's `text` has the ticket's customer's name (masked unless the caller sees personal data)
    and its order number filled in."""
    wanted = language or policy.current().notify.language
    found, total = await scripts_for.for_ticket(
        session, viewer, ticket_id, q, wanted, pages.page, pages.page_size
    )
    items = [ScriptOut(**asdict(script)) for script in found]
    return Page[ScriptOut](**pages.of(items, total))


async def _full(session: AsyncSession, viewer: ViewerType, ticket_id: int) -> TicketOut:
    return await ticket_out(session, viewer, await service.get_ticket(session, ticket_id), full=True)


@router.post(
    ONE + "/messages", status_code=201, response_model=TicketOut, responses=problems(403, 404, 409, 422)
)
async def add_message(
    ticket_id: Id,
    data: MessageIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("tickets.write")],
) -> TicketOut:
    """An answer to the customer (`outbound`: the first meets the response clock) or an
    internal note (`internal`: no clock moves)."""
    await service.add_message(session, actor, ticket_id, data)
    return await _full(session, viewer, ticket_id)


@router.post(
    ONE + "/inbound", status_code=201, response_model=TicketOut, responses=problems(403, 404, 409, 422)
)
async def inbound(
    ticket_id: Id,
    data: InboundIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("tickets.write")],
) -> TicketOut:
    """The customer's message (a chat connector, an email): a pending ticket opens again and its
    resolution clock resumes."""
    await service.inbound(session, actor, ticket_id, data)
    return await _full(session, viewer, ticket_id)


@router.post(ONE + "/assign", response_model=TicketOut, responses=problems(403, 404, 409, 422))
async def assign(
    ticket_id: Id,
    data: AssignIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("tickets.assign")],
) -> TicketOut:
    await service.assign(session, actor, ticket_id, data.user)
    return await _full(session, viewer, ticket_id)


@router.post(ONE + "/escalate", response_model=TicketOut, responses=problems(403, 404, 409, 422))
async def escalate(
    ticket_id: Id,
    data: EscalateIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("tickets.escalate")],
) -> TicketOut:
    """Send the ticket to a supervisor, saying why (audited, alerted, `ticket.escalated`)."""
    await service.escalate_by_hand(session, actor, ticket_id, data.reason)
    return await _full(session, viewer, ticket_id)


def _step(path: str, event: TicketEvent, doc: str) -> None:
    async def endpoint(
        ticket_id: Id, session: Session, viewer: Viewer, actor: Annotated[Actor, require("tickets.write")]
    ) -> TicketOut:
        await service.step(session, actor, ticket_id, event)
        return await _full(session, viewer, ticket_id)

    endpoint.__doc__ = doc
    router.add_api_route(
        ONE + path,
        endpoint,
        methods=["POST"],
        response_model=TicketOut,
        responses=problems(403, 404, 409),
        name=f"{event}_ticket",
    )


_step("/pend", TicketEvent.PENDED, "Waiting for the customer: the resolution clock pauses.")
_step("/resolve", TicketEvent.RESOLVED, "Resolved: the resolution clock stops.")
_step("/close", TicketEvent.CLOSED, "Closed: any running clock is cancelled.")
_step(
    "/reopen",
    TicketEvent.REOPENED,
    "Reopened within the policy's window: the resolution clock runs on with the time it had used.",
)


@router.post("/reviews", status_code=201, response_model=ReviewOut, responses=problems(403, 422))
async def submit_review(
    data: ReviewIn, session: Session, actor: Annotated[Actor, require("tickets.write")]
) -> ReviewOut:
    """A review (SVC-7): rated at most `service.negative_rating_at_most` (2) or holding one of
    `service.negative_keywords`, it opens a `negative_review` ticket on its 1-hour clock and
    raises an alert; `ticket_id` is null when it opened none."""
    review = await reviews.submit(session, actor, data)
    return ReviewOut(id=review.id, ticket_id=review.ticket_id)
