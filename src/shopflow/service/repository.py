"""Every query of the service desk."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import db
from shopflow.core.auth import User
from shopflow.core.roles import Role
from shopflow.service.models import DONE_STATES, AssignmentCursor, Ticket, TicketMessage


async def get(session: AsyncSession, ticket_id: int, *, lock: bool = False) -> Ticket | None:
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def lock_if_free(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket locked and read afresh; None if there is none or another transaction holds it."""
    stmt = (
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


async def staff_on_duty(session: AsyncSession, role: Role) -> list[User]:
    """The active, on-duty members of `role`, in id order."""
    stmt = (
        select(User).where(User.role == role, User.active.is_(True), User.on_duty.is_(True)).order_by(User.id)
    )
    return list((await session.scalars(stmt)).all())


async def lock_cursor(session: AsyncSession, name: str) -> int | None:
    """The cursor's last user, its row locked until the transaction ends (one assignment at a
    time, so concurrent tickets take turns)."""
    await db.insert_rows(
        session, AssignmentCursor, [{"name": name, "last_user_id": None}], skip_conflicts=True
    )
    stmt = select(AssignmentCursor.last_user_id).where(AssignmentCursor.name == name).with_for_update()
    return await session.scalar(stmt)


async def move_cursor(session: AsyncSession, name: str, user_id: int) -> None:
    await session.execute(
        update(AssignmentCursor).where(AssignmentCursor.name == name).values(last_user_id=user_id)
    )


async def open_loads(
    session: AsyncSession, user_ids: Collection[int], column: str = "assignee_id"
) -> dict[int, int]:
    """How many tickets not resolved or closed each of `user_ids` holds (as assignee, or as the
    supervisor escalated to)."""
    if not user_ids:
        return {}
    owner = getattr(Ticket, column)
    stmt = (
        select(owner, func.count())
        .where(owner.in_(user_ids), Ticket.state.not_in(list(DONE_STATES)))
        .group_by(owner)
    )
    return {int(user): int(n) for user, n in (await session.execute(stmt)).tuples()}


async def page(
    session: AsyncSession,
    *,
    type_: str | None,
    state: str | None,
    assignee_id: int | None,
    unassigned: bool,
    escalated: bool,
    ids: Select[tuple[int]] | None,
    late_first: Select[tuple[int]],
    offset: int,
    limit: int,
) -> tuple[list[Ticket], int]:
    """A page of tickets by the filters given (`ids`: only those the query selects); the ids
    `late_first` selects first, then newest first."""
    conditions = []
    if type_ is not None:
        conditions.append(Ticket.type == type_)
    if state is not None:
        conditions.append(Ticket.state == state)
    if assignee_id is not None:
        conditions.append(Ticket.assignee_id == assignee_id)
    if unassigned:
        conditions.append(Ticket.assignee_id.is_(None))
    if escalated:
        conditions.append(Ticket.escalated_at.is_not(None))
        conditions.append(Ticket.state.not_in(list(DONE_STATES)))
    if ids is not None:
        conditions.append(Ticket.id.in_(ids))
    total = await session.scalar(select(func.count()).select_from(Ticket).where(*conditions))
    order = [case((Ticket.id.in_(late_first), 0), else_=1), Ticket.id.desc()]
    stmt = select(Ticket).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def among(session: AsyncSession, ticket_ids: Collection[int], chosen: Select[tuple[int]]) -> set[int]:
    """Which of `ticket_ids` the query `chosen` selects."""
    if not ticket_ids:
        return set()
    stmt = select(Ticket.id).where(Ticket.id.in_(ticket_ids), Ticket.id.in_(chosen))
    return set((await session.scalars(stmt)).all())


async def by_ids(session: AsyncSession, ticket_ids: Collection[int]) -> dict[int, Ticket]:
    if not ticket_ids:
        return {}
    return {t.id: t for t in (await session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))).all()}


async def messages(session: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    stmt = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
    return list((await session.scalars(stmt)).all())


async def usernames(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    stmt = select(User.id, User.username).where(User.id.in_(user_ids))
    return dict((await session.execute(stmt)).tuples().all())


async def counts(session: AsyncSession) -> dict[str, int]:
    """How many tickets in each state."""
    stmt = select(Ticket.state, func.count()).group_by(Ticket.state)
    return {s: int(n) for s, n in (await session.execute(stmt)).tuples()}


async def staff(session: AsyncSession, role: Role) -> list[User]:
    """The active members of `role`, on duty or not, in id order."""
    stmt = select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
    return list((await session.scalars(stmt)).all())
