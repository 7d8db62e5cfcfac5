"""What every after-sales use case shares: the case read and locked, its step written and
audited (AUD-1), its notice, the requested lines counted by SKU, the refund clock's deadline; and
the order's close clock, which waits while a case is open (ORD-7)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import repository
from shopflow.aftersales.errors import CaseNotFound
from shopflow.aftersales.models import Case, CaseState
from shopflow.aftersales.schemas import CaseLineIn, InspectLineIn
from shopflow.core import audit, clock, policy, sla
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError
from shopflow.orders.models import OrderClock, aftersales_closes, order_subject
from shopflow.orders.service import lifecycle, queries

C = CaseState


def state_row(actor: Actor, case: Case, before: str | None, at: datetime, **extra: Any) -> dict[str, Any]:
    """The audit row of a case's step (AUD-1): its state before and after, and what the step decided."""
    return audit.row(
        actor,
        f"case.{case.state}",
        "case",
        case.id,
        None if before is None else {"state": before},
        {"state": case.state, **extra},
        at,
    )


def notice(case: Case, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "case_no": case.case_no,
        "order_id": case.order_id,
        "type": case.type,
        **extra,
    }


def refund_deadline(at: datetime) -> datetime:
    rules = policy.current()
    return clock.add_working_days(
        at, rules.aftersales.refund_max_working_days, rules.calendar.holidays, rules.calendar.weekend
    )


def asked(
    lines: Sequence[CaseLineIn | InspectLineIn], known: Collection[str], where: str
) -> tuple[list[FieldError], Counter[str]]:
    """The requested lines' quantities by SKU, and an error for each line naming a SKU not
    `known` ("SKU-9 is not on order SF…")."""
    errors = [
        FieldError(f"lines[{i}].sku", f"{ask.sku} is not {where}")
        for i, ask in enumerate(lines)
        if ask.sku not in known
    ]
    asked = Counter[str]()
    for ask in lines:
        asked[ask.sku] += ask.quantity
    return errors, asked


async def get_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> Case:
    case = await repository.get(session, case_id, lock=lock)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


async def step(
    session: AsyncSession, actor: Actor, case: Case, target: CaseState, at: datetime, **extra: Any
) -> str:
    """Move the locked case to `target` (409 if not allowed) and audit it; the state left."""
    previous = case.move_to(target, at)
    await session.flush()
    audit.queue(session, state_row(actor, case, previous, at, **extra))
    return previous


def side_step(
    session: AsyncSession, actor: Actor, case: Case, action: str, at: datetime, **extra: Any
) -> None:
    """Audit a step that keeps the case's state: a quality replacement's return (AUD-1)."""
    state = {"state": case.state}
    audit.queue(session, audit.row(actor, action, "case", case.id, state, {**state, **extra}, at))


async def release_order(session: AsyncSession, case: Case) -> None:
    """ORD-7: the case no longer holds its order; the last one to end lets the order's close
    clock run again, to the window's end or now if that has passed."""
    others = [c for c in await repository.of_order(session, case.order_id) if c.is_open and c.id != case.id]
    if others or case.is_open:
        return
    subject = order_subject(case.order_id)
    paused = [c for c in await sla.of_subject(session, subject) if c.kind == OrderClock.AFTERSALES]
    if not paused or paused[0].state != sla.ClockState.PAUSED:
        return
    order = await queries.get_order(session, case.order_id)
    closes = aftersales_closes(order.delivered_at or clock.now(), policy.current().aftersales)
    await sla.restart(session, subject, OrderClock.AFTERSALES, max(closes, clock.now()))


async def close_order_when_free(session: AsyncSession, order_id: int) -> None:
    """ORD-7's close action: an order with an open case does not close; its clock waits
    (paused) until the last case ends. Otherwise the order closes as the orders domain closes it."""
    if any(case.is_open for case in await repository.of_order(session, order_id)):
        subject = order_subject(order_id)
        await sla.restart(session, subject, OrderClock.AFTERSALES, clock.now())
        await sla.pause(session, subject, OrderClock.AFTERSALES)
        return
    await lifecycle.close_after_aftersales(session, order_id)
