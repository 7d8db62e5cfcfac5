"""Every query of the service desk's second half: surveys, call-backs, greetings, bought-together
recommendations (SVC-5, SVC-6, SVC-8), retention (SVC-9, AUD-1) and the agents' month (STF-2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, delete, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import db
from shopflow.core.audit import AuditEntry
from shopflow.core.sla import SlaClock
from shopflow.core.sla.models import ClockState
from shopflow.crm.models import Customer, Source
from shopflow.orders.models import Order, OrderLine
from shopflow.service.models import (
    DONE_STATES,
    CallbackTask,
    CareSweep,
    Greeting,
    Survey,
    SurveyKind,
    Ticket,
    TicketClock,
    TicketMessage,
)

# --- surveys ------------------------------------------------------------------------------------


async def delivered_without(
    session: AsyncSession, kind: SurveyKind, since: datetime, until: datetime, limit: int
) -> list[Order]:
    """Orders delivered in [since, until] that have no survey of `kind` yet, oldest first;
    imported history is never surveyed."""
    stmt = (
        select(Order)
        .where(
            Order.imported_at.is_(None),
            Order.delivered_at >= since,
            Order.delivered_at <= until,
            ~exists().where(Survey.order_id == Order.id, Survey.kind == kind),
        )
        .order_by(Order.delivered_at, Order.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def resolved_without_survey(session: AsyncSession, since: datetime, limit: int) -> list[Ticket]:
    """Tickets resolved since `since` (resolved or closed now) without their survey, oldest first."""
    stmt = (
        select(Ticket)
        .where(
            Ticket.resolved_at >= since,
            Ticket.state.in_(list(DONE_STATES)),
            ~exists().where(Survey.ticket_id == Ticket.id, Survey.kind == SurveyKind.TICKET),
        )
        .order_by(Ticket.resolved_at, Ticket.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def insert_new(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Insert the rows whose unique key is free; the stored rows (a worker running twice, or two
    workers at once, store each once)."""
    ids = await db.insert_rows(session, model, rows, returning="id", skip_conflicts=True)
    if not ids:
        return []
    return list((await session.scalars(select(model).where(model.id.in_(ids)).order_by(model.id))).all())


async def survey(session: AsyncSession, survey_id: int) -> Survey | None:
    return await session.get(Survey, survey_id)


async def mark_answered(
    session: AsyncSession, survey_id: int, score: int, comment: dict[str, Any] | None, at: datetime
) -> bool:
    """Record the answer unless one is recorded (single use, by one conditional UPDATE)."""
    stmt = (
        update(Survey)
        .where(Survey.id == survey_id, Survey.answered_at.is_(None))
        .values(answered_at=at, score=score, comment=comment)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount == 1  # type: ignore[attr-defined]


async def unanswered(session: AsyncSession, kind: SurveyKind, limit: int) -> list[Survey]:
    stmt = (
        select(Survey)
        .where(Survey.kind == kind, Survey.answered_at.is_(None))
        .order_by(Survey.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def surveys_of(session: AsyncSession, *, ticket_id: int) -> list[Survey]:
    stmt = select(Survey).where(Survey.ticket_id == ticket_id).order_by(Survey.id)
    return list((await session.scalars(stmt)).all())


# --- call-backs and greetings -------------------------------------------------------------------


async def callbacks(
    session: AsyncSession,
    *,
    assignee_id: int | None,
    ticket_id: int | None,
    open_only: bool,
    limit: int,
) -> list[CallbackTask]:
    """Call-back tasks, the earliest due first."""
    conditions = []
    if assignee_id is not None:
        conditions.append(CallbackTask.assignee_id == assignee_id)
    if ticket_id is not None:
        conditions.append(CallbackTask.ticket_id == ticket_id)
    if open_only:
        conditions.append(CallbackTask.done_at.is_(None))
    stmt = select(CallbackTask).where(*conditions).order_by(CallbackTask.due_at, CallbackTask.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def callback(session: AsyncSession, task_id: int, *, lock: bool = False) -> CallbackTask | None:
    stmt = select(CallbackTask).where(CallbackTask.id == task_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def sweep_cursor(session: AsyncSession, day: date) -> int:
    """The last customer the day's greeting sweep went through, its row locked."""
    await db.insert_rows(session, CareSweep, [{"day": day, "last_customer_id": 0}], skip_conflicts=True)
    stmt = select(CareSweep.last_customer_id).where(CareSweep.day == day).with_for_update()
    return int(await session.scalar(stmt) or 0)


async def move_sweep(session: AsyncSession, day: date, last_id: int) -> None:
    await session.execute(update(CareSweep).where(CareSweep.day == day).values(last_customer_id=last_id))


async def customers_after(session: AsyncSession, last_id: int, limit: int) -> list[Customer]:
    """The next customers by id, merged profiles and those of imported history left out (history
    sends nothing)."""
    stmt = (
        select(Customer)
        .where(Customer.id > last_id, Customer.merged_into.is_(None), Customer.source != Source.IMPORT)
        .order_by(Customer.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def greetings_of(session: AsyncSession, customer_id: int) -> list[Greeting]:
    stmt = select(Greeting).where(Greeting.customer_id == customer_id).order_by(Greeting.id)
    return list((await session.scalars(stmt)).all())


async def bought_together(session: AsyncSession, customer_id: int, limit: int) -> list[tuple[str, str, int]]:
    """SVC-8: the SKUs most often in the same orders as the customer's purchases, leaving out what
    they bought: (sku code, name, orders) best first; one grouped query."""
    mine = select(OrderLine.sku_id).join(Order, Order.id == OrderLine.order_id)
    mine = mine.where(Order.customer_id == customer_id)
    baskets = select(OrderLine.order_id).where(OrderLine.sku_id.in_(mine))
    stmt = (
        select(OrderLine.sku_code, func.min(OrderLine.name), func.count(func.distinct(OrderLine.order_id)))
        .where(OrderLine.order_id.in_(baskets), OrderLine.sku_id.not_in(mine))
        .group_by(OrderLine.sku_code)
        .order_by(func.count(func.distinct(OrderLine.order_id)).desc(), OrderLine.sku_code)
        .limit(limit)
    )
    return [(code, name, int(n)) for code, name, n in (await session.execute(stmt)).tuples()]


# --- retention (SVC-9, AUD-1) -------------------------------------------------------------------


async def purge_messages(
    session: AsyncSession, before: datetime, at: datetime, limit: int
) -> tuple[int, int]:
    """Empty the text of up to `limit` messages written before `before` (oldest first), keeping
    their ticket, kind, author and time; (messages, tickets) purged."""
    stmt = (
        select(TicketMessage.id, TicketMessage.ticket_id)
        .where(TicketMessage.at < before, TicketMessage.purged_at.is_(None))
        .order_by(TicketMessage.at, TicketMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = (await session.execute(stmt)).tuples().all()
    if not found:
        return 0, 0
    ids = [message_id for message_id, _ in found]
    purge = (
        update(TicketMessage)
        .where(TicketMessage.id.in_(ids))
        .values(content={"body": ""}, purged_at=at)
        .execution_options(synchronize_session=False)
    )
    await session.execute(purge)
    return len(ids), len({ticket_id for _, ticket_id in found})


async def purge_audit(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` audit rows written before `before`, oldest first."""
    oldest = select(AuditEntry.id).where(AuditEntry.at < before).order_by(AuditEntry.at).limit(limit)
    ids = list((await session.scalars(oldest)).all())
    if not ids:
        return 0
    await session.execute(
        delete(AuditEntry).where(AuditEntry.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return len(ids)


# --- the agents' month (STF-2) ------------------------------------------------------------------


@dataclass(slots=True)
class AgentCounts:
    handled: int = 0  # tickets assigned to the agent, opened in the month
    resolved: int = 0  # of those, resolved
    resolved_in_time: int = 0  # of those, their resolution clock met
    responses: int = 0  # response clocks the agent stopped (answered) in the month
    breaches: int = 0  # response clocks breached, charged to the agent at their deadline in the month
    ended: int = 0  # response clocks that ended in the month: met then, or breached (deadline then)
    scores: int = 0  # ticket surveys answered, of tickets the agent resolved in the month
    score_sum: int = 0


RESPONSE_KINDS = (TicketClock.FIRST_RESPONSE, TicketClock.NEGATIVE_REVIEW)


async def agent_month(session: AsyncSession, start: datetime, end: datetime) -> dict[int, AgentCounts]:
    """Each agent's counts for the month [start, end): three grouped queries, the same SQL on
    SQLite and PostgreSQL."""
    found: dict[int, AgentCounts] = {}

    def of(user_id: int) -> AgentCounts:
        return found.setdefault(int(user_id), AgentCounts())

    subject = literal("ticket:").concat(cast(Ticket.id, String))
    in_time = case((SlaClock.state == ClockState.MET, 1), else_=0)
    tickets = (
        select(
            Ticket.assignee_id,
            func.count(Ticket.id),
            func.count(Ticket.resolved_at),
            func.coalesce(func.sum(in_time), 0),
        )
        .outerjoin(SlaClock, and_(SlaClock.subject == subject, SlaClock.kind == TicketClock.RESOLUTION))
        .where(Ticket.assignee_id.is_not(None), Ticket.created_at >= start, Ticket.created_at < end)
        .group_by(Ticket.assignee_id)
    )
    for user_id, handled, resolved, met in (await session.execute(tickets)).tuples():
        counts = of(user_id)
        counts.handled, counts.resolved, counts.resolved_in_time = int(handled), int(resolved), int(met)

    answered = and_(SlaClock.stopped_at >= start, SlaClock.stopped_at < end)
    breached = and_(
        SlaClock.state == ClockState.BREACHED, SlaClock.deadline >= start, SlaClock.deadline < end
    )
    met = and_(SlaClock.state == ClockState.MET, answered)
    clocks = (
        select(
            SlaClock.owner_id,
            func.coalesce(func.sum(case((answered, 1), else_=0)), 0),
            func.coalesce(func.sum(case((breached, 1), else_=0)), 0),
            func.coalesce(func.sum(case((met, 1), (breached, 1), else_=0)), 0),
        )
        .where(SlaClock.owner_id.is_not(None), SlaClock.kind.in_(RESPONSE_KINDS), answered | breached)
        .group_by(SlaClock.owner_id)
    )
    for user_id, responses, breaches, ended in (await session.execute(clocks)).tuples():
        counts = of(user_id)
        counts.responses, counts.breaches, counts.ended = int(responses), int(breaches), int(ended)

    scores = (
        select(Survey.agent_id, func.count(Survey.score), func.coalesce(func.sum(Survey.score), 0))
        .join(Ticket, Ticket.id == Survey.ticket_id)
        .where(
            Survey.kind == SurveyKind.TICKET,
            Survey.agent_id.is_not(None),
            Survey.score.is_not(None),
            Ticket.resolved_at >= start,
            Ticket.resolved_at < end,
        )
        .group_by(Survey.agent_id)
    )
    for user_id, n, total in (await session.execute(scores)).tuples():
        counts = of(user_id)
        counts.scores, counts.score_sum = int(n), int(total)
    return found
