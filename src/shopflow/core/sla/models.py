"""The SLA clock (SLA-1..3): its table, its states and the pure rules about one clock.

A clock belongs to a subject ("order:42", "shipment:7") and has a kind ("order.pay"). At most
one clock of a kind runs per subject. A partial index on `deadline` over running clocks lets the
worker's sweep read only the due ones, however many run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import clock, policy
from shopflow.core.businesstime import BusinessCalendar, business_deadline, business_elapsed
from shopflow.core.db import Base, BigId, UTCDateTime


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
        # Running business-time clocks, by the calendar their deadline was computed under: what
        # `sla.recompute` reads when the calendar changes.
        Index(
            "ix_sla_clocks_business",
            "calendar",
            postgresql_where=text("state = 'running' AND budget_seconds IS NOT NULL"),
            sqlite_where=text("state = 'running' AND budget_seconds IS NOT NULL"),
        ),
        # Open clocks with a planned budget, by kind and the policy fingerprint they were computed
        # from: what a domain's sweep reads when a kind's duration or basis changes (`rebudget`).
        Index(
            "ix_sla_clocks_source",
            "kind",
            "source",
            postgresql_where=text("state IN ('running', 'paused') AND planned_seconds IS NOT NULL"),
            sqlite_where=text("state IN ('running', 'paused') AND planned_seconds IS NOT NULL"),
        ),
        # Every clock by its deadline: compliance over a period (SLA-3, ANA-1's on-time rates).
        Index("ix_sla_clocks_deadline", "deadline"),
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
    # A clock in business time (`sla.start_for`, policy `sla.basis`) keeps its budget, the business
    # seconds used before its current run (set at each pause), when that run began, and the
    # fingerprint of the calendar its deadline was computed under; all NULL in calendar time.
    budget_seconds: Mapped[int | None] = mapped_column(BigInteger)
    used_seconds: Mapped[int | None] = mapped_column(BigInteger)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    calendar: Mapped[str | None] = mapped_column(String(16))
    # A clock started by `start_for`/`reopen` for a domain that keeps it in step with its policy
    # (tickets) keeps the duration it was planned with, in either basis, and the fingerprint of
    # the policy settings it came from (`source`); NULL otherwise.
    planned_seconds: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(16))

    @property
    def in_business_time(self) -> bool:
        return self.budget_seconds is not None

    def business_left(self) -> timedelta:
        """What a business-time clock has left to run from its current run's start (none once
        its run before a pause used it all)."""
        return timedelta(seconds=max(0, (self.budget_seconds or 0) - (self.used_seconds or 0)))

    def time_used(self, duration: timedelta) -> timedelta:
        """The time a stopped or paused clock had used when it ended (or paused, if it ended while
        paused): its business seconds in business time; in calendar time its plan (or `duration`
        for a clock that kept none) less what was left to its deadline."""
        if self.in_business_time:
            return timedelta(seconds=self.used_seconds or 0)
        ended = self.paused_at or self.stopped_at or clock.now()
        plan = duration if self.planned_seconds is None else timedelta(seconds=self.planned_seconds)
        return plan - (self.deadline - ended)

    def seconds_left(self, now: datetime) -> float | None:
        """Time to the deadline: negative when overdue, frozen while paused, None once met,
        breached or cancelled."""
        match ClockState(self.state):
            case ClockState.RUNNING:
                return (self.deadline - now).total_seconds()
            case ClockState.PAUSED if self.in_business_time:
                return self.business_left().total_seconds()
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


def running_in_business_time(
    subject: str, kind: str, duration: timedelta, calendar: BusinessCalendar, owner_id: int | None = None
) -> dict[str, Any]:
    """The row of a clock started now that runs `duration` of business time in `calendar`."""
    row = running(subject, kind, clock.now(), owner_id)
    row["deadline"] = business_deadline(row["started_at"], duration, calendar)
    row |= {
        "budget_seconds": int(duration.total_seconds()),
        "used_seconds": 0,
        "resumed_at": row["started_at"],
        "calendar": calendar.fingerprint(),
    }
    return row


def replanned(
    found: SlaClock, now: datetime, duration: timedelta, calendar: BusinessCalendar, business: bool
) -> dict[str, Any]:
    """The new values of an open clock planned with `planned_seconds` when its kind's duration
    becomes `duration`, in business time (in `calendar`) or calendar time: the time it has
    used by `now` is kept (business seconds, or its plan less what was left to its deadline), what
    is left of `duration` runs from now (a running clock) or waits for its resume (a paused one)."""
    if found.in_business_time:
        used = timedelta(seconds=found.used_seconds or 0)
        if found.state == ClockState.RUNNING:
            used += business_elapsed(found.resumed_at or found.started_at, now, calendar)
    else:
        used = timedelta(seconds=found.planned_seconds or 0) - (found.deadline - (found.paused_at or now))
    used = max(used, timedelta(0))
    left = max(duration - used, timedelta(0))
    values: dict[str, Any] = {"planned_seconds": int(duration.total_seconds())}
    if not business:
        base = found.paused_at if found.state == ClockState.PAUSED and found.paused_at else now
        return values | {
            "deadline": base + left,
            "budget_seconds": None,
            "used_seconds": None,
            "resumed_at": None,
            "calendar": None,
        }
    running_now = found.state == ClockState.RUNNING
    return values | {
        "deadline": business_deadline(now, left, calendar),
        "budget_seconds": int(duration.total_seconds()),
        "used_seconds": int(used.total_seconds()),
        "resumed_at": now if running_now else found.resumed_at,
        "calendar": calendar.fingerprint(),
    }


def breach_kind(kind: str) -> str:
    """The kind of the alert a clock of `kind` raises when it breaches ("sla.breach.order.ship")."""
    return f"{BREACH_ALERT}.{kind}"


def is_late(found: SlaClock, now: datetime) -> bool:
    """Past its deadline with the goal not reached: breached and open, or running and due (not
    yet swept), so a breach shows the moment the deadline passes."""
    if found.state == ClockState.RUNNING:
        return found.deadline <= now
    return found.state == ClockState.BREACHED and found.stopped_at is None


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
