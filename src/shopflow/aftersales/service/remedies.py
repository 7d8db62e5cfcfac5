"""Exchange and repair (ASV-6): the replacement order placed through intake, a repair
recorded, and a case closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales.models import Case
from shopflow.aftersales.service.steps import C, get_case, notice, release_order, step
from shopflow.core import clock, events, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import InvalidTransition
from shopflow.orders.models import EXCHANGE_CHANNEL, OrderClock, order_subject
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake, lifecycle, queries


async def exchange(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-6: the replacement order (channel `exchange`, lines at 0, nothing to pay) is placed
    through intake, reserving stock like any order, settled at once and so ready to pick; its
    ship clock is the policy's replacement time."""
    case = await get_case(session, case_id, lock=True)
    at = clock.now()
    if not case.can_move_to(C.EXCHANGED):
        raise InvalidTransition("case", case.state, C.EXCHANGED)
    order = await queries.get_order(session, case.order_id)
    body = OrderIn.model_validate(
        {
            "channel": EXCHANGE_CHANNEL,
            "channel_order_no": case.case_no,
            "customer": order.contact["customer"],
            "shipping_address": order.contact["shipping_address"],
            "lines": [
                {"sku": line.sku_code, "quantity": line.quantity, "unit_price": "0"} for line in case.lines
            ],
            "note": f"replacement for {order.order_no}, case {case.case_no}",
        }
    )
    placed = (await intake.place_order(session, actor, body, None, replacement=True)).order
    case.replacement_order_id = placed.id
    await step(session, actor, case, C.EXCHANGED, at, replacement_order_id=placed.id)
    if placed.status == "confirmed":
        await lifecycle.mark_paid(session, SYSTEM, placed.id)
        ship_by = at + timedelta(hours=policy.current().aftersales.replacement_ship_hours)
        await sla.restart(session, order_subject(placed.id), OrderClock.SHIP, ship_by)
    await release_order(session, case)
    await events.record(
        session,
        "aftersales.exchanged",
        order_subject(case.order_id),
        notice(case, replacement_order_id=placed.id),
    )
    return case


async def repair(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await get_case(session, case_id, lock=True)
    await step(session, actor, case, C.REPAIRED, clock.now())
    await release_order(session, case)
    await events.record(session, "aftersales.repaired", order_subject(case.order_id), notice(case))
    return case


async def close(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await get_case(session, case_id, lock=True)
    await step(session, actor, case, C.CLOSED, clock.now())
    await release_order(session, case)
    await events.record(session, "aftersales.closed", order_subject(case.order_id), notice(case))
    return case
