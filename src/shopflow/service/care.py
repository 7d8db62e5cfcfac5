"""Customer care (SVC-5, SVC-8): birthday and holiday greetings sent by the worker through the
outbox (`care.greeting`), once per customer, occasion and year; call-back tasks (after a
resolution, and every `service.callback_every_days` for customers who have ordered), done and
undone by agents; bought-together recommendations from a customer's purchase history."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, auth, clock, events, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, NotFound
from shopflow.crm import service as crm
from shopflow.loyalty import points
from shopflow.service import care_repository as repository
from shopflow.service.errors import CallbackNotFound
from shopflow.service.models import (
    BIRTHDAY,
    CallbackReason,
    CallbackTask,
    Greeting,
    occasions_on,
    periodic_key,
)

GREETING_EVENT = "care.greeting"


def _birthday(personal: dict[str, Any]) -> date | None:
    given = personal.get("birthday")
    try:
        return date.fromisoformat(given) if isinstance(given, str) else None
    except ValueError:
        return None


async def greet(session: AsyncSession) -> int:
    """The worker's sweep: the next batch (`service.care_batch`) of customers the store's day has
    not gone through yet: greetings for their birthdays and the policy's holidays today, and a
    periodic call-back task for those who have ordered; how many customers it went through (0
    once the day is done). Unique keys keep each greeting and task single however often it runs."""
    rules = policy.current().service
    at = clock.now()
    day = clock.today()
    last = await repository.sweep_cursor(session, day)
    customers = await repository.customers_after(session, last, rules.care_batch)
    if not customers:
        return 0
    greetings: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for customer in customers:
        for occasion in occasions_on(day, _birthday(customer.personal), rules.holidays):
            greetings.append(
                {"customer_id": customer.id, "occasion": occasion, "year": day.year, "sent_at": at}
            )
        if customer.order_count > 0:
            tasks.append(
                {
                    "key": periodic_key(customer.id, day, rules.callback_every_days),
                    "reason": CallbackReason.PERIODIC,
                    "ticket_id": None,
                    "customer_id": customer.id,
                    "assignee_id": None,
                    "due_at": at,
                    "created_at": at,
                }
            )
    sent: list[Greeting] = await repository.insert_new(session, Greeting, greetings)
    await points.birthday_bonus(session, [g.customer_id for g in sent if g.occasion == BIRTHDAY])  # LOY-1
    for greeting in sent:
        payload = {
            "greeting_id": greeting.id,
            "customer_id": greeting.customer_id,
            "occasion": greeting.occasion,
        }
        events.queue(session, GREETING_EVENT, f"customer:{greeting.customer_id}", payload)
        audit.queue(
            session,
            audit.row(audit.SYSTEM, GREETING_EVENT, "customer", greeting.customer_id, None, payload, at),
        )
    stored: list[CallbackTask] = await repository.insert_new(session, CallbackTask, tasks)
    for task in stored:
        after = {"reason": task.reason, "customer_id": task.customer_id}
        audit.queue(
            session, audit.row(audit.SYSTEM, "callback.created", "callback", task.id, None, after, at)
        )
    await crm.review_tiers(session, [c.id for c in customers])  # LOY-2: spend entering or leaving the window
    await repository.move_sweep(session, day, customers[-1].id)
    await session.flush()
    return len(customers)


def occasion_name(occasion: str, language: str) -> str:
    """An occasion's name in `language` (zh_CN or en): a policy holiday's, or the birthday's."""
    for holiday in policy.current().service.holidays:
        if holiday.occasion == occasion:
            return holiday.zh if language == "zh_CN" else holiday.en
    return "生日" if language == "zh_CN" else "birthday"


async def greetings_of(session: AsyncSession, customer_id: int) -> list[Greeting]:
    return await repository.greetings_of(session, customer_id)


# --- call-back tasks ----------------------------------------------------------------------------


async def callbacks(
    session: AsyncSession,
    *,
    assignee: str | None = None,
    ticket_id: int | None = None,
    open_only: bool = True,
    limit: int = 200,
) -> list[CallbackTask]:
    """Call-back tasks, the earliest due first: an agent's (`assignee`), a ticket's, open ones."""
    assignee_id = None
    if assignee is not None:
        try:
            assignee_id = (await auth.find_user(session, assignee)).id
        except NotFound:
            raise Invalid("no such user", errors=[FieldError("assignee", f"no user {assignee!r}")]) from None
    return await repository.callbacks(
        session, assignee_id=assignee_id, ticket_id=ticket_id, open_only=open_only, limit=limit
    )


async def mark_callback(session: AsyncSession, actor: Actor, task_id: int, *, done: bool) -> CallbackTask:
    """A call-back done (by the actor, now) or undone again; audited. Marking it as it is changes
    nothing."""
    task = await repository.callback(session, task_id, lock=True)
    if task is None:
        raise CallbackNotFound(f"no call-back task {task_id}")
    if (task.done_at is not None) == done:
        return task
    at = clock.now()
    before = {"done_at": None if task.done_at is None else task.done_at.isoformat()}
    task.done_at = at if done else None
    task.done_by = actor.user_id if done else None
    after = {"done_at": None if task.done_at is None else task.done_at.isoformat()}
    action = "callback.done" if done else "callback.undone"
    await audit.record(session, audit.row(actor, action, "callback", task.id, before, after, at))
    await session.flush()
    return task


async def recommendations(session: AsyncSession, customer_id: int | None) -> list[tuple[str, str, int]]:
    """SVC-8: what to offer the customer: the SKUs most often bought together with theirs
    (`service.recommendations` of them), best first; none without a customer."""
    limit = policy.current().service.recommendations
    if customer_id is None or limit == 0:
        return []
    return await repository.bought_together(session, customer_id, limit)
