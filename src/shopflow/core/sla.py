"""SLA clocks shared by every domain (SLA-1..3): start, pause, resume, stop; due queries.

A clock belongs to a subject ("order:42", "shipment:7") and has a kind ("order.pay"). At most
one clock of a kind runs per subject; starting it again is a no-op. The worker's sweep finds
running clocks past their deadline through a partial index on `deadline`, so a sweep over a
million running clocks reads only the due ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    case,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import alerts, clock, db, policy
from shopflow.core.db import (
    Base,
    BigId,
    UTCDateTime,
    driver_connection,
    insert_for,
    insert_rows,
    loaded,
    refresh_known,
)

log = logging.getLogger("shopflow.sla")


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    # Its subject ended early (a cancelled order): stopped, neither met nor breached, and left
    # out of compliance (SLA-1).
    CANCELLED = "cancelled"


OPEN_STATES = (ClockState.RUNNING, ClockState.PAUSED)
BREACH_ALERT = "sla.breach"  # the prefix of breach alerts' kinds (`breach_kind`)


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
        # Breached clocks whose goal is not reached yet: what the console shows as late.
        Index(
            "ix_sla_clocks_open_breach",
            "kind",
            "deadline",
            postgresql_where=text("state = 'breached' AND stopped_at IS NULL"),
            sqlite_where=text("state = 'breached' AND stopped_at IS NULL"),
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

    def seconds_left(self, now: datetime) -> float | None:
        """Time to the deadline: negative when overdue, frozen while paused, None once met,
        breached or cancelled."""
        match ClockState(self.state):
            case ClockState.RUNNING:
                return (self.deadline - now).total_seconds()
            case ClockState.PAUSED:
                return (self.deadline - (self.paused_at or now)).total_seconds()
            case ClockState.MET | ClockState.BREACHED | ClockState.CANCELLED:
                return None
            case unreachable:
                assert_never(unreachable)


def after(start: datetime, *, working_days: int = 0, **calendar_time: float) -> datetime:
    """A deadline: calendar time (`hours=48`) or working days in the store's zone (POL-2)."""
    if not working_days:
        return start + timedelta(**calendar_time)
    cal = policy.current().calendar
    local = start.astimezone(ZoneInfo(cal.timezone))
    return clock.add_working_days(local, working_days, cal.holidays, cal.weekend).astimezone(start.tzinfo)


def running(subject: str, kind: str, deadline: datetime, owner_id: int | None = None) -> dict[str, Any]:
    """The row of a clock started now."""
    return {
        "subject": subject,
        "kind": kind,
        "owner_id": owner_id,
        "state": ClockState.RUNNING,
        "started_at": clock.now(),
        "deadline": deadline,
    }


def queue_running(
    session: AsyncSession, subject: str, kind: str, deadline: datetime, owner_id: int | None = None
) -> None:
    """Start the clock of a subject that has none of this kind yet (a new order, a new parcel)
    with the transaction's next write (`db.PendingRows`): a plain INSERT, unlike `start`."""
    db.queue(session, SlaClock, running(subject, kind, deadline, owner_id))


async def start(
    session: AsyncSession, subject: str, kind: str, deadline: datetime, owner_id: int | None = None
) -> None:
    """Start the clock unless the subject already has one of this kind."""
    await insert_rows(session, SlaClock, [running(subject, kind, deadline, owner_id)], skip_conflicts=True)


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


def breach_kind(kind: str) -> str:
    """The kind of the alert a clock of `kind` raises when it breaches ("sla.breach.order.ship")."""
    return f"{BREACH_ALERT}.{kind}"


MET_LATE = "the late step happened"  # the note of a breach alert resolved by its clock's stop
ENDED_EARLY = "its subject ended early"  # … by its clock's cancellation


async def _end(session: AsyncSession, subject: str, kinds: Sequence[str], reached: ClockState) -> None:
    """Stop the subject's clocks of `kinds`: a running or paused one takes the state `reached`; a
    breached one stays breached, stopped (no longer late), and its alert is resolved."""
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
            stopped_at=clock.now(),
        )
        .returning(SlaClock.kind, SlaClock.state)
    )
    ended = (await session.execute(stmt.execution_options(synchronize_session="fetch"))).all()
    await _resolve_breaches(
        session, subject, [kind for kind, state in ended if state == ClockState.BREACHED], reached
    )


async def _resolve_breaches(
    session: AsyncSession, subject: str, kinds: Sequence[str], reached: ClockState
) -> None:
    note = ENDED_EARLY if reached == ClockState.CANCELLED else MET_LATE
    await alerts.resolve_causes(session, subject, [breach_kind(kind) for kind in kinds], note)


async def stop(session: AsyncSession, subject: str, *kinds: str) -> None:
    """The clocks' goal was reached: a running or paused clock is met; a breached one stays
    breached, stopped, and its breach alert is resolved. One statement for every kind given."""
    await _end(session, subject, kinds, ClockState.MET)


async def cancel(session: AsyncSession, subject: str, *kinds: str) -> None:
    """The subject ended early (SLA-1), so its clocks' goals never come: a running or paused clock
    is cancelled (neither met nor breached, out of compliance); a breached one is stopped as
    `stop` stops it. Every clock whose subject ends early ends here."""
    await _end(session, subject, kinds, ClockState.CANCELLED)


# Stop the clock of kind $2 of subject $1 as `stop` does and start its clock of kind $3 (at $4,
# due $5) as `start` does: one statement for the driver (core.db.driver_connection).
STOP_AND_START_PG = """
WITH stopped AS (
    UPDATE sla_clocks
    SET state = CASE WHEN state IN ('running', 'paused') THEN 'met' ELSE state END, stopped_at = $4
    WHERE subject = $1 AND kind = $2 AND state IN ('running', 'paused', 'breached')
      AND stopped_at IS NULL
    RETURNING id, state, stopped_at
), started AS (
    INSERT INTO sla_clocks (subject, kind, owner_id, state, started_at, deadline)
    VALUES ($1, $3, NULL, 'running', $4, $5)
    ON CONFLICT DO NOTHING
)
SELECT id, state, stopped_at FROM stopped
"""


async def stop_and_start(
    session: AsyncSession, subject: str, stopped: str, kind: str, deadline: datetime
) -> None:
    """`stop(subject, stopped)` then `start(subject, kind, deadline)`: one step's goal reached and
    the next one's clock running, in one round trip on PostgreSQL. The session's own instances of
    the stopped clocks are updated as `stop` updates them."""
    driver = await driver_connection(session)
    if driver is None:
        await stop(session, subject, stopped)
        await start(session, subject, kind, deadline)
        return
    at = clock.now()
    rows = await driver.fetch(STOP_AND_START_PG, subject, stopped, kind, at, deadline)
    for row in rows:
        refresh_known(session, SlaClock, {"id": row[0], "state": row[1], "stopped_at": row[2]})
    if any(row[1] == ClockState.BREACHED for row in rows):
        await _resolve_breaches(session, subject, [stopped], ClockState.MET)


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


async def of_subjects(session: AsyncSession, subjects: Sequence[str]) -> list[SlaClock]:
    if not subjects:
        return []
    stmt = select(SlaClock).where(SlaClock.subject.in_(subjects)).order_by(SlaClock.id)
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True, slots=True)
class Compliance:
    """SLA-3: one clock kind's clocks due in a period, by outcome."""

    kind: str
    met: int  # stopped by the deadline
    breached: int  # breached, stopped after the deadline, or running past it
    cancelled: int  # their subject ended early: left out of the rate

    @property
    def rate(self) -> float | None:
        """Met / decided (met or breached); None when nothing is decided."""
        decided = self.met + self.breached
        return None if decided == 0 else round(self.met / decided, 4)


async def compliance(
    session: AsyncSession, due_from: datetime, due_to: datetime, now: datetime
) -> list[Compliance]:
    """SLA-3 per clock kind over the clocks due in [from, to). A paused clock, or a running one
    not yet due, is undecided; a cancelled one is counted apart, never as met nor breached."""
    met = SlaClock.state == ClockState.MET
    in_time = SlaClock.stopped_at <= SlaClock.deadline
    late = (
        (SlaClock.state == ClockState.BREACHED)
        | (met & ~in_time)
        | ((SlaClock.state == ClockState.RUNNING) & (SlaClock.deadline <= now))
    )
    stmt = (
        select(
            SlaClock.kind,
            func.count().filter(met & in_time),
            func.count().filter(late),
            func.count().filter(SlaClock.state == ClockState.CANCELLED),
        )
        .where(SlaClock.deadline >= due_from, SlaClock.deadline < due_to)
        .group_by(SlaClock.kind)
        .order_by(SlaClock.kind)
    )
    rows = await session.execute(stmt)
    return [Compliance(kind, int(on_time), int(missed), int(off)) for kind, on_time, missed, off in rows]


def is_late(found: SlaClock, now: datetime) -> bool:
    """Past its deadline with the goal not reached: breached and open, or running and due (not
    yet swept), so a breach shows the moment the deadline passes."""
    if found.state == ClockState.RUNNING:
        return found.deadline <= now
    return found.state == ClockState.BREACHED and found.stopped_at is None


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


BreachAction = Callable[[AsyncSession, SlaClock], Awaitable[None]]
BATCH = 500  # due clocks claimed per sweep (one transaction)


class SubjectBusy(Exception):
    """Raised by a breach action whose subject another transaction holds (say a payment arriving
    as the pay deadline passes): the clock is left running and the next sweep tries again.

    Actions take their subject's lock without waiting: the worker locks the clock first and the
    subject second, the subject's own use cases the other way round, so waiting could deadlock.
    """


def _breach_alert(found: SlaClock) -> dict[str, Any]:
    # Keyed by the clock's run: a clock restarted after a breach alerts again when it breaches again.
    return alerts.row(
        breach_kind(found.kind),
        found.subject,
        f"{found.kind} deadline {found.deadline.isoformat()} passed for {found.subject}",
        f"sla:{found.id}:{found.started_at.isoformat()}",
    )


async def _mark_breached(session: AsyncSession, ids: list[int], at: datetime) -> None:
    if ids:
        stmt = update(SlaClock).where(SlaClock.id.in_(ids)).values(state=ClockState.BREACHED, breached_at=at)
        await session.execute(stmt)


async def sweep(
    session: AsyncSession,
    actions: Mapping[str, BreachAction],
    quiet: Collection[str] = (),
    limit: int = BATCH,
) -> int:
    """SLA-2: mark due clocks breached, raise one alert each (except for `quiet` kinds, whose end
    is the rule's normal course), run each kind's action; returns how many clocks breached.

    An action runs in a savepoint after its clock is marked, so it may stop or restart the clock.
    When its subject is busy (SubjectBusy) the clock stays running for the next sweep; when it
    fails, the breach stands and its alert says so, so one bad item never holds up the others.
    """
    at = clock.now()
    breached = 0
    plain: list[int] = []
    raised: list[dict[str, Any]] = []
    for found in await lock_due(session, at, limit):
        clock_id, alert = found.id, _breach_alert(found)
        action = actions.get(found.kind)
        silent = found.kind in quiet
        if action is None:
            plain.append(clock_id)
        else:
            try:
                async with session.begin_nested():
                    await _mark_breached(session, [clock_id], at)
                    await action(session, found)
            except Exception as exc:
                db.pending(session).take()  # what the action queued is rolled back with its savepoint
                if isinstance(exc, SubjectBusy):
                    continue
                log.exception("the breach action of clock %s (%s) failed", clock_id, alert["subject"])
                plain.append(clock_id)
                alert["message"] += f"; its automatic action failed: {exc!r}"
                silent = False
        breached += 1
        if not silent:
            raised.append(alert)
    await _mark_breached(session, plain, at)
    await alerts.raise_many(session, raised)
    return breached
