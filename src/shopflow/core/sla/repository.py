"""Every statement on SLA clocks, and the one measured fast statement (`stop_and_start`) beside
its SQLAlchemy fallback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, BigInteger, ColumnElement, Select, and_, case, cast, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.db import driver_connection, insert_for, insert_rows, loaded, refresh_known
from shopflow.core.sla.models import OPEN_STATES, ClockState, SlaClock


async def insert_new(session: AsyncSession, row: dict[str, Any]) -> None:
    """Insert a clock row unless its subject already has a clock of its kind."""
    await insert_rows(session, SlaClock, [row], skip_conflicts=True)


async def upsert(session: AsyncSession, row: dict[str, Any], fresh: dict[str, Any]) -> None:
    """Insert a clock row, or set `fresh` on the subject's clock of its kind."""
    stmt = insert_for(session, SlaClock).values(row)
    await session.execute(stmt.on_conflict_do_update(index_elements=["subject", "kind"], set_=fresh))


async def end(
    session: AsyncSession, subject: str, kinds: Sequence[str], reached: ClockState, at: datetime
) -> list[SlaClock]:
    """Stop the subject's open or breached clocks of `kinds` at `at`: an open one takes the state
    `reached`, a breached one stays breached. The clocks stopped, as snapshots (out of the session)."""
    stmt = (
        update(SlaClock)
        .where(
            SlaClock.subject == subject,
            SlaClock.kind.in_(kinds),
            SlaClock.state.in_((*OPEN_STATES, ClockState.BREACHED)),
            SlaClock.stopped_at.is_(None),
        )
        .values(
            state=case((SlaClock.state.in_(OPEN_STATES), reached.value), else_=SlaClock.state),
            stopped_at=at,
        )
        .returning(*SlaClock.__table__.columns)
    )
    rows = await session.execute(stmt.execution_options(synchronize_session="fetch"))
    return [loaded(SlaClock, row._mapping) for row in rows]


# Stop the clock of kind $2 of subject $1 as `end` does and insert its clock of kind $3 (at $4,
# due $5) as `insert_new` does: one statement for the driver (core.db.driver_connection).
STOP_AND_START_PG = """
WITH stopped AS (
    UPDATE sla_clocks
    SET state = CASE WHEN state IN ('running', 'paused') THEN 'met' ELSE state END, stopped_at = $4
    WHERE subject = $1 AND kind = $2 AND state IN ('running', 'paused', 'breached')
      AND stopped_at IS NULL
    RETURNING *
), started AS (
    INSERT INTO sla_clocks (subject, kind, owner_id, state, started_at, deadline)
    VALUES ($1, $3, NULL, 'running', $4, $5)
    ON CONFLICT DO NOTHING
)
SELECT * FROM stopped
"""


async def stop_and_start(
    session: AsyncSession, subject: str, stopped: str, started: dict[str, Any]
) -> list[SlaClock]:
    """Meet the subject's clock of kind `stopped` and insert the clock row `started` (unless one of
    its kind exists), in one round trip on PostgreSQL; the session's own instances of the stopped
    clock are updated as `end` updates them. The stopped clock, as `end` returns it."""
    driver = await driver_connection(session)
    if driver is None:
        ended = await end(session, subject, [stopped], ClockState.MET, started["started_at"])
        await insert_new(session, started)
        return ended
    at, kind, deadline = started["started_at"], started["kind"], started["deadline"]
    rows = await driver.fetch(STOP_AND_START_PG, subject, stopped, kind, at, deadline)
    for row in rows:
        refresh_known(
            session, SlaClock, {"id": row["id"], "state": row["state"], "stopped_at": row["stopped_at"]}
        )
    return [loaded(SlaClock, dict(row)) for row in rows]


async def pause(session: AsyncSession, subject: str, kind: str, at: datetime) -> list[SlaClock]:
    """Pause the subject's running clock of `kind`; the business-time one paused, as a snapshot
    (a calendar-time clock needs nothing more)."""
    stmt = (
        update(SlaClock)
        .where(SlaClock.subject == subject, SlaClock.kind == kind, SlaClock.state == ClockState.RUNNING)
        .values(state=ClockState.PAUSED, paused_at=at)
        .returning(*SlaClock.__table__.columns)
    )
    rows = await session.execute(stmt.execution_options(synchronize_session="fetch"))
    return [found for found in (loaded(SlaClock, row._mapping) for row in rows) if found.in_business_time]


async def set_used(session: AsyncSession, clock_id: int, used_seconds: int) -> None:
    await session.execute(update(SlaClock).where(SlaClock.id == clock_id).values(used_seconds=used_seconds))


async def lock_recomputable(session: AsyncSession, fingerprint: str, limit: int) -> list[SlaClock]:
    """Running business-time clocks whose deadline another calendar computed; rows another worker
    holds are skipped."""
    stmt = (
        select(SlaClock)
        .where(
            SlaClock.state == ClockState.RUNNING,
            SlaClock.budget_seconds.is_not(None),
            SlaClock.calendar != fingerprint,
        )
        .order_by(SlaClock.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def lock_stale(session: AsyncSession, kinds: Sequence[str], source: str, limit: int) -> list[SlaClock]:
    """Open planned clocks of `kinds` computed from other policy settings than `source`; rows
    another worker holds are skipped."""
    stmt = (
        select(SlaClock)
        .where(
            SlaClock.kind.in_(kinds),
            SlaClock.state.in_(OPEN_STATES),
            SlaClock.planned_seconds.is_not(None),
            SlaClock.source != source,
        )
        .order_by(SlaClock.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def set_owner(session: AsyncSession, subject: str, owner_id: int | None) -> None:
    """The subject's clocks not yet stopped belong to `owner_id` from now."""
    await session.execute(
        update(SlaClock)
        .where(SlaClock.subject == subject, SlaClock.stopped_at.is_(None))
        .values(owner_id=owner_id)
        .execution_options(synchronize_session="fetch")
    )


async def one(session: AsyncSession, subject: str, kind: str) -> SlaClock | None:
    return await session.scalar(select(SlaClock).where(SlaClock.subject == subject, SlaClock.kind == kind))


async def paused(session: AsyncSession, subject: str, kind: str) -> SlaClock | None:
    return await session.scalar(
        select(SlaClock).where(
            SlaClock.subject == subject, SlaClock.kind == kind, SlaClock.state == ClockState.PAUSED
        )
    )


async def of_subject(session: AsyncSession, subject: str) -> list[SlaClock]:
    stmt = select(SlaClock).where(SlaClock.subject == subject).order_by(SlaClock.id)
    return list((await session.scalars(stmt)).all())


async def of_subjects(session: AsyncSession, subjects: Sequence[str]) -> list[SlaClock]:
    if not subjects:
        return []
    stmt = select(SlaClock).where(SlaClock.subject.in_(subjects)).order_by(SlaClock.id)
    return list((await session.scalars(stmt)).all())


def _outcome_counts(now: datetime) -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    """How many clocks were met in time, missed, cancelled (SLA-3), as aggregates."""
    met = SlaClock.state == ClockState.MET
    in_time = SlaClock.stopped_at <= SlaClock.deadline
    missed = (
        (SlaClock.state == ClockState.BREACHED)
        | (met & ~in_time)
        | ((SlaClock.state == ClockState.RUNNING) & (SlaClock.deadline <= now))
    )
    return (
        func.count().filter(met & in_time),
        func.count().filter(missed),
        func.count().filter(SlaClock.state == ClockState.CANCELLED),
    )


async def outcomes(
    session: AsyncSession, due_from: datetime, due_to: datetime, now: datetime
) -> list[tuple[str, int, int, int]]:
    """Per kind, of the clocks due in [from, to): how many were met in time, missed, cancelled."""
    stmt = (
        select(SlaClock.kind, *_outcome_counts(now))
        .where(SlaClock.deadline >= due_from, SlaClock.deadline < due_to)
        .group_by(SlaClock.kind)
        .order_by(SlaClock.kind)
    )
    rows = await session.execute(stmt)
    return [(kind, int(on_time), int(late), int(off)) for kind, on_time, late, off in rows]


async def outcomes_by_window(
    session: AsyncSession, windows: CTE, now: datetime
) -> list[tuple[int, str, int, int, int]]:
    """`outcomes` for every window of `windows` (a CTE of idx, starts, ends) in one statement:
    (window, kind, met in time, missed, cancelled)."""
    stmt = (
        select(windows.c.idx, SlaClock.kind, *_outcome_counts(now))
        .join_from(
            SlaClock, windows, and_(SlaClock.deadline >= windows.c.starts, SlaClock.deadline < windows.c.ends)
        )
        .group_by(windows.c.idx, SlaClock.kind)
        .order_by(windows.c.idx, SlaClock.kind)
    )
    rows = await session.execute(stmt)
    return [(int(i), kind, int(on_time), int(late), int(off)) for i, kind, on_time, late, off in rows]


def _late_conditions(now: datetime) -> list[ColumnElement[bool]]:
    return [
        (SlaClock.state == ClockState.RUNNING) & (SlaClock.deadline <= now),
        (SlaClock.state == ClockState.BREACHED) & SlaClock.stopped_at.is_(None),
    ]


async def late_by_kind(session: AsyncSession, now: datetime) -> dict[str, int]:
    """How many clocks of each kind are late now (ANA-2), one query per partial index."""
    counts: Counter[str] = Counter()
    for condition in _late_conditions(now):
        stmt = select(SlaClock.kind, func.count()).where(condition).group_by(SlaClock.kind)
        counts.update({kind: int(n) for kind, n in (await session.execute(stmt)).all()})
    return dict(counts)


async def late(session: AsyncSession, now: datetime, limit: int) -> list[SlaClock]:
    """The late clocks, the longest overdue first."""
    found: list[SlaClock] = []
    for condition in _late_conditions(now):
        stmt = select(SlaClock).where(condition).order_by(SlaClock.deadline).limit(limit)
        found.extend((await session.scalars(stmt)).all())
    return sorted(found, key=lambda c: c.deadline)[:limit]


def late_subject_ids(now: datetime, prefix: str) -> Select[tuple[int]]:
    """A SELECT of the ids of the subjects starting with `prefix` ("ticket:") with a late clock
    now, the part after the prefix as an integer: for use inside another query, so the late set
    never leaves the database."""
    subjects = union(
        *(
            select(SlaClock.subject).where(c, SlaClock.subject.startswith(prefix))
            for c in _late_conditions(now)
        )
    ).subquery()
    return select(cast(func.substr(subjects.c.subject, len(prefix) + 1), BigInteger))


async def late_subjects(session: AsyncSession, now: datetime, prefix: str) -> set[str]:
    """The subjects starting with `prefix` ("order:") with a late clock now (ANA-2's pipeline)."""
    found: set[str] = set()
    for condition in _late_conditions(now):
        stmt = select(SlaClock.subject).where(condition, SlaClock.subject.startswith(prefix)).distinct()
        found.update((await session.scalars(stmt)).all())
    return found


async def lock_due(session: AsyncSession, now: datetime, limit: int) -> list[SlaClock]:
    """Running clocks past their deadline, earliest first; rows another worker holds are skipped.

    The clocks are snapshots kept out of the session: every UPDATE of a clock (a breach action
    stopping one) would otherwise be evaluated against each of them.
    """
    stmt = (
        select(*SlaClock.__table__.columns)
        .where(SlaClock.state == ClockState.RUNNING, SlaClock.deadline <= now)
        .order_by(SlaClock.deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [loaded(SlaClock, row._mapping) for row in await session.execute(stmt)]


async def mark_breached(session: AsyncSession, ids: list[int], at: datetime) -> None:
    if ids:
        stmt = update(SlaClock).where(SlaClock.id.in_(ids)).values(state=ClockState.BREACHED, breached_at=at)
        await session.execute(stmt)
