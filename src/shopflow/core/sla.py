"""SLA clocks shared by every domain (SLA-1..3): start, pause, resume, stop; due queries.

A clock belongs to a subject ("order:42", "shipment:7") and has a kind ("order.pay"). At most
one clock of a kind runs per subject; starting it again is a no-op. The worker's sweep finds
running clocks past their deadline through a partial index on `deadline`, so a sweep over a
million running clocks reads only the due ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import alerts, clock, policy
from shopflow.core.db import Base, BigId, UTCDateTime, insert_for


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class SlaClock(Base):
    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("subject", "kind"),
        Index(
            "ix_sla_clocks_due",
            "deadline",
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def after(start: datetime, *, working_days: int = 0, **calendar_time: float) -> datetime:
    """A deadline: calendar time (`hours=48`) or working days in the store's zone (POL-2)."""
    if not working_days:
        return start + timedelta(**calendar_time)
    cal = policy.current().calendar
    local = start.astimezone(ZoneInfo(cal.timezone))
    return clock.add_working_days(local, working_days, cal.holidays, cal.weekend).astimezone(start.tzinfo)


async def start(
    session: AsyncSession, subject: str, kind: str, deadline: datetime, owner_id: int | None = None
) -> None:
    values = {
        "subject": subject,
        "kind": kind,
        "owner_id": owner_id,
        "state": ClockState.RUNNING,
        "started_at": clock.now(),
        "deadline": deadline,
    }
    stmt = insert_for(session, SlaClock).values(values)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["subject", "kind"]))


async def restart(
    session: AsyncSession, subject: str, kind: str, deadline: datetime, owner_id: int | None = None
) -> None:
    """Start the clock afresh, whatever its state (e.g. "no tracking event for 48 h" after each event)."""
    at = clock.now()
    fresh = {
        "state": ClockState.RUNNING,
        "started_at": at,
        "deadline": deadline,
        "paused_at": None,
        "stopped_at": None,
        "breached_at": None,
    }
    values = {"subject": subject, "kind": kind, "owner_id": owner_id, **fresh}
    stmt = insert_for(session, SlaClock).values(values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["subject", "kind"], set_=fresh))


async def stop(session: AsyncSession, subject: str, kind: str) -> None:
    """The clock's goal was reached: a running or paused clock is met; a breached one stays so."""
    at = clock.now()
    open_states = (ClockState.RUNNING, ClockState.PAUSED)
    await session.execute(
        update(SlaClock)
        .where(SlaClock.subject == subject, SlaClock.kind == kind, SlaClock.state.in_(open_states))
        .values(state=ClockState.MET, stopped_at=at)
    )
    await session.execute(
        update(SlaClock)
        .where(
            SlaClock.subject == subject,
            SlaClock.kind == kind,
            SlaClock.state == ClockState.BREACHED,
            SlaClock.stopped_at.is_(None),
        )
        .values(stopped_at=at)
    )


async def pause(session: AsyncSession, subject: str, kind: str) -> None:
    await session.execute(
        update(SlaClock)
        .where(SlaClock.subject == subject, SlaClock.kind == kind, SlaClock.state == ClockState.RUNNING)
        .values(state=ClockState.PAUSED, paused_at=clock.now())
    )


async def resume(session: AsyncSession, subject: str, kind: str) -> None:
    """Continue a paused clock; the deadline moves by the time spent paused."""
    found = await session.scalar(
        select(SlaClock).where(
            SlaClock.subject == subject, SlaClock.kind == kind, SlaClock.state == ClockState.PAUSED
        )
    )
    if found is None or found.paused_at is None:
        return
    at = clock.now()
    found.deadline += at - found.paused_at
    found.state = ClockState.RUNNING
    found.paused_at = None
    await session.flush()


async def of_subject(session: AsyncSession, subject: str) -> list[SlaClock]:
    stmt = select(SlaClock).where(SlaClock.subject == subject).order_by(SlaClock.id)
    return list((await session.scalars(stmt)).all())


async def lock_due(session: AsyncSession, now: datetime, limit: int) -> list[SlaClock]:
    """Running clocks past their deadline, earliest first; rows another worker holds are skipped."""
    stmt = (
        select(SlaClock)
        .where(SlaClock.state == ClockState.RUNNING, SlaClock.deadline <= now)
        .order_by(SlaClock.deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


BreachAction = Callable[[AsyncSession, SlaClock], Awaitable[None]]


async def sweep(session: AsyncSession, actions: Mapping[str, BreachAction], limit: int = 500) -> int:
    """SLA-2: mark due clocks breached, raise one alert each, run the rule's action."""
    at = clock.now()
    due = await lock_due(session, at, limit)
    for found in due:
        found.state = ClockState.BREACHED
        found.breached_at = at
        await alerts.raise_alert(
            session,
            "sla_breach",
            found.subject,
            f"{found.kind} deadline {found.deadline.isoformat()} passed for {found.subject}",
            f"sla:{found.id}",
        )
        action = actions.get(found.kind)
        if action is not None:
            await action(session, found)
    await session.flush()
    return len(due)
