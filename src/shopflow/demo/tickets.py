"""The demo's service desk (SVC-1..3, SVC-7): two agents and a supervisor on duty, and tickets in
every state: an email nobody has answered for five hours (late: the first sweep escalates it),
a phone complaint escalated at once and answered, a chat waiting for the customer, a resolved
feedback, a closed inquiry and a fresh negative review on its one-hour clock; then the customer
care of SVC-5, SVC-6 and SVC-8 (`care_for_customers`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import auth, clock
from shopflow.core.audit import SYSTEM, Actor
from shopflow.crm import service as crm
from shopflow.crm.schemas import CustomerIn
from shopflow.orders.service import queries
from shopflow.service import care, service, surveys
from shopflow.service.models import SurveyKind, TicketEvent
from shopflow.service.schemas import MessageIn, SurveyIn, TicketIn

SUPERVISOR = "sun-supervisor"
AGENTS = ("liu-service", "zhou-service")
# (ticket, minutes before now, then the steps: ("answer", text) or an event, a minute apart)
DESK: tuple[tuple[dict[str, Any], int, tuple[tuple[str, str] | TicketEvent, ...]], ...] = (
    ({"type": "inquiry", "channel": "email", "subject": "发票怎么开", "body": "请问发票如何开具？"}, 300, ()),
    (
        {
            "type": "complaint",
            "channel": "phone",
            "category": "quality",
            "subject": "杯子有裂纹",
            "body": "收到就有裂纹",
        },
        90,
        (("answer", "非常抱歉，主管会尽快联系您"),),
    ),
    (
        {
            "type": "inquiry",
            "channel": "chat",
            "category": "logistics",
            "subject": "什么时候发货",
            "body": "下单两天了",
        },
        120,
        (("answer", "请提供订单号"), TicketEvent.PENDED),
    ),
    (
        {
            "type": "feedback",
            "channel": "email",
            "category": "service",
            "subject": "客服很耐心",
            "body": "谢谢小刘",
        },
        600,
        (("answer", "感谢您的反馈"), TicketEvent.RESOLVED),
    ),
    (
        {"type": "inquiry", "channel": "marketplace", "subject": "有没有蓝色", "body": "这款有蓝色吗"},
        1440,
        (("answer", "蓝色已售罄"), TicketEvent.RESOLVED, TicketEvent.CLOSED),
    ),
    (
        {
            "type": "negative_review",
            "channel": "review_site",
            "subject": "一星：包装破损",
            "body": "包装破了",
        },
        10,
        (),
    ),
)


async def open_desk(session: AsyncSession, now: datetime) -> int:
    """The desk's staff and tickets (the complaint linked to a recent order); how many tickets."""
    for name in AGENTS:
        await auth.add_user(session, SYSTEM, name, "customer_service")
    await auth.add_user(session, SYSTEM, SUPERVISOR, "cs_supervisor")
    await session.flush()
    recent = await queries.delivered_since(session, now - timedelta(days=14))
    for body, minutes, steps in DESK:
        at = now - timedelta(minutes=minutes)
        data = dict(body)
        if data["type"] == "complaint" and recent:
            data["order_id"] = recent[0].id
        with clock.use(clock.FakeClock(at)):
            ticket = await service.create_ticket(session, SYSTEM, TicketIn.model_validate(data))
        names = await service.usernames(session, [ticket.assignee_id])
        agent = Actor(
            user_id=ticket.assignee_id,
            name=names.get(ticket.assignee_id or 0, AGENTS[0]),
            role="customer_service",
        )
        for n, step in enumerate(steps, start=1):
            with clock.use(clock.FakeClock(at + timedelta(minutes=n) - timedelta(seconds=50))):
                if isinstance(step, TicketEvent):
                    await service.step(session, agent, ticket.id, step)
                else:
                    await service.add_message(session, agent, ticket.id, MessageIn(body=step[1]))
    return len(DESK)


async def care_for_customers(session: AsyncSession, now: datetime) -> int:
    """SVC-5, SVC-6, SVC-8: the surveys due are sent, a few answered (the resolved feedback's 5,
    an order's 4, another's 2 with its follow-up complaint); a customer born today greeted; the
    call-back tasks due, one of them done. How many surveys were answered."""
    with clock.use(clock.FakeClock(now)):
        await crm.create_customer(
            session,
            SYSTEM,
            CustomerIn(name="周小芳", phones=["13900139001"], email="zhou@example.cn", birthday=_born(now)),
        )
        await surveys.schedule(session)
        while await care.greet(session):
            pass
        sent = {
            kind: found[0] for kind in SurveyKind if (found := await surveys.unanswered(session, kind, 1))
        }
        answers = [
            (SurveyKind.TICKET, SurveyIn(score=5, comment="小刘很耐心")),
            (SurveyKind.SATISFACTION, SurveyIn(score=2, comment="快递太慢，外箱也压坏了")),
            (SurveyKind.FEEDBACK, SurveyIn(score=4)),
        ]
        answered = 0
        for kind, answer in answers:
            if kind in sent:
                await surveys.answer(session, surveys.token(sent[kind]), answer)
                answered += 1
        tasks = await care.callbacks(session, limit=1)
        if tasks:
            agent = Actor(user_id=None, name=AGENTS[0], role="customer_service")
            await care.mark_callback(session, agent, tasks[0].id, done=True)
    return answered


def _born(now: datetime) -> date:
    today = now.astimezone(clock.store_zone()).date()
    return date(today.year - 30, today.month, 28 if (today.month, today.day) == (2, 29) else today.day)
