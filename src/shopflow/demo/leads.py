"""The demo's sales desk (CRM-2..4): two sales people on duty under a manager, and leads in every
grade and state: one A lead nobody has called for three days (late, red on the board), fresh
ones, followed-up ones, a lost one, and one converted by its phone's order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import auth, clock
from shopflow.core.audit import SYSTEM, Actor
from shopflow.crm.leads import service
from shopflow.crm.leads.models import Lead, Outcome
from shopflow.crm.leads.schemas import FollowUpIn, LeadIn
from shopflow.orders.service import queries

MANAGER = "zhao-manager"
SALES = ("wang-sales", "li-sales")
QUOTE = {"quote_asked": True, "quantity": 200, "budget": "50000.00"}  # grade A
# (name, phone, needs, signals, source, hours before now, follow-up outcomes in order)
DESK: tuple[tuple[str, str, list[str], dict[str, Any], str, int, tuple[Outcome, ...]], ...] = (
    ("陈先生", "13911110001", ["办公设备"], QUOTE, "form", 96, ()),  # A, never called: late
    ("林女士", "13911110002", ["母婴用品"], {}, "form", 1, ()),  # C, new
    ("黄经理", "13911110003", ["会议桌", "办公设备"], {"quantity": 150}, "phone", 30, (Outcome.REACHED,)),
    ("周总", "13911110004", ["工装"], QUOTE, "fair", 20, (Outcome.NO_ANSWER, Outcome.QUALIFIED)),
    ("吴女士", "13911110005", ["母婴用品"], {"budget": "3000.00"}, "chat", 50, (Outcome.LOST,)),
)


async def _taken_at(session: AsyncSession, at: datetime, data: LeadIn) -> Lead:
    with clock.use(clock.FakeClock(at)):
        return (await service.submit(session, SYSTEM, data)).lead


async def open_desk(session: AsyncSession, now: datetime) -> int:
    """The sales staff and the desk's leads; how many leads were taken in."""
    boss = await auth.add_user(session, SYSTEM, MANAGER, "manager")
    for name in SALES:
        (await auth.add_user(session, SYSTEM, name, "sales")).manager_id = boss.id
    await session.flush()
    seller = Actor(user_id=None, name=SALES[0], role="sales")
    for name, phone, needs, signals, source, hours, outcomes in DESK:
        created = now - timedelta(hours=hours)
        data = LeadIn.model_validate(
            {"name": name, "phone": phone, "need_tags": needs, "source": source, **signals}
        )
        lead = await _taken_at(session, created, data)
        for n, outcome in enumerate(outcomes, start=1):
            with clock.use(clock.FakeClock(created + timedelta(hours=n))):
                follow_up = FollowUpIn(channel="phone", outcome=outcome, next_step="发送产品目录")  # type: ignore[arg-type]
                await service.log_follow_up(session, seller, lead.id, follow_up)
    recent = await queries.delivered_since(session, now - timedelta(days=14))
    if not recent:
        return len(DESK)
    order = await queries.get_order(session, recent[0].id)
    buyer = order.contact["customer"]
    data = LeadIn.model_validate({"name": buyer["name"], "phone": buyer["phone"], "need_tags": ["办公设备"]})
    lead = await _taken_at(session, order.created_at - timedelta(hours=6), data)
    await service.convert(session, lead, order.id, order.created_at)
    return len(DESK) + 1
