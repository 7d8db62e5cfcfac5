"""Ticket use cases (SVC-1..3, SVC-7): open a ticket linked to its customer, order and case,
assign it (SVC-3), converse, pend, resolve, close and reopen it, each step moving its clocks as
`models.CLOCK_TABLE` says; escalate it to a supervisor on a breach, on the policy's types, when
the case's amount exceeds the agent's authority (ASV-5), or by hand."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service as aftersales
from shopflow.aftersales.models import Case
from shopflow.core import alerts, audit, auth, clock, events, money, policy, sla
from shopflow.core.audit import Actor
from shopflow.core.auth import User
from shopflow.core.crypto import Owned
from shopflow.core.errors import AppError, FieldError, Invalid, InvalidTransition, NotFound
from shopflow.core.policy import Assignment
from shopflow.core.roles import USER_OWNER, Role
from shopflow.crm import service as crm
from shopflow.crm import tiers
from shopflow.orders.models import Order
from shopflow.orders.service import queries as orders
from shopflow.service import repository
from shopflow.service.errors import ReopenWindowPassed, TicketDone, TicketNotFound
from shopflow.service.models import (
    CLOCK_TABLE,
    DONE_STATES,
    SUBJECT_PREFIX,
    Effect,
    Escalation,
    MessageKind,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketState,
    clock_basis,
    clock_duration,
    clock_kind,
    clock_source,
    reopen_deadline,
    ticket_subject,
)
from shopflow.service.schemas import InboundIn, MessageIn, TicketIn

T = TicketState
CURSOR = "customer_service"  # the round-robin cursor of the agents
ESCALATED_ALERT = "ticket.escalated"
WRITE = "tickets.write"


# --- clocks (SVC-2, SVC-7) ----------------------------------------------------------------------


async def apply_clocks(session: AsyncSession, ticket: Ticket, event: TicketEvent) -> None:
    """Do to the ticket's clocks what CLOCK_TABLE says the event does, now, each in the time its
    policy basis names (`core.sla` computes the deadlines)."""
    subject = ticket_subject(ticket.id)
    rules, source = policy.current().service, clock_source(policy.current())
    for effect, role in CLOCK_TABLE[event]:
        kind = clock_kind(role, ticket.type)
        duration, basis = clock_duration(kind, ticket.channel, rules), clock_basis(kind, ticket.channel)
        match effect:
            case Effect.START:
                await sla.start_for(session, subject, kind, duration, ticket.assignee_id, basis, source)
            case Effect.STOP:
                await sla.stop(session, subject, kind)
            case Effect.PAUSE:
                await sla.pause(session, subject, kind)
            case Effect.RESUME:
                await sla.resume(session, subject, kind)
            case Effect.RESUME_USED:
                await sla.reopen(session, subject, kind, duration, ticket.assignee_id, basis, source)
            case Effect.CANCEL:
                await sla.cancel(session, subject, kind)


# --- opening a ticket (SVC-1) -------------------------------------------------------------------


async def _order(session: AsyncSession, data: TicketIn, errors: list[FieldError]) -> Order | None:
    found = None
    try:
        if data.order_id is not None:
            found = await orders.get_order(session, data.order_id)
        if data.order_no is not None:
            numbered = await orders.get_by_number(session, data.order_no)
            if found is not None and numbered.id != found.id:
                errors.append(FieldError("order_no", f"is order {numbered.id}, not order {found.id}"))
            found = numbered
    except NotFound:
        field = "order_id" if data.order_no is None else "order_no"
        errors.append(FieldError(field, "no such order"))
    return found


async def _case(session: AsyncSession, data: TicketIn, errors: list[FieldError]) -> Case | None:
    if data.case_id is None:
        return None
    try:
        return await aftersales.get_case(session, data.case_id)
    except NotFound:
        errors.append(FieldError("case_id", "no such after-sales case"))
        return None


async def _customer(
    session: AsyncSession, data: TicketIn, order: Order | None, errors: list[FieldError]
) -> tuple[int | None, str | None]:
    """The customer's id and the phone's blind index: the customer named, else the one with the
    phone, else the order's."""
    hashed = None
    if data.phone is not None:
        try:
            hashed = crm.phone_hash(data.phone)
        except Invalid as exc:
            errors.extend(exc.errors)
    if data.customer_id is not None:
        try:
            return (await crm.get_customer(session, data.customer_id)).id, hashed
        except AppError:
            errors.append(FieldError("customer_id", "no such customer"))
            return None, hashed
    if hashed is not None and data.phone is not None:
        found, _ = await crm.find(session, phone=data.phone, number=None, page=1, page_size=1)
        if found:
            return found[0].id, hashed
    if order is not None:
        customer = await crm.of_order(session, order.id)
        return (None if customer is None else customer.id), hashed
    return None, hashed


async def _agent(session: AsyncSession, username: str, field: str) -> User:
    try:
        user = await auth.find_user(session, username)
    except NotFound:
        raise Invalid("no such user", errors=[FieldError(field, f"no user {username!r}")]) from None
    if not user.active or not auth.allowed(user.role, WRITE):
        raise Invalid(
            f"{username} may not take tickets",
            errors=[FieldError(field, f"{username!r} may not work tickets")],
        )
    return user


def _row(data: TicketIn, actor: Actor, at: datetime) -> dict[str, Any]:
    return {
        "type": data.type,
        "channel": data.channel,
        "priority": data.priority,
        "category": data.category,
        "state": T.NEW,
        "subject": data.subject,
        "contact": None if data.phone is None else {"phone": data.phone},
        "created_by": actor.user_id,
        "created_at": at,
        "updated_at": at,
        "reopened": 0,
    }


async def create_ticket(session: AsyncSession, actor: Actor, data: TicketIn) -> Ticket:
    """SVC-1: a ticket linked to its customer, order and case (every bad link named, nothing
    stored), assigned (SVC-3), on its clocks (SVC-2, SVC-7), escalated at once when its type or
    its case's amount says so (SVC-3, ASV-5); audited."""
    errors: list[FieldError] = []
    order = await _order(session, data, errors)
    case = await _case(session, data, errors)
    if case is not None and order is not None and case.order_id != order.id:
        errors.append(FieldError("case_id", f"belongs to order {case.order_id}"))
    customer_id, hashed = await _customer(session, data, order, errors)
    named = None
    if data.assignee is not None:
        try:
            named = await _agent(session, data.assignee, "assignee")
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid("the ticket has errors; nothing was stored", errors=errors)
    at = clock.now()
    row = _row(data, actor, at)
    if row["contact"] is not None:  # RSK-3: sealed with the customer's own key
        row["contact"] = Owned(await crm.secret_of(session, customer_id), row["contact"])
    ticket = Ticket(
        **row,
        phone_hash=hashed,
        customer_id=customer_id,
        order_id=order.id if order is not None else (case.order_id if case is not None else None),
        case_id=None if case is None else case.id,
    )
    session.add(ticket)
    await session.flush()
    if data.body is not None:
        session.add(await _message(session, ticket, MessageKind.INBOUND, None, "customer", data.body, at))
    after = {
        "state": ticket.state,
        "type": ticket.type,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "category": ticket.category,
        "customer_id": ticket.customer_id,
        "order_id": ticket.order_id,
        "case_id": ticket.case_id,
    }
    audit.queue(session, audit.row(actor, "ticket.created", "ticket", ticket.id, None, after, at))
    events.queue(session, "ticket.created", ticket_subject(ticket.id), {"ticket_id": ticket.id, **after})
    # LOY-2: a member with a dedicated agent on duty gets them; else the desk's usual way (SVC-3).
    dedicated = None if named or customer_id is None else await tiers.dedicated_agent(session, customer_id)
    chosen = named or dedicated or await choose_agent(session)
    if chosen is not None:
        how = "chosen" if named else ("dedicated" if dedicated else policy.current().service.assignment)
        await _give(session, actor, ticket, chosen, how)
    await apply_clocks(session, ticket, TicketEvent.CREATED)
    if ticket.type in policy.current().service.escalate_types:
        await escalate(session, actor, ticket, Escalation.COMPLAINT, f"a {ticket.type} goes to a supervisor")
    elif case is not None and (why := over_authority(case, chosen)) is not None:
        await escalate(session, actor, ticket, Escalation.AUTHORITY, why)
    await session.flush()
    return ticket


def over_authority(case: Case, agent: User | None) -> str | None:
    """ASV-5: why the case's amount (its compensation, else its refund) is beyond what the agent
    may grant on their own; None when it is not."""
    amount = case.amount if case.amount is not None else case.refund_total
    role = Role.CUSTOMER_SERVICE if agent is None else agent.role
    limit = policy.authority(role).compensation_amount
    if limit is None or amount <= limit:
        return None
    return f"case {case.case_no}: {money.fmt(amount)} yuan, beyond the {money.fmt(limit)} a {role} may grant"


async def _message(
    session: AsyncSession,
    ticket: Ticket,
    kind: MessageKind,
    author_id: int | None,
    author: str,
    body: str,
    at: datetime,
) -> TicketMessage:
    """A message of `ticket`, sealed with its customer's own key (RSK-3)."""
    content = Owned(await crm.secret_of(session, ticket.customer_id), {"body": body})
    return TicketMessage(
        ticket_id=ticket.id, kind=kind, author_id=author_id, author=author, content=content, at=at
    )


# --- assignment and escalation (SVC-3) ----------------------------------------------------------


async def choose_agent(session: AsyncSession) -> User | None:
    """SVC-3: the on-duty agent a new ticket goes to, by the policy's way: round robin (the one
    after the cursor's last, the cursor's row locked so concurrent tickets take turns) or least
    loaded (fewest open tickets, the first by id on a tie). None when nobody is on duty."""
    people = await repository.staff_on_duty(session, Role.CUSTOMER_SERVICE)
    last = await repository.lock_cursor(session, CURSOR)
    if not people:
        return None
    match policy.current().service.assignment:
        case Assignment.ROUND_ROBIN:
            later = [person for person in people if last is not None and person.id > last]
            chosen = later[0] if later else people[0]
        case Assignment.LEAST_LOADED:
            loads = await repository.open_loads(session, [p.id for p in people])
            chosen = min(people, key=lambda person: (loads.get(person.id, 0), person.id))
    await repository.move_cursor(session, CURSOR, chosen.id)
    return chosen


async def _give(session: AsyncSession, actor: Actor, ticket: Ticket, user: User, how: str) -> None:
    previous = ticket.assignee_id
    ticket.assignee_id = user.id
    ticket.updated_at = clock.now()
    payload = {"ticket_id": ticket.id, "assignee": user.username, "how": how}
    events.queue(session, "ticket.assigned", ticket_subject(ticket.id), payload)
    before = None if previous is None else {"assignee_id": previous}
    audit.queue(
        session,
        audit.row(
            actor, "ticket.assigned", "ticket", ticket.id, before, {"assignee": user.username, "how": how}
        ),
    )


async def assign(session: AsyncSession, actor: Actor, ticket_id: int, username: str) -> Ticket:
    """Give the ticket to `username` by hand (audited). A resolved or closed ticket keeps its
    agent (409)."""
    ticket = await _open_ticket(session, ticket_id)
    user = await _agent(session, username, "user")
    if user.id != ticket.assignee_id:
        await _give(session, actor, ticket, user, "by_hand")
        await sla.set_owner(session, ticket_subject(ticket.id), user.id)
    await session.flush()
    return ticket


async def _supervisor(session: AsyncSession) -> User | None:
    """The on-duty supervisor holding the fewest open escalations (the first by id on a tie)."""
    people = await repository.staff_on_duty(session, Role.CS_SUPERVISOR)
    if not people:
        return None
    loads = await repository.open_loads(session, [p.id for p in people], "escalated_to")
    return min(people, key=lambda person: (loads.get(person.id, 0), person.id))


async def escalate(
    session: AsyncSession, actor: Actor, ticket: Ticket, why: Escalation, reason: str, *, alert: bool = True
) -> None:
    """SVC-3: the ticket goes to a supervisor (the least loaded on duty), saying why; audited,
    an outbox event `ticket.escalated`, and an alert to the supervisor unless the caller's own
    alert already tells them (a breach)."""
    at = clock.now()
    supervisor = await _supervisor(session)
    before = None if ticket.escalation is None else {"escalation": ticket.escalation}
    ticket.escalation = why
    ticket.escalation_reason = reason
    ticket.escalated_at = at
    ticket.escalated_to = None if supervisor is None else supervisor.id
    ticket.updated_at = at
    to = None if supervisor is None else supervisor.username
    after = {"escalation": why, "reason": reason, "to": to}
    audit.queue(session, audit.row(actor, "ticket.escalated", "ticket", ticket.id, before, after, at))
    subject = ticket_subject(ticket.id)
    events.queue(session, "ticket.escalated", subject, {"ticket_id": ticket.id, **after})
    if alert:
        found = alerts.row(
            ESCALATED_ALERT,
            subject,
            f"ticket {ticket.id} escalated ({why}): {reason}",
            f"{subject}:escalated:{at.isoformat()}",
        )
        if to is not None:
            found["owner"] = f"{USER_OWNER}{to}"
        await alerts.raise_many(session, [found])
    await session.flush()


async def escalate_by_hand(session: AsyncSession, actor: Actor, ticket_id: int, reason: str) -> Ticket:
    ticket = await _open_ticket(session, ticket_id)
    await escalate(session, actor, ticket, Escalation.MANUAL, reason)
    return ticket


async def escalate_on_breach(session: AsyncSession, ticket_id: int, kind: str) -> None:
    """SLA-2, SVC-3: a clock of the ticket breached: escalated unless it already is, or is done
    (the sweep's breach alert tells the supervisors; no second alert). The ticket is locked
    without waiting (`sla.SubjectBusy`)."""
    ticket = await repository.lock_if_free(session, ticket_id)
    if ticket is None:
        await get_ticket(session, ticket_id)
        raise sla.SubjectBusy(f"ticket {ticket_id} is being changed by another transaction")
    if ticket.escalated_at is not None or ticket.done:
        return
    await escalate(session, audit.SYSTEM, ticket, Escalation.BREACH, f"{kind} deadline passed", alert=False)


# --- the conversation and the states -----------------------------------------------------------


async def _open_ticket(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await get_ticket(session, ticket_id, lock=True)
    if ticket.done:
        raise TicketDone(f"ticket {ticket.id} is {ticket.state}; reopen it first")
    return ticket


async def add_message(session: AsyncSession, actor: Actor, ticket_id: int, data: MessageIn) -> TicketMessage:
    """An answer to the customer (the first one meets the response clock; a new ticket is open
    from then) or an internal note (no clock moves). The text is never in the audit trail."""
    ticket = await _open_ticket(session, ticket_id)
    at = clock.now()
    kind = MessageKind(data.kind)
    message = await _message(session, ticket, kind, actor.user_id, actor.name, data.body, at)
    session.add(message)
    before = {"state": ticket.state}
    if kind == MessageKind.OUTBOUND:
        if ticket.state == T.NEW:
            ticket.move_to(T.OPEN, at)
        ticket.first_response_at = ticket.first_response_at or at
        await apply_clocks(session, ticket, TicketEvent.OUTBOUND)
    else:
        await apply_clocks(session, ticket, TicketEvent.INTERNAL)
    ticket.updated_at = at
    await session.flush()
    after = {"state": ticket.state, "message_id": message.id, "kind": kind}
    action = "ticket.answered" if kind == MessageKind.OUTBOUND else "ticket.noted"
    await audit.record(session, audit.row(actor, action, "ticket", ticket.id, before, after, at))
    return message


async def inbound(session: AsyncSession, actor: Actor, ticket_id: int, data: InboundIn) -> TicketMessage:
    """The customer wrote (a chat connector, an email): a pending ticket is open again and its
    resolution clock resumes."""
    ticket = await _open_ticket(session, ticket_id)
    at = clock.now()
    message = await _message(session, ticket, MessageKind.INBOUND, None, "customer", data.body, at)
    session.add(message)
    before = {"state": ticket.state}
    if ticket.state == T.PENDING_CUSTOMER:
        ticket.move_to(T.OPEN, at)
    await apply_clocks(session, ticket, TicketEvent.INBOUND)
    ticket.updated_at = at
    await session.flush()
    after = {"state": ticket.state, "message_id": message.id, "kind": MessageKind.INBOUND}
    await audit.record(session, audit.row(actor, "ticket.inbound", "ticket", ticket.id, before, after, at))
    return message


STEPS: dict[TicketEvent, TicketState] = {
    TicketEvent.PENDED: T.PENDING_CUSTOMER,
    TicketEvent.RESOLVED: T.RESOLVED,
    TicketEvent.CLOSED: T.CLOSED,
    TicketEvent.REOPENED: T.OPEN,
}


async def step(session: AsyncSession, actor: Actor, ticket_id: int, event: TicketEvent) -> Ticket:
    """Pend, resolve, close or reopen the ticket (409 when TRANSITIONS forbids it; reopening
    only within `service.reopen_within_days` of its resolution), its clocks moved; audited."""
    ticket = await get_ticket(session, ticket_id, lock=True)
    at = clock.now()
    if event == TicketEvent.REOPENED:
        ended = ticket.resolved_at or ticket.closed_at
        if ticket.state in DONE_STATES and ended is not None:
            if at > reopen_deadline(ended, policy.current().service):
                days = policy.current().service.reopen_within_days
                raise ReopenWindowPassed(f"ticket {ticket.id} was resolved more than {days} days ago")
        elif ticket.state not in DONE_STATES:  # only a resolved or closed ticket is reopened
            raise InvalidTransition("ticket", ticket.state, T.OPEN)
    previous = ticket.move_to(STEPS[event], at)
    await apply_clocks(session, ticket, event)
    await session.flush()
    after = {"state": ticket.state}
    await audit.record(
        session, audit.row(actor, f"ticket.{event}", "ticket", ticket.id, {"state": previous}, after, at)
    )
    if event in (TicketEvent.RESOLVED, TicketEvent.CLOSED):
        events.queue(session, f"ticket.{event}", ticket_subject(ticket.id), {"ticket_id": ticket.id})
    return ticket


# --- reading ------------------------------------------------------------------------------------


async def get_ticket(session: AsyncSession, ticket_id: int, *, lock: bool = False) -> Ticket:
    ticket = await repository.get(session, ticket_id, lock=lock)
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket


def _late() -> Select[tuple[int]]:
    """The ids of the tickets with a late clock (past its deadline, its goal not reached), as a
    query the ticket queries nest: however many are late, none is read into Python."""
    return sla.late_subject_ids(clock.now(), SUBJECT_PREFIX)


async def late_among(session: AsyncSession, ticket_ids: Collection[int]) -> set[int]:
    """Which of `ticket_ids` have a late clock now."""
    return await repository.among(session, ticket_ids, _late())


async def list_tickets(
    session: AsyncSession,
    *,
    type_: str | None = None,
    state: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    escalated: bool = False,
    late: bool = False,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Ticket], int]:
    """A page of tickets, late ones first, then newest first."""
    assignee_id = None
    if assignee is not None:
        try:
            assignee_id = (await auth.find_user(session, assignee)).id
        except NotFound:
            raise Invalid("no such user", errors=[FieldError("assignee", f"no user {assignee!r}")]) from None
    overdue = _late()
    return await repository.page(
        session,
        type_=type_,
        state=state,
        assignee_id=assignee_id,
        unassigned=unassigned,
        escalated=escalated,
        ids=overdue if late else None,
        late_first=overdue,
        offset=(page - 1) * page_size,
        limit=page_size,
    )


async def by_ids(session: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, Ticket]:
    return await repository.by_ids(session, set(ticket_ids))


async def messages(session: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    return await repository.messages(session, ticket_id)


async def usernames(session: AsyncSession, user_ids: Sequence[int | None]) -> dict[int, str]:
    return await repository.usernames(session, {i for i in user_ids if i is not None})


async def counts(session: AsyncSession) -> dict[str, int]:
    return await repository.counts(session)
