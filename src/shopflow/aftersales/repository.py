"""Every query of the after-sales domain."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.aftersales.models import VOID_STATES, Case, CaseLine, ReturnEvent, ReturnShipment
from shopflow.core.db import insert_for
from shopflow.orders.models import Order


async def get(session: AsyncSession, case_id: int, *, lock: bool = False) -> Case | None:
    stmt = select(Case).options(selectinload(Case.lines)).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update(of=Case)
    return (await session.scalars(stmt)).first()


async def held_by_line(session: AsyncSession, order_id: int) -> dict[int, int]:
    """Units of each order line that the order's live cases (not rejected nor cancelled) hold."""
    stmt = (
        select(CaseLine.order_line_id, func.sum(CaseLine.quantity))
        .join(Case, Case.id == CaseLine.case_id)
        .where(Case.order_id == order_id, Case.state.not_in(list(VOID_STATES)))
        .group_by(CaseLine.order_line_id)
    )
    return {line_id: int(quantity) for line_id, quantity in (await session.execute(stmt)).all()}


async def of_order(session: AsyncSession, order_id: int) -> list[Case]:
    stmt = select(Case).where(Case.order_id == order_id).order_by(Case.id)
    return list((await session.scalars(stmt)).all())


async def of_customer(session: AsyncSession, customer_id: int, limit: int) -> list[Case]:
    """The cases of the customer's orders, the newest first."""
    orders = select(Order.id).where(Order.customer_id == customer_id)
    stmt = select(Case).where(Case.order_id.in_(orders)).order_by(Case.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def of_orders(session: AsyncSession, order_ids: Collection[int]) -> list[Case]:
    if not order_ids:
        return []
    stmt = select(Case).where(Case.order_id.in_(order_ids)).order_by(Case.id)
    return list((await session.scalars(stmt)).all())


async def page(
    session: AsyncSession,
    state: str | None,
    case_type: str | None,
    order_id: int | None,
    late: Select[tuple[int]] | None,
    offset: int,
    limit: int,
) -> tuple[list[Case], int]:
    """A page of cases, newest first, and how many there are; `late`: only the ids it selects."""
    conditions = []
    if state is not None:
        conditions.append(Case.state == state)
    if case_type is not None:
        conditions.append(Case.type == case_type)
    if order_id is not None:
        conditions.append(Case.order_id == order_id)
    if late is not None:
        conditions.append(Case.id.in_(late))
    total = await session.scalar(select(func.count()).select_from(Case).where(*conditions))
    stmt = (
        select(Case)
        .options(selectinload(Case.lines))
        .where(*conditions)
        .order_by(Case.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def return_shipment(session: AsyncSession, case_id: int) -> ReturnShipment | None:
    stmt = select(ReturnShipment).where(ReturnShipment.case_id == case_id)
    return (await session.scalars(stmt)).first()


async def return_shipments_by_tracking(
    session: AsyncSession, numbers: Collection[str]
) -> list[ReturnShipment]:
    """The return shipments with these tracking numbers (one parcel may carry several cases' goods)."""
    stmt = (
        select(ReturnShipment)
        .where(ReturnShipment.tracking_no.in_(list(numbers)))
        .order_by(ReturnShipment.case_id)
    )
    return list((await session.scalars(stmt)).all())


async def insert_return_event(session: AsyncSession, values: dict[str, object]) -> int | None:
    """None when the same event (shipment, time, status) is stored already."""
    stmt = (
        insert_for(session, ReturnEvent)
        .values(values)
        .on_conflict_do_nothing(index_elements=["shipment_id", "occurred_at", "status"])
        .returning(ReturnEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def return_events(session: AsyncSession, shipment_id: int) -> list[ReturnEvent]:
    """The return shipment's tracking timeline, oldest first."""
    stmt = (
        select(ReturnEvent)
        .where(ReturnEvent.shipment_id == shipment_id)
        .order_by(ReturnEvent.occurred_at, ReturnEvent.id)
    )
    return list((await session.scalars(stmt)).all())
