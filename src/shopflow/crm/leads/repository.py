"""Every query of the leads domain."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import db
from shopflow.core.auth import User
from shopflow.core.roles import Role
from shopflow.crm.leads.models import CLOSED_STATES, ConversionMark, FollowUp, Lead
from shopflow.orders.models import Order


async def get(session: AsyncSession, lead_id: int, *, lock: bool = False) -> Lead | None:
    stmt = select(Lead).where(Lead.id == lead_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def insert_open(session: AsyncSession, row: dict[str, Any]) -> int | None:
    """INSERT the lead unless its phone has an open lead already (the unique `open_phone`):
    its id, or None when another lead holds the phone."""
    stored = await db.insert_rows(session, Lead, [row], returning="id", skip_conflicts=True)
    return int(stored[0]) if stored else None


async def open_of_phone(session: AsyncSession, phone_hash: str) -> Lead | None:
    stmt = select(Lead).where(Lead.open_phone == phone_hash).with_for_update()
    return (await session.scalars(stmt)).first()


async def page(
    session: AsyncSession,
    grade: str | None,
    state: str | None,
    owner_id: int | None,
    late: Select[tuple[int]] | None,
    offset: int,
    limit: int,
) -> tuple[list[Lead], int]:
    """A page of leads, newest first, and how many there are; `late`: only the ids it selects."""
    conditions = []
    if grade is not None:
        conditions.append(Lead.grade == grade)
    if state is not None:
        conditions.append(Lead.state == state)
    if owner_id is not None:
        conditions.append(Lead.owner_id == owner_id)
    if late is not None:
        conditions.append(Lead.id.in_(late))
    total = await session.scalar(select(func.count()).select_from(Lead).where(*conditions))
    stmt = select(Lead).where(*conditions).order_by(Lead.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def among(session: AsyncSession, lead_ids: Collection[int], chosen: Select[tuple[int]]) -> set[int]:
    """Which of `lead_ids` the query `chosen` selects."""
    if not lead_ids:
        return set()
    stmt = select(Lead.id).where(Lead.id.in_(lead_ids), Lead.id.in_(chosen))
    return set((await session.scalars(stmt)).all())


async def follow_ups(session: AsyncSession, lead_id: int) -> list[tuple[FollowUp, str | None]]:
    stmt = (
        select(FollowUp, User.username)
        .outerjoin(User, User.id == FollowUp.created_by)
        .where(FollowUp.lead_id == lead_id)
        .order_by(FollowUp.at.desc(), FollowUp.id.desc())
    )
    return [(found, name) for found, name in (await session.execute(stmt)).tuples()]


async def sales_on_duty(session: AsyncSession) -> list[User]:
    """The sales staff who take leads now (CRM-4), in id order."""
    stmt = (
        select(User)
        .where(User.role == Role.SALES, User.active.is_(True), User.on_duty.is_(True))
        .order_by(User.id)
    )
    return list((await session.scalars(stmt)).all())


async def last_owner(session: AsyncSession, grade: str) -> int | None:
    """The owner of the newest assigned lead of `grade`: where round robin goes on from."""
    stmt = (
        select(Lead.owner_id)
        .where(Lead.grade == grade, Lead.owner_id.is_not(None))
        .order_by(Lead.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def open_loads(session: AsyncSession, user_ids: Collection[int]) -> dict[int, int]:
    """How many open leads each of `user_ids` owns."""
    if not user_ids:
        return {}
    stmt = (
        select(Lead.owner_id, func.count())
        .where(Lead.owner_id.in_(user_ids), Lead.state.not_in(list(CLOSED_STATES)))
        .group_by(Lead.owner_id)
    )
    return {int(owner): int(n) for owner, n in (await session.execute(stmt)).tuples()}


async def usernames(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    stmt = select(User.id, User.username).where(User.id.in_(user_ids))
    return dict((await session.execute(stmt)).tuples().all())


async def conversion_mark(session: AsyncSession, name: str) -> int:
    """The last order id the sweep `name` has read, its row locked (one sweep at a time)."""
    await db.insert_rows(session, ConversionMark, [{"name": name, "last_order_id": 0}], skip_conflicts=True)
    stmt = select(ConversionMark.last_order_id).where(ConversionMark.name == name).with_for_update()
    return int(await session.scalar(stmt) or 0)


async def set_conversion_mark(session: AsyncSession, name: str, last_order_id: int) -> None:
    await session.execute(
        update(ConversionMark).where(ConversionMark.name == name).values(last_order_id=last_order_id)
    )


async def orders_after(session: AsyncSession, after_id: int, limit: int) -> list[tuple[int, str, Any]]:
    """Orders newer than `after_id` (id, phone hash, created_at), oldest first; imported history
    converts no lead."""
    stmt = (
        select(Order.id, Order.phone_hash, Order.created_at)
        .where(Order.id > after_id, Order.imported_at.is_(None))
        .order_by(Order.id)
        .limit(limit)
    )
    return [(int(i), h, at) for i, h, at in (await session.execute(stmt)).tuples()]


async def open_by_phones(session: AsyncSession, hashes: Collection[str]) -> list[Lead]:
    if not hashes:
        return []
    stmt = select(Lead).where(Lead.open_phone.in_(hashes)).order_by(Lead.id).with_for_update()
    return list((await session.scalars(stmt)).all())


async def counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """How many leads of each (grade, state)."""
    stmt = select(Lead.grade, Lead.state, func.count()).group_by(Lead.grade, Lead.state)
    return {(g, s): int(n) for g, s, n in (await session.execute(stmt)).tuples()}
