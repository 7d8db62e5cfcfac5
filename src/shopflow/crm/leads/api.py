"""Leads over HTTP (CRM-2..4), and the storefront's public lead form."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy, sla
from shopflow.core.api import PUBLIC, Pages, Session, SlidingWindow, Viewer, problems, require
from shopflow.core.audit import Actor
from shopflow.core.errors import TooManyRequests
from shopflow.core.personal_data import Viewer as ViewerType
from shopflow.core.schemas import Id, Page
from shopflow.crm.leads import service
from shopflow.crm.leads.models import Grade, Lead, LeadState, lead_subject
from shopflow.crm.leads.schemas import (
    AssignIn,
    ClockOut,
    FollowUpIn,
    FollowUpOut,
    GradeIn,
    IntakeOut,
    LeadIn,
    LeadOut,
    StaffLeadIn,
)

router = APIRouter(tags=["leads"], responses=problems(401))
LEADS = "/leads"
APPENDED = "Appended to the phone's open lead (no new lead)"
STOREFRONT = Actor(user_id=None, name="storefront", role="system")


def _limit(request: Request) -> None:
    """The form's requests per address and minute (policy `crm.intake_requests_per_minute`);
    beyond, 429 with Retry-After, before the body is looked at."""
    limit = policy.current().crm.intake_requests_per_minute
    window: SlidingWindow = request.app.state.lead_intakes
    address = request.client.host if request.client else "unknown"
    wait = window.wait(address, limit, time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            f"more than {limit} lead forms within a minute; try again in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )


async def lead_out(
    session: AsyncSession, viewer: ViewerType, lead: Lead, *, full: bool = False, appended: bool = False
) -> LeadOut:
    contact = viewer.contact(session, "lead", lead.id, {"lead": lead.contact})["lead"]
    names = await service.usernames(session, [lead.owner_id])
    out = LeadOut(
        id=lead.id,
        name=contact["name"],
        phone=contact["phone"],
        need_tags=lead.need_tags,
        source=lead.source,  # type: ignore[arg-type]
        grade=Grade(lead.grade),
        reasons=lead.reasons,
        grade_overridden=lead.grade_overridden,
        state=LeadState(lead.state),
        owner=names.get(lead.owner_id) if lead.owner_id else None,
        note=lead.note,
        quote_asked=bool(lead.signals.get("quote_asked")),
        quantity=lead.signals.get("quantity"),
        budget=lead.signals.get("budget"),
        intakes=lead.intakes,
        order_id=lead.order_id,
        appended=appended,
        created_at=lead.created_at,
        first_contacted_at=lead.first_contacted_at,
        last_follow_up_at=lead.last_follow_up_at,
        converted_at=lead.converted_at,
    )
    if full:
        now = clock.now()
        out.clocks = [
            ClockOut(kind=c.kind, state=c.state, deadline=c.deadline, late=sla.is_late(c, now))
            for c in await sla.of_subject(session, lead_subject(lead.id))
        ]
        out.follow_ups = [
            FollowUpOut(
                id=f.id,
                channel=f.channel,  # type: ignore[arg-type]
                outcome=f.outcome,  # type: ignore[arg-type]
                next_step=f.next_step,
                note=f.note,
                at=f.at,
                by=by,
            )
            for f, by in await service.follow_ups(session, lead.id)
        ]
    return out


@router.post(
    LEADS + "/intake",
    status_code=201,
    response_model=IntakeOut,
    responses={**problems(422, 429), 200: {"model": IntakeOut, "description": APPENDED}},
    openapi_extra=PUBLIC,
    dependencies=[Depends(_limit)],
)
async def intake(data: LeadIn, session: Session, response: Response) -> IntakeOut:
    """The storefront's lead form (no token): 201 with the new lead's grade and reasons, or 200
    when the phone already has an open lead and this request was appended to it."""
    taken = await service.submit(session, STOREFRONT, data)
    if taken.appended:
        response.status_code = 200
    lead = taken.lead
    return IntakeOut(id=lead.id, grade=Grade(lead.grade), reasons=lead.reasons, appended=taken.appended)


@router.post(
    LEADS,
    status_code=201,
    response_model=LeadOut,
    responses={**problems(403, 422), 200: {"model": LeadOut, "description": APPENDED}},
)
async def create_lead(
    data: StaffLeadIn,
    session: Session,
    viewer: Viewer,
    response: Response,
    actor: Annotated[Actor, require("leads.write")],
) -> LeadOut:
    """A lead entered by a person: 201, or 200 when appended to the phone's open lead."""
    taken = await service.submit(session, actor, data)
    if taken.appended:
        response.status_code = 200
    return await lead_out(session, viewer, taken.lead, full=True, appended=taken.appended)


@router.get(LEADS, response_model=Page[LeadOut], responses=problems(403, 404))
async def list_leads(
    session: Session,
    pages: Pages,
    viewer: Viewer,
    actor: Annotated[Actor, require("leads.read")],
    grade: Grade | None = None,
    state: LeadState | None = None,
    owner: str | None = None,
    mine: bool = False,
    late: bool = False,
) -> Page[LeadOut]:
    """Leads newest first, by grade, state, owner (`mine`: the caller's), and late clocks."""
    found, total = await service.list_leads(
        session, grade, state, actor.name if mine else owner, late, pages.page, pages.page_size
    )
    return Page[LeadOut](**pages.of([await lead_out(session, viewer, lead) for lead in found], total))


@router.get(LEADS + "/{lead_id}", response_model=LeadOut, responses=problems(403, 404))
async def get_lead(
    lead_id: Id, session: Session, viewer: Viewer, _: Annotated[Actor, require("leads.read")]
) -> LeadOut:
    return await lead_out(session, viewer, await service.get_lead(session, lead_id), full=True)


@router.post(
    LEADS + "/{lead_id}/follow-ups",
    status_code=201,
    response_model=LeadOut,
    responses=problems(403, 404, 409, 422),
)
async def follow_up(
    lead_id: Id,
    data: FollowUpIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("leads.write")],
) -> LeadOut:
    """Log a follow-up: the clock restarts to the grade's deadline (CRM-3, CRM-4)."""
    await service.log_follow_up(session, actor, lead_id, data)
    return await lead_out(session, viewer, await service.get_lead(session, lead_id), full=True)


@router.post(LEADS + "/{lead_id}/grade", response_model=LeadOut, responses=problems(403, 404, 409, 422))
async def set_grade(
    lead_id: Id,
    data: GradeIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("leads.write")],
) -> LeadOut:
    """Override the grade, saying why (audited); 409 for a converted or lost lead."""
    lead = await service.override_grade(session, actor, lead_id, data.grade, data.reason)
    return await lead_out(session, viewer, lead, full=True)


@router.post(LEADS + "/{lead_id}/assign", response_model=LeadOut, responses=problems(403, 404, 409, 422))
async def assign(
    lead_id: Id,
    data: AssignIn,
    session: Session,
    viewer: Viewer,
    actor: Annotated[Actor, require("leads.assign")],
) -> LeadOut:
    """Reassign the lead to `user` (audited; they are told)."""
    lead = await service.assign(session, actor, lead_id, data.user)
    return await lead_out(session, viewer, lead, full=True)
