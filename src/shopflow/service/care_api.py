"""Surveys, call-backs and the agents' month over HTTP (SVC-5, SVC-6, SVC-8, STF-2)."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from shopflow.core import policy
from shopflow.core.api import PUBLIC, Session, SlidingWindow, problems, require
from shopflow.core.audit import Actor
from shopflow.core.errors import TooManyRequests
from shopflow.core.schemas import Id
from shopflow.service import care, metrics, service, surveys
from shopflow.service.models import CallbackTask
from shopflow.service.schemas import (
    AgentMetricsOut,
    AgentMonthOut,
    CallbackOut,
    SurveyIn,
    SurveyOut,
)

router = APIRouter(tags=["customer care"], responses=problems(401))
CALLBACKS = "/service/callbacks"


def _limit(request: Request) -> None:
    """The customer's requests per address and minute, shared with the customer's page (policy
    `security.customer_page_requests_per_minute`); beyond, 429 with Retry-After."""
    limit = policy.current().security.customer_page_requests_per_minute
    window: SlidingWindow = request.app.state.customer_page_requests
    address = request.client.host if request.client else "unknown"
    wait = window.wait(address, limit, time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            f"more than {limit} requests within a minute; try again in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )


@router.post(
    "/surveys/{token}",
    response_model=SurveyOut,
    responses=problems(404, 409, 410, 422, 429),
    openapi_extra=PUBLIC,
    dependencies=[Depends(_limit)],
)
async def answer_survey(token: str, data: SurveyIn, session: Session) -> SurveyOut:
    """A customer's answer to the survey their signed link names (no token: the link is the
    key): 404 for a link this server did not sign, 410 once expired, 409 once answered, 422 for
    a score outside 1-5. A score of 1-2 opens a follow-up ticket (`follow_up_ticket_id`)."""
    survey = await surveys.answer(session, token, data)
    return SurveyOut(
        survey_id=survey.id, kind=survey.kind, score=data.score, follow_up_ticket_id=survey.follow_up_id
    )


async def _callback_out(session: Session, tasks: list[CallbackTask]) -> list[CallbackOut]:
    names = await service.usernames(session, [t.assignee_id for t in tasks])
    return [
        CallbackOut(
            id=t.id,
            reason=t.reason,
            ticket_id=t.ticket_id,
            customer_id=t.customer_id,
            assignee=names.get(t.assignee_id or 0),
            due_at=t.due_at,
            done_at=t.done_at,
        )
        for t in tasks
    ]


@router.get(CALLBACKS, response_model=list[CallbackOut], responses=problems(403, 422))
async def list_callbacks(
    session: Session,
    _: Annotated[Actor, require("tickets.read")],
    assignee: Annotated[str | None, Query(max_length=80)] = None,
    ticket_id: Id | None = None,
    open_only: Annotated[bool, Query(alias="open")] = True,
) -> list[CallbackOut]:
    """Call-back tasks (after a resolution, and periodic ones), the earliest due first: an
    agent's, a ticket's; open ones unless `open=false`."""
    tasks = await care.callbacks(session, assignee=assignee, ticket_id=ticket_id, open_only=open_only)
    return await _callback_out(session, tasks)


@router.post(CALLBACKS + "/{task_id}/done", response_model=CallbackOut, responses=problems(403, 404))
async def callback_done(
    task_id: Id, session: Session, actor: Annotated[Actor, require("tickets.write")]
) -> CallbackOut:
    """The call was made (audited)."""
    task = await care.mark_callback(session, actor, task_id, done=True)
    return (await _callback_out(session, [task]))[0]


@router.post(CALLBACKS + "/{task_id}/undone", response_model=CallbackOut, responses=problems(403, 404))
async def callback_undone(
    task_id: Id, session: Session, actor: Annotated[Actor, require("tickets.write")]
) -> CallbackOut:
    """The call is owed again (audited)."""
    task = await care.mark_callback(session, actor, task_id, done=False)
    return (await _callback_out(session, [task]))[0]


@router.get("/service/agents/metrics", response_model=AgentMetricsOut, responses=problems(403, 422))
async def agent_metrics(
    session: Session,
    _: Annotated[Actor, require("service.metrics.read")],
    month: Annotated[
        str | None, Query(max_length=7, description="YYYY-MM; the store's current month")
    ] = None,
) -> AgentMetricsOut:
    """Each agent's month (STF-2): tickets handled, first responses and breaches, the
    response-timeout rate (breached ÷ ended response clocks, charged to the assignee at the
    deadline), resolution and 24-hour resolution rates, mean satisfaction of their resolved
    tickets' surveys; `flagged` above `staff.response_timeout_rate_percent` (STF-3)."""
    first, rows = await metrics.agent_month(session, month)
    return AgentMetricsOut(
        month=first.strftime("%Y-%m"),
        timeout_rate_limit=policy.current().staff.response_timeout_rate_percent / 100,
        agents=[
            AgentMonthOut(
                user_id=row.user_id,
                username=row.username,
                handled=row.counts.handled,
                first_responses=row.counts.responses,
                first_response_breaches=row.counts.breaches,
                response_clocks_ended=row.counts.ended,
                response_timeout_rate=row.timeout_rate,
                resolution_rate=row.resolution_rate,
                resolution_24h_rate=row.resolution_24h_rate,
                satisfaction=row.satisfaction,
                satisfaction_answers=row.counts.scores,
                flagged=row.flagged,
            )
            for row in rows
        ],
    )
