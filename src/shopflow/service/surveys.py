"""Surveys (SVC-5, SVC-6): the worker sends an order's satisfaction survey at delivery and its
feedback survey `service.survey_after_delivery_days` later, and each resolved ticket's own
survey with its call-back task; each once (unique keys), through the outbox (`survey.sent`).
The customer answers once on the signed page `/s/{token}` before it expires
(`service.satisfaction_within_days`); a score of at most `service.follow_up_score_at_most`
opens a follow-up ticket."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, crypto, events, policy
from shopflow.core.audit import Actor
from shopflow.core.settings import get_settings
from shopflow.orders.models import Order
from shopflow.service import care_repository as repository
from shopflow.service import service
from shopflow.service.errors import SurveyAnswered, SurveyExpired, SurveyNotFound
from shopflow.service.models import (
    CallbackReason,
    CallbackTask,
    Category,
    Survey,
    SurveyKind,
    Ticket,
    TicketChannel,
    follow_up_type,
    read_survey,
    sign_survey,
    survey_key,
)
from shopflow.service.schemas import SurveyIn, TicketIn

# Who a survey's answer is audited as (AUD-1): the holder of its signed link.
CUSTOMER = Actor(user_id=None, name="customer", role="customer")
PATH = "/s/"
SENT_EVENT = "survey.sent"


def _key() -> bytes:
    return crypto.vault().derived_key("survey link")


def token(survey: Survey) -> str:
    return sign_survey(survey.id, survey.expires_at, _key())


def link(survey: Survey) -> str:
    """The survey's answer page: `{public_url}/s/{token}`."""
    return f"{get_settings().public_url.rstrip('/')}{PATH}{token(survey)}"


def _order_row(kind: SurveyKind, order: Order, at: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "key": survey_key(kind, order.id),
        "kind": kind,
        "order_id": order.id,
        "ticket_id": None,
        "customer_id": order.customer_id,
        "agent_id": None,
        "sent_at": at,
        "expires_at": expires,
    }


def _ticket_rows(
    ticket: Ticket, at: datetime, rules: policy.Service
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A resolved ticket's survey and its call-back task (SVC-5)."""
    assert ticket.resolved_at is not None
    survey = {
        "key": survey_key(SurveyKind.TICKET, ticket.id),
        "kind": SurveyKind.TICKET,
        "order_id": ticket.order_id,
        "ticket_id": ticket.id,
        "customer_id": ticket.customer_id,
        "agent_id": ticket.assignee_id,
        "sent_at": at,
        "expires_at": ticket.resolved_at + timedelta(days=rules.satisfaction_within_days),
    }
    task = {
        "key": f"{CallbackReason.RESOLVED}:{ticket.id}",
        "reason": CallbackReason.RESOLVED,
        "ticket_id": ticket.id,
        "customer_id": ticket.customer_id,
        "assignee_id": ticket.assignee_id,
        "due_at": ticket.resolved_at + timedelta(days=rules.callback_after_days),
        "created_at": at,
    }
    return survey, task


async def schedule(session: AsyncSession) -> int:
    """The worker's sweep: store the surveys now due (a batch of `service.care_batch` of each
    kind) and queue their `survey.sent` events; how many it stored. Orders and tickets older than
    the answering window are not surveyed any more."""
    rules = policy.current().service
    at = clock.now()
    window = timedelta(days=rules.satisfaction_within_days)
    after = timedelta(days=rules.survey_after_delivery_days)
    batch = rules.care_batch
    rows = [
        _order_row(SurveyKind.SATISFACTION, order, at, order.delivered_at + window)
        for order in await repository.delivered_without(
            session, SurveyKind.SATISFACTION, at - window, at, batch
        )
        if order.delivered_at is not None
    ]
    rows += [
        _order_row(SurveyKind.FEEDBACK, order, at, at + window)
        for order in await repository.delivered_without(
            session, SurveyKind.FEEDBACK, at - after - window, at - after, batch
        )
    ]
    tasks = []
    for ticket in await repository.resolved_without_survey(session, at - window, batch):
        survey, task = _ticket_rows(ticket, at, rules)
        rows.append(survey)
        tasks.append(task)
    stored: list[Survey] = await repository.insert_new(session, Survey, rows) if rows else []
    await repository.insert_new(session, CallbackTask, tasks)
    for survey in stored:
        payload = {
            "survey_id": survey.id,
            "kind": survey.kind,
            "order_id": survey.order_id,
            "ticket_id": survey.ticket_id,
            "customer_id": survey.customer_id,
        }
        events.queue(session, SENT_EVENT, f"survey:{survey.id}", payload)
        audit.queue(session, audit.row(audit.SYSTEM, SENT_EVENT, "survey", survey.id, None, payload, at))
    await session.flush()
    return len(stored)


async def open_survey(session: AsyncSession, survey_token: str) -> Survey:
    """The survey a token opens: 404 for a token this server did not sign, 410 once expired,
    409 once answered."""
    found = read_survey(survey_token, _key())
    survey = None if found is None else await repository.survey(session, found.survey_id)
    if found is None or survey is None:
        raise SurveyNotFound("no such survey")
    now = clock.now()
    if now >= found.expires or now >= survey.expires_at:
        raise SurveyExpired("the survey has expired")
    if survey.answered_at is not None:
        raise SurveyAnswered("the survey was answered already")
    return survey


async def answer(session: AsyncSession, survey_token: str, data: SurveyIn) -> Survey:
    """The customer's answer, recorded once (a conditional UPDATE: two answers at once store
    one); a low score opens a follow-up ticket linked to the order and customer. Audited."""
    survey = await open_survey(session, survey_token)
    at = clock.now()
    comment = None if not data.comment else {"text": data.comment}
    if not await repository.mark_answered(session, survey.id, data.score, comment, at):
        raise SurveyAnswered("the survey was answered already")
    await session.refresh(survey)
    after: dict[str, Any] = {"score": data.score, "commented": comment is not None}
    if data.score <= policy.current().service.follow_up_score_at_most:
        ticket = await _follow_up(session, survey, data)
        survey.follow_up_id = ticket.id
        after["follow_up_ticket_id"] = ticket.id
    audit.queue(session, audit.row(CUSTOMER, "survey.answered", "survey", survey.id, None, after, at))
    await session.flush()
    return survey


async def _follow_up(session: AsyncSession, survey: Survey, data: SurveyIn) -> Ticket:
    kind = SurveyKind(survey.kind)
    subject = f"survey {survey.id} ({kind}): score {data.score}"
    if survey.ticket_id is not None:
        subject += f", after ticket {survey.ticket_id}"
    body = data.comment or f"score {data.score} of 5"
    ticket_in = TicketIn(
        type=follow_up_type(kind),
        channel=TicketChannel.EMAIL,
        subject=subject,
        category=Category.SERVICE,
        customer_id=survey.customer_id,
        order_id=survey.order_id,
        body=body,
    )
    return await service.create_ticket(session, audit.SYSTEM, ticket_in)


async def of_ticket(session: AsyncSession, ticket_id: int) -> list[Survey]:
    return await repository.surveys_of(session, ticket_id=ticket_id)


async def unanswered(session: AsyncSession, kind: SurveyKind, limit: int) -> list[Survey]:
    """The latest surveys of `kind` not answered yet, newest first."""
    return await repository.unanswered(session, kind, limit)
