"""Console pages of leads (CRM-2..4): the board by grade and state (late ones red, "my leads"),
and a lead's page with its reasons, clocks, follow-ups, the follow-up form offering reply
scripts, the grade override and reassignment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, auth, sla
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    chosen,
    form_errors,
    form_values,
    page_size,
    parsed,
    step_back,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.core.roles import Role
from shopflow.crm.leads import service
from shopflow.crm.leads.models import (
    Channel,
    Grade,
    LeadClock,
    LeadState,
    Outcome,
    Source,
    Stage,
    lead_subject,
)
from shopflow.crm.leads.schemas import FollowUpIn, GradeIn

router = APIRouter(include_in_schema=False)
L = LeadState

STATES = {
    L.NEW: label("lead state", "new"),
    L.CONTACTED: label("lead state", "contacted"),
    L.QUALIFIED: label("lead state", "qualified"),
    L.CONVERTED: label("lead state", "converted"),
    L.LOST: label("lead state", "lost"),
}
SOURCES = {
    Source.FORM: label("lead source", "web form"),
    Source.CHAT: label("lead source", "chat"),
    Source.ORDER: label("lead source", "order"),
    Source.PHONE: label("lead source", "phone"),
    Source.FAIR: label("lead source", "trade fair"),
    Source.IMPORT: label("lead source", "import"),
}
CHANNELS = {
    Channel.PHONE: label("follow-up channel", "phone"),
    Channel.WECHAT: label("follow-up channel", "WeChat"),
    Channel.EMAIL: label("follow-up channel", "email"),
    Channel.CHAT: label("follow-up channel", "chat"),
    Channel.VISIT: label("follow-up channel", "visit"),
}
OUTCOMES = {
    Outcome.NO_ANSWER: label("follow-up outcome", "no answer"),
    Outcome.REACHED: label("follow-up outcome", "reached"),
    Outcome.QUALIFIED: label("follow-up outcome", "need confirmed"),
    Outcome.LOST: label("follow-up outcome", "not interested (lost)"),
}
STAGES = {
    Stage.FIRST_TOUCH: label("script stage", "First touch"),
    Stage.NEEDS_DISCOVERY: label("script stage", "Needs discovery"),
    Stage.OBJECTION: label("script stage", "Objection"),
    Stage.CLOSING: label("script stage", "Closing"),
}
GRADES = {g.value: g.value for g in Grade}


@router.get("/leads")
async def board(
    session: Session,
    c: Annotated[Console, can_view("leads.read")],
    grade: str = "",
    state: str = "",
    mine: str = "",
    late: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """The board: counts by grade and state, then the leads the filters choose, late ones red."""
    assert c.actor is not None
    size = page_size()
    owner = c.actor.name if mine == "1" else None
    found, total = await service.list_leads(
        session, chosen(Grade, grade), chosen(LeadState, state), owner, late == "1", page, size
    )
    late_ids = await service.late_among(session, [lead.id for lead in found])
    viewer = c.viewer()
    return render(
        c,
        "leads/board.html",
        leads=found,
        contacts={
            lead.id: viewer.contact(session, "lead", lead.id, {"lead": lead.contact})["lead"]
            for lead in found
        },
        owners=await service.usernames(session, [lead.owner_id for lead in found]),
        counts=await service.counts(session),
        late_ids=late_ids,
        filters={"grade": grade, "state": state, "mine": mine, "late": late},
        grades=GRADES,
        states=STATES,
        sources=SOURCES,
        pager=Pager(page, size, total),
    )


async def _lead_page(
    session: AsyncSession,
    c: Console,
    lead_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    lead = await service.get_lead(session, lead_id)
    scripts: dict[str, list[Any]] = {}
    for article in await service.scripts(session, c.locale):
        scripts.setdefault(article.category, []).append(article)
    people = [u for u in await auth.list_users(session) if u.active and u.role == Role.SALES]
    return render(
        c,
        "leads/lead.html",
        status,
        lead=lead,
        contact=c.viewer().contact(session, "lead", lead.id, {"lead": lead.contact})["lead"],
        owner=(await service.usernames(session, [lead.owner_id])).get(lead.owner_id or 0),
        clocks=await sla.of_subject(session, lead_subject(lead.id)),
        follow_ups=await service.follow_ups(session, lead.id),
        trail=await audit.trail(session, "lead", lead.id),
        scripts=scripts,
        stages=STAGES,
        states=STATES,
        sources=SOURCES,
        channels=CHANNELS,
        outcomes=OUTCOMES,
        grades=GRADES,
        people=people,
        values=values or {},
        errors=errors or {},
    )


@router.get("/leads/{lead_id}")
async def lead_page(
    lead_id: int, session: Session, c: Annotated[Console, can_view("leads.read")]
) -> HTMLResponse:
    return await _lead_page(session, c, lead_id)


async def _act(
    c: Console, session: AsyncSession, lead_id: int, values: dict[str, str], work: Any, done: str
) -> Response:
    """Run one step of the lead; the lead page again, saying why, when the service refuses it."""

    async def refused(exc: AppError) -> Response:
        return await _lead_page(session, c, lead_id, values, form_errors(exc, c), exc.status)

    return await step_back(c, session, f"/leads/{lead_id}", work, done, refused)


@router.post("/leads/{lead_id}/follow-ups")
async def follow_up(lead_id: int, session: Session, c: Annotated[Console, can_do("leads.write")]) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(
            FollowUpIn,
            {
                "channel": values.get("channel", ""),
                "outcome": values.get("outcome", ""),
                "next_step": values.get("next_step") or None,
                "note": values.get("note") or None,
            },
        )
        await service.log_follow_up(session, c.actor, lead_id, data)  # type: ignore[arg-type]

    return await _act(c, session, lead_id, values, work, N_("The follow-up was logged."))


@router.post("/leads/{lead_id}/grade")
async def set_grade(lead_id: int, session: Session, c: Annotated[Console, can_do("leads.write")]) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        data = parsed(GradeIn, {"grade": values.get("grade", ""), "reason": values.get("reason", "").strip()})
        await service.override_grade(session, c.actor, lead_id, data.grade, data.reason)  # type: ignore[arg-type]

    return await _act(c, session, lead_id, values, work, N_("The grade was set."))


@router.post("/leads/{lead_id}/assign")
async def assign(lead_id: int, session: Session, c: Annotated[Console, can_do("leads.assign")]) -> Response:
    values = await form_values(c.request)

    async def work() -> None:
        await service.assign(session, c.actor, lead_id, values.get("user", ""))  # type: ignore[arg-type]

    return await _act(c, session, lead_id, values, work, N_("The lead was reassigned."))


PAGES = Pages(
    router,
    nav=(NavItem("/leads", label("nav", "Leads"), "leads.read", 24),),
    states={"lead": STATES},
    subjects={"lead": ("/leads/{id}", label("subject", "Lead"))},
    clocks={
        LeadClock.FIRST_CONTACT: label("clock", "First contact"),  # CRM-3
        LeadClock.FOLLOW_UP: label("clock", "Follow-up"),  # CRM-3
    },
    alert_kinds={service.ASSIGNED_ALERT: label("alert kind", "Lead assigned to you")},
    actions={
        "lead.new": label("audit action", "lead taken in"),
        "lead.appended": label("audit action", "request appended"),
        "lead.assigned": label("audit action", "assigned"),
        "lead.follow_up": label("audit action", "followed up"),
        "lead.graded": label("audit action", "grade set"),
        "lead.converted": label("audit action", "converted"),
    },
)
