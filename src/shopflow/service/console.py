"""Console pages of the service desk: the agent's inbox (mine, unassigned, late first), a
ticket's page (the conversation, the reply form, its clocks counting down live, its links, its
steps), and the supervisor's board (breaches, escalations with their reasons, unassigned)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, auth, policy, sla
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import Invalid
from shopflow.service import care, metrics, reviews, service, surveys
from shopflow.service import scripts as scripts_for
from shopflow.service.models import (
    CallbackReason,
    Category,
    Escalation,
    MessageKind,
    Priority,
    SurveyKind,
    TicketChannel,
    TicketClock,
    TicketEvent,
    TicketState,
    TicketType,
    ticket_subject,
)
from shopflow.service.schemas import EscalateIn, MessageIn

router = APIRouter(include_in_schema=False)
T = TicketState

STATES = {
    T.NEW: label("ticket state", "new"),
    T.OPEN: label("ticket state", "open"),
    T.PENDING_CUSTOMER: label("ticket state", "waiting for the customer"),
    T.RESOLVED: label("ticket state", "resolved"),
    T.CLOSED: label("ticket state", "closed"),
}
TYPES = {
    TicketType.INQUIRY: label("ticket type", "inquiry"),
    TicketType.COMPLAINT: label("ticket type", "complaint"),
    TicketType.FEEDBACK: label("ticket type", "feedback"),
    TicketType.NEGATIVE_REVIEW: label("ticket type", "negative review"),
}
CHANNELS = {
    TicketChannel.CHAT: label("ticket channel", "chat"),
    TicketChannel.PHONE: label("ticket channel", "phone"),
    TicketChannel.EMAIL: label("ticket channel", "email"),
    TicketChannel.REVIEW_SITE: label("ticket channel", "review site"),
    TicketChannel.MARKETPLACE: label("ticket channel", "marketplace"),
}
PRIORITIES = {
    Priority.LOW: label("ticket priority", "low"),
    Priority.NORMAL: label("ticket priority", "normal"),
    Priority.HIGH: label("ticket priority", "high"),
    Priority.URGENT: label("ticket priority", "urgent"),
}
CATEGORIES = {
    Category.QUALITY: label("ticket category", "quality"),
    Category.SERVICE: label("ticket category", "service"),
    Category.LOGISTICS: label("ticket category", "logistics"),
    Category.OTHER: label("ticket category", "other"),
}
KINDS = {
    MessageKind.INBOUND: label("message kind", "customer"),
    MessageKind.OUTBOUND: label("message kind", "answer"),
    MessageKind.INTERNAL: label("message kind", "internal note"),
}
ESCALATIONS = {
    Escalation.BREACH: label("escalation", "deadline missed"),
    Escalation.COMPLAINT: label("escalation", "formal complaint"),
    Escalation.AUTHORITY: label("escalation", "beyond the agent's authority"),
    Escalation.MANUAL: label("escalation", "escalated by hand"),
}
CALLBACK_REASONS = {
    CallbackReason.RESOLVED: label("call-back reason", "after the resolution"),
    CallbackReason.PERIODIC: label("call-back reason", "periodic"),
}
SURVEY_KINDS = {
    SurveyKind.FEEDBACK: label("survey kind", "feedback after delivery"),
    SurveyKind.SATISFACTION: label("survey kind", "order satisfaction"),
    SurveyKind.TICKET: label("survey kind", "ticket satisfaction"),
}
LABELS = {
    "states": STATES,
    "types": TYPES,
    "channels": CHANNELS,
    "priorities": PRIORITIES,
    "categories": CATEGORIES,
    "kinds": KINDS,
    "escalations": ESCALATIONS,
    "callback_reasons": CALLBACK_REASONS,
    "survey_kinds": SURVEY_KINDS,
}
VIEWS = ("mine", "unassigned", "all")


async def _rows(session: AsyncSession, found: list[Any]) -> dict[str, Any]:
    """What a list of tickets shows beside them: the late ones and the people's names."""
    return {
        "tickets": found,
        "late_ids": await service.late_among(session, [t.id for t in found]),
        "names": await service.usernames(
            session, [t.assignee_id for t in found] + [t.escalated_to for t in found]
        ),
    }


@router.get("/tickets")
async def inbox(
    session: Session,
    c: Annotated[Console, can_view("tickets.read")],
    view: str = "mine",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """The agent's inbox: their open tickets, the unassigned ones, or all; late ones first."""
    assert c.actor is not None
    view = view if view in VIEWS else "mine"
    size = page_size()
    found, total = await service.list_tickets(
        session,
        assignee=c.actor.name if view == "mine" else None,
        unassigned=view == "unassigned",
        page=page,
        page_size=size,
    )
    return render(
        c,
        "tickets/inbox.html",
        **await _rows(session, found),
        view=view,
        counts=await service.counts(session),
        pager=Pager(page, size, total),
        **LABELS,
    )


async def _agents_month(session: AsyncSession, c: Console, month: str | None) -> dict[str, Any]:
    """The agents' month (STF-2) for those who may read it: the month asked (the current one when
    it is not a month) and its rows."""
    if not c.can("service.metrics.read"):
        return {"agents": None}
    try:
        first, found = await metrics.agent_month(session, month)
    except Invalid:
        first, found = await metrics.agent_month(session, None)
    limit = policy.current().staff.response_timeout_rate_percent
    return {"agents": found, "month": first.strftime("%Y-%m"), "timeout_limit": limit}


@router.get("/tickets/board")
async def board(
    session: Session,
    c: Annotated[Console, can_view("tickets.read")],
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    """The supervisor's board: late tickets, escalations with their reasons, unassigned ones, and
    the agents' month (response-timeout rates, the flagged ones)."""
    late, _ = await service.list_tickets(session, late=True, page_size=100)
    escalated, _ = await service.list_tickets(session, escalated=True, page_size=100)
    unassigned, _ = await service.list_tickets(session, unassigned=True, page_size=100)
    everyone = late + escalated + unassigned
    return render(
        c,
        "tickets/board.html",
        late=late,
        escalated=escalated,
        unassigned=[t for t in unassigned if not t.done],
        **await _rows(session, everyone),
        **await _agents_month(session, c, month),
        **LABELS,
    )


async def _ticket_page(
    session: AsyncSession,
    c: Console,
    ticket_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    ticket = await service.get_ticket(session, ticket_id)
    contact = None
    if ticket.contact is not None:
        contact = c.viewer().contact(session, "ticket", ticket.id, {"ticket": ticket.contact})["ticket"]
    agents = [u for u in await auth.list_users(session) if u.active and auth.allowed(u.role, "tickets.write")]
    return render(
        c,
        "tickets/ticket.html",
        status,
        ticket=ticket,
        contact=contact,
        names=await service.usernames(session, [ticket.assignee_id, ticket.escalated_to]),
        clocks=await sla.of_subject(session, ticket_subject(ticket.id)),
        messages=await service.messages(session, ticket.id),
        trail=await audit.trail(session, "ticket", ticket.id),
        agents=agents,
        callbacks=await care.callbacks(session, ticket_id=ticket.id, open_only=False),
        surveys=await surveys.of_ticket(session, ticket.id),
        recommendations=await care.recommendations(session, ticket.customer_id),
        values=values or {},
        errors=errors or {},
        **LABELS,
    )


@router.get("/tickets/{ticket_id}")
async def ticket_page(
    ticket_id: int, session: Session, c: Annotated[Console, can_view("tickets.read")]
) -> HTMLResponse:
    return await _ticket_page(session, c, ticket_id)


@router.get("/tickets/{ticket_id}/scripts")
async def scripts(
    ticket_id: int,
    session: Session,
    c: Annotated[Console, can_view("tickets.read")],
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The reply form's script picker (SVC-4), swapped in by HTMX as one types: the scripts the
    KB search finds (all when blank), the reader's language first, each rendered for the ticket."""
    found, _ = await scripts_for.for_ticket(session, c.viewer(), ticket_id, q, c.locale, 1, page_size())
    return render(c, "tickets/_scripts.html", scripts=found, q=q)


async def _act(
    c: Console, session: AsyncSession, ticket_id: int, values: dict[str, str], work: Any, done: str
) -> Response:
    address = f"/tickets/{ticket_id}"

    async def run() -> Response:
        await work()
        c.flash(c.gettext(done))
        return redirect(address)

    async def refused(exc: Any) -> Response:
        return await _ticket_page(session, c, ticket_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, run, refused, address=address)


@router.post("/tickets/{ticket_id}/messages")
async def reply(ticket_id: int, session: Session, c: Annotated[Console, can_do("tickets.write")]) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(MessageIn, {"body": values.get("body", ""), "kind": values.get("kind", "outbound")})
        await service.add_message(session, c.actor, ticket_id, data)  # type: ignore[arg-type]

    return await _act(c, session, ticket_id, values, work, N_("The message was added."))


@router.post("/tickets/{ticket_id}/assign")
async def assign(
    ticket_id: int, session: Session, c: Annotated[Console, can_do("tickets.assign")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        await service.assign(session, c.actor, ticket_id, values.get("user", ""))  # type: ignore[arg-type]

    return await _act(c, session, ticket_id, values, work, N_("The ticket was reassigned."))


@router.post("/tickets/{ticket_id}/escalate")
async def escalate(
    ticket_id: int, session: Session, c: Annotated[Console, can_do("tickets.escalate")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(EscalateIn, {"reason": values.get("reason", "")})
        await service.escalate_by_hand(session, c.actor, ticket_id, data.reason)  # type: ignore[arg-type]

    return await _act(c, session, ticket_id, values, work, N_("The ticket was escalated."))


@router.post("/tickets/{ticket_id}/callbacks/{task_id}/{action}")
async def callback(
    ticket_id: int,
    task_id: int,
    action: str,
    session: Session,
    c: Annotated[Console, can_do("tickets.write")],
) -> Response:
    """A call-back task of the ticket done, or undone again."""

    async def work() -> None:
        await care.mark_callback(session, c.actor, task_id, done=action == "done")  # type: ignore[arg-type]

    done = N_("The call-back was marked done.") if action == "done" else N_("The call-back is open again.")
    return await _act(c, session, ticket_id, {}, work, done)


STEPS = {
    "pend": (TicketEvent.PENDED, N_("Waiting for the customer.")),
    "resolve": (TicketEvent.RESOLVED, N_("The ticket was resolved.")),
    "close": (TicketEvent.CLOSED, N_("The ticket was closed.")),
    "reopen": (TicketEvent.REOPENED, N_("The ticket was reopened.")),
}


@router.post("/tickets/{ticket_id}/{action}")
async def step(
    ticket_id: int, action: str, session: Session, c: Annotated[Console, can_do("tickets.write")]
) -> Response:
    if action not in STEPS:
        return redirect(f"/tickets/{ticket_id}")
    event, done = STEPS[action]

    async def work() -> None:
        await service.step(session, c.actor, ticket_id, event)  # type: ignore[arg-type]

    return await _act(c, session, ticket_id, {}, work, done)


PAGES = Pages(
    router,
    nav=(NavItem("/tickets", label("nav", "Tickets"), "tickets.read", 27),),
    subjects={"ticket": ("/tickets/{id}", label("subject", "Ticket"))},
    states={"ticket": STATES, "callback.reason": CALLBACK_REASONS, "survey.kind": SURVEY_KINDS},
    clocks={
        TicketClock.FIRST_RESPONSE: label("clock", "First response"),  # SVC-2
        TicketClock.NEGATIVE_REVIEW: label("clock", "Negative review answer"),  # SVC-7
        TicketClock.RESOLUTION: label("clock", "Resolution"),  # SVC-2
    },
    alert_kinds={
        service.ESCALATED_ALERT: label("alert kind", "Ticket escalated"),
        reviews.NEGATIVE_ALERT: label("alert kind", "Negative review"),  # SVC-7, ANA-3
    },
    actions={
        "ticket.created": label("audit action", "ticket opened"),
        "ticket.assigned": label("audit action", "assigned"),
        "ticket.escalated": label("audit action", "escalated"),
        "ticket.answered": label("audit action", "answered"),
        "ticket.noted": label("audit action", "note added"),
        "ticket.inbound": label("audit action", "customer wrote"),
        "ticket.pended": label("audit action", "waiting for the customer"),
        "ticket.resolved": label("audit action", "resolved"),
        "ticket.closed": label("audit action", "closed"),
        "ticket.reopened": label("audit action", "reopened"),
        "survey.sent": label("audit action", "survey sent"),
        "survey.answered": label("audit action", "survey answered"),
        "callback.created": label("audit action", "call-back due"),
        "callback.done": label("audit action", "call-back done"),
        "callback.undone": label("audit action", "call-back open again"),
        "care.greeting": label("audit action", "greeting sent"),
        "retention.purged": label("audit action", "old conversations purged"),
    },
)
