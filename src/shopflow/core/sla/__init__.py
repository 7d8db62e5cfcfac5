"""SLA clocks shared by every domain (SLA-1..3): start, pause, resume, stop, cancel; the sweep
that marks due clocks breached and runs each kind's breach action; what is late, and compliance.

The clock itself is `core.sla.models`; every statement is `core.sla.repository`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CTE
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, businesstime, clock, db, policy
from shopflow.core.sla import repository
from shopflow.core.sla.models import (
    BREACH_ALERT,
    OPEN_STATES,
    ClockState,
    Compliance,
    SlaClock,
    after,
    breach_kind,
    is_late,
    replanned,
    running,
    running_in_business_time,
)
from shopflow.core.sla.repository import (
    late,
    late_by_kind,
    late_subject_ids,
    late_subjects,
    of_subject,
    of_subjects,
)

__all__ = [
    "BATCH",
    "BREACH_ALERT",
    "ENDED_EARLY",
    "MET_LATE",
    "OPEN_STATES",
    "BreachAction",
    "ClockState",
    "Compliance",
    "SlaClock",
    "SubjectBusy",
    "after",
    "breach_kind",
    "cancel",
    "compliance",
    "compliance_by_window",
    "is_late",
    "late",
    "late_by_kind",
    "late_subject_ids",
    "late_subjects",
    "of_subject",
    "of_subjects",
    "pause",
    "queue_running",
    "rebudget",
    "recompute",
    "reopen",
    "restart",
    "resume",
    "running",
    "set_owner",
    "stale",
    "start",
    "start_for",
    "stop",
    "stop_and_start",
    "sweep",
]

log = logging.getLogger("shopflow.sla")
BATCH = 500  # clocks claimed per sweep (one transaction)


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
    await repository.insert_new(session, running(subject, kind, deadline, owner_id))


async def restart(
    session: AsyncSession, subject: str, kind: str, deadline: datetime, owner_id: int | None = None
) -> None:
    """Start the clock afresh, whatever its state (e.g. "no tracking event for 48 h" after each event):
    what it waited for happened, so the breach alert of its last run, if any, is resolved."""
    fresh = {
        "state": ClockState.RUNNING,
        "started_at": clock.now(),
        "deadline": deadline,
        "paused_at": None,
        "stopped_at": None,
        "breached_at": None,
        **planned(None, None),
    }
    await repository.upsert(session, {"subject": subject, "kind": kind, "owner_id": owner_id, **fresh}, fresh)
    await _resolve_breaches(session, subject, [kind], ClockState.MET)


MET_LATE = "the late step happened"  # the note of a breach alert resolved by its clock's stop
ENDED_EARLY = "its subject ended early"  # … by its clock's cancellation


async def _ended(session: AsyncSession, subject: str, ended: Sequence[SlaClock], reached: ClockState) -> None:
    """After clocks stopped: a business-time one stopped while running keeps the business time
    its last run used (so a reopened subject resumes with it); a breached one's alert is resolved."""
    calendar = None
    for found in ended:
        if found.in_business_time and found.paused_at is None and found.stopped_at is not None:
            calendar = calendar or businesstime.calendar_from_policy()
            run = businesstime.business_elapsed(
                found.resumed_at or found.started_at, found.stopped_at, calendar
            )
            await repository.set_used(session, found.id, (found.used_seconds or 0) + int(run.total_seconds()))
    breached = [found.kind for found in ended if found.state == ClockState.BREACHED]
    await _resolve_breaches(session, subject, breached, reached)


async def _end(session: AsyncSession, subject: str, kinds: Sequence[str], reached: ClockState) -> None:
    """Stop the subject's clocks of `kinds`: a running or paused one takes the state `reached`; a
    breached one stays breached, stopped (no longer late), and its alert is resolved."""
    ended = await repository.end(session, subject, kinds, reached, clock.now())
    await _ended(session, subject, ended, reached)


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


async def stop_and_start(
    session: AsyncSession, subject: str, stopped: str, kind: str, deadline: datetime
) -> None:
    """`stop(subject, stopped)` then `start(subject, kind, deadline)`: one step's goal reached and
    the next one's clock running, in one round trip on PostgreSQL."""
    ended = await repository.stop_and_start(session, subject, stopped, running(subject, kind, deadline))
    await _ended(session, subject, ended, ClockState.MET)


def planned(duration: timedelta | None, source: str | None) -> dict[str, Any]:
    """A clock's plan: kept only for a domain that names its policy's fingerprint (`source`)."""
    if source is None or duration is None:
        return {"planned_seconds": None, "source": None}
    return {"planned_seconds": int(duration.total_seconds()), "source": source}


async def start_for(
    session: AsyncSession,
    subject: str,
    kind: str,
    duration: timedelta,
    owner_id: int | None = None,
    basis: str | None = None,
    source: str | None = None,
) -> None:
    """Start the clock of `kind` for `duration` unless the subject already has one of this kind,
    in the time its policy names (`sla.basis` of `basis`, a finer key such as
    "ticket.first_response.email", else of `kind`): calendar time (deadline = now + duration), or
    business time (the policy calendar's hours, holidays and make-up days; `core.businesstime`).
    With `source` (the fingerprint of the domain's policy settings it came from) the clock keeps
    its plan, so `rebudget` recomputes it when they change."""
    if not policy.current().sla.in_business_time(basis or kind):
        row = running(subject, kind, clock.now() + duration, owner_id)
    else:
        row = running_in_business_time(subject, kind, duration, businesstime.calendar_from_policy(), owner_id)
    await repository.insert_new(session, row | planned(duration, source))


async def reopen(
    session: AsyncSession,
    subject: str,
    kind: str,
    duration: timedelta,
    owner_id: int | None = None,
    basis: str | None = None,
    source: str | None = None,
) -> None:
    """Run a stopped clock again with the time it had already used (a reopened ticket): what is
    left of `duration` counts from now, in the time the policy names now (as `start_for`), so
    used business time stays used across the nights and weekends the subject spent stopped. An
    open clock (or a breached one not yet stopped) runs on untouched; a subject without one
    starts it afresh. A breach alert of its last run is resolved; a new breach alerts again."""
    found = await repository.one(session, subject, kind)
    if found is None:
        await start_for(session, subject, kind, duration, owner_id, basis, source)
        return
    if found.state in OPEN_STATES or found.stopped_at is None:
        return
    used = max(found.time_used(duration), timedelta(0))
    now = clock.now()
    if policy.current().sla.in_business_time(basis or kind):
        calendar = businesstime.calendar_from_policy()
        fresh = running_in_business_time(subject, kind, duration, calendar, owner_id)
        left = max(duration - used, timedelta(0))
        fresh["used_seconds"] = int((duration - left).total_seconds())
        fresh["deadline"] = businesstime.business_deadline(now, left, calendar)
    else:
        fresh = running(subject, kind, now + max(duration - used, timedelta(0)), owner_id)
        fresh |= {"budget_seconds": None, "used_seconds": None, "resumed_at": None, "calendar": None}
    fresh |= {"paused_at": None, "stopped_at": None, "breached_at": None} | planned(duration, source)
    await repository.upsert(session, fresh, {k: v for k, v in fresh.items() if k not in ("subject", "kind")})
    session.expire(found)  # the row was rewritten under the session's instance
    await _resolve_breaches(session, subject, [kind], ClockState.MET)


async def pause(session: AsyncSession, subject: str, kind: str) -> None:
    """Pause a running clock. A business-time clock keeps the business time its run used."""
    at = clock.now()
    for found in await repository.pause(session, subject, kind, at):
        run = businesstime.business_elapsed(
            found.resumed_at or found.started_at, at, businesstime.calendar_from_policy()
        )
        await repository.set_used(session, found.id, (found.used_seconds or 0) + int(run.total_seconds()))


async def resume(session: AsyncSession, subject: str, kind: str) -> None:
    """Continue a paused clock: a calendar-time one's deadline moves by the time spent paused; a
    business-time one runs what its budget has left from now, in the policy calendar."""
    found = await repository.paused(session, subject, kind)
    if found is None or found.paused_at is None:
        return
    now = clock.now()
    if found.in_business_time:
        calendar = businesstime.calendar_from_policy()
        found.deadline = businesstime.business_deadline(now, found.business_left(), calendar)
        found.resumed_at = now
        found.calendar = calendar.fingerprint()
    else:
        found.deadline += now - found.paused_at
    found.state = ClockState.RUNNING
    found.paused_at = None
    await session.flush()


async def stale(
    session: AsyncSession, kinds: Sequence[str], source: str, limit: int = BATCH
) -> list[SlaClock]:
    """The open clocks of `kinds` planned under other policy settings than `source`, locked
    (rows another worker holds are skipped): what `rebudget` recomputes."""
    return await repository.lock_stale(session, kinds, source, limit)


async def rebudget(
    session: AsyncSession, plans: Sequence[tuple[SlaClock, timedelta, str]], source: str
) -> None:
    """After a change of a kind's duration or basis: each open clock (from `stale`) gets its
    domain's current `duration` in the time its basis key names now, keeping the time it has
    used (`models.replanned`); audited `sla.recomputed` with its plan before and after."""
    now, calendar, rules = clock.now(), businesstime.calendar_from_policy(), policy.current().sla
    rows = []
    for found, duration, basis in plans:
        before = {"deadline": found.deadline.isoformat(), "planned_seconds": found.planned_seconds}
        before["basis"] = "business" if found.in_business_time else "calendar"
        business = rules.in_business_time(basis)
        for name, value in (replanned(found, now, duration, calendar, business) | {"source": source}).items():
            setattr(found, name, value)
        after = {"deadline": found.deadline.isoformat(), "planned_seconds": found.planned_seconds}
        after["basis"] = "business" if business else "calendar"
        rows.append(audit.row(audit.SYSTEM, "sla.recomputed", "sla_clock", found.id, before, after))
    if rows:
        await session.flush()
        await audit.record(session, *rows)


async def set_owner(session: AsyncSession, subject: str, owner_id: int | None) -> None:
    """The subject changed hands (a ticket reassigned): its clocks not yet stopped are the new
    owner's, so compliance per owner (SLA-3) charges whoever holds it."""
    await repository.set_owner(session, subject, owner_id)


async def recompute(session: AsyncSession, limit: int = BATCH) -> int:
    """The worker's sweep after a change of the calendar (hours, holidays, make-up days, zone):
    each running business-time clock computed under another calendar gets the deadline its
    current run has in the new one (`business_deadline(resumed_at, budget - used)`), audited
    `sla.recomputed`. Paused clocks keep their used time and take the calendar when resumed."""
    calendar = businesstime.calendar_from_policy()
    fingerprint = calendar.fingerprint()
    found = await repository.lock_recomputable(session, fingerprint, limit)
    rows = []
    for running_clock in found:
        before = {"deadline": running_clock.deadline.isoformat(), "calendar": running_clock.calendar}
        start = running_clock.resumed_at or running_clock.started_at
        running_clock.deadline = businesstime.business_deadline(
            start, running_clock.business_left(), calendar
        )
        running_clock.calendar = fingerprint
        after = {"deadline": running_clock.deadline.isoformat(), "calendar": fingerprint}
        rows.append(audit.row(audit.SYSTEM, "sla.recomputed", "sla_clock", running_clock.id, before, after))
    if rows:
        await session.flush()
        await audit.record(session, *rows)
    return len(found)


async def compliance_by_window(
    session: AsyncSession, windows: CTE, now: datetime
) -> dict[int, list[Compliance]]:
    """`compliance` for every window of `windows` (a CTE of idx, starts, ends), by window index."""
    found: dict[int, list[Compliance]] = {}
    for index, *counts in await repository.outcomes_by_window(session, windows, now):
        found.setdefault(index, []).append(Compliance(*counts))
    return found


async def compliance(
    session: AsyncSession, due_from: datetime, due_to: datetime, now: datetime
) -> list[Compliance]:
    """SLA-3 per clock kind over the clocks due in [from, to). A paused clock, or a running one
    not yet due, is undecided; a cancelled one is counted apart, never as met nor breached."""
    return [Compliance(*counts) for counts in await repository.outcomes(session, due_from, due_to, now)]


BreachAction = Callable[[AsyncSession, SlaClock], Awaitable[None]]


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
    for found in await repository.lock_due(session, at, limit):
        clock_id, alert = found.id, _breach_alert(found)
        action = actions.get(found.kind)
        silent = found.kind in quiet
        if action is None:
            plain.append(clock_id)
        else:
            try:
                async with session.begin_nested():
                    await repository.mark_breached(session, [clock_id], at)
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
    await repository.mark_breached(session, plain, at)
    await alerts.raise_many(session, raised)
    return breached
