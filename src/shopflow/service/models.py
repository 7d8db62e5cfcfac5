"""The service desk's tickets (SVC-1..3, SVC-7): types, channels, states and their TRANSITIONS
table, the event -> clock table (SLA-1), each clock's duration and time basis (calendar or
business time, `sla.basis`), the conversation's messages and the assignment cursor (SVC-3)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import policy
from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.errors import InvalidTransition


class TicketType(StrEnum):
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"
    NEGATIVE_REVIEW = "negative_review"


class TicketChannel(StrEnum):
    CHAT = "chat"
    PHONE = "phone"
    EMAIL = "email"
    REVIEW_SITE = "review_site"
    MARKETPLACE = "marketplace"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Category(StrEnum):
    """SVC-5: what the issue was about (feeds root-cause reports)."""

    QUALITY = "quality"
    SERVICE = "service"
    LOGISTICS = "logistics"
    OTHER = "other"


class TicketState(StrEnum):
    NEW = "new"  # 新建: nobody has answered yet
    OPEN = "open"  # 处理中
    PENDING_CUSTOMER = "pending_customer"  # 待客户回复: the resolution clock is paused
    RESOLVED = "resolved"  # 已解决
    CLOSED = "closed"  # 已关闭


T = TicketState
TRANSITIONS: dict[TicketState, frozenset[TicketState]] = {
    T.NEW: frozenset({T.OPEN, T.PENDING_CUSTOMER, T.RESOLVED, T.CLOSED}),
    T.OPEN: frozenset({T.PENDING_CUSTOMER, T.RESOLVED, T.CLOSED}),
    T.PENDING_CUSTOMER: frozenset({T.OPEN, T.RESOLVED, T.CLOSED}),
    T.RESOLVED: frozenset({T.OPEN, T.CLOSED}),  # back to open: reopened within the window
    T.CLOSED: frozenset({T.OPEN}),  # reopened within the window
}
DONE_STATES = frozenset({T.RESOLVED, T.CLOSED})


class MessageKind(StrEnum):
    INBOUND = "inbound"  # from the customer
    OUTBOUND = "outbound"  # to the customer
    INTERNAL = "internal"  # a note between staff, never sent


class Escalation(StrEnum):
    """Why a ticket went to a supervisor (SVC-3, ASV-5)."""

    BREACH = "breach"  # a clock passed its deadline
    COMPLAINT = "complaint"  # a type the policy escalates at once (formal complaints)
    AUTHORITY = "authority"  # the linked case's amount exceeds the agent's authority (ASV-5)
    MANUAL = "manual"  # a person escalated it, saying why


class TicketClock(StrEnum):
    """A ticket's SLA clocks (SLA-1)."""

    FIRST_RESPONSE = "ticket.first_response"  # SVC-2, by channel
    NEGATIVE_REVIEW = "ticket.negative_review"  # SVC-7: a negative review's answer, 1 h
    RESOLUTION = "ticket.resolution"  # SVC-2, 24 h


class ClockRole(StrEnum):
    """Which of a ticket's clocks an event touches: its response clock (first response, or a
    negative review's 1-hour answer) or its resolution clock."""

    RESPONSE = "response"
    RESOLUTION = "resolution"


class TicketEvent(StrEnum):
    CREATED = "created"
    OUTBOUND = "outbound"  # an answer to the customer
    INTERNAL = "internal"  # a note: no clock moves
    PENDED = "pended"  # waiting for the customer
    INBOUND = "inbound"  # the customer wrote (while pending: back to open)
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class Effect(StrEnum):
    START = "start"
    STOP = "stop"  # the goal is reached: met (or a breach stopped)
    PAUSE = "pause"
    RESUME = "resume"  # a paused clock runs on; its deadline moves by the pause
    RESUME_USED = "resume_used"  # a stopped clock runs again with the time it had already used
    CANCEL = "cancel"  # the ticket ended: a running clock is left out of compliance


R = ClockRole
E = Effect
# SVC-2, SVC-7: what each event does to the ticket's clocks; the only place that says so.
CLOCK_TABLE: dict[TicketEvent, tuple[tuple[Effect, ClockRole], ...]] = {
    TicketEvent.CREATED: ((E.START, R.RESPONSE), (E.START, R.RESOLUTION)),
    TicketEvent.OUTBOUND: ((E.STOP, R.RESPONSE),),  # the first answer meets it; later ones find it met
    TicketEvent.INTERNAL: (),
    TicketEvent.PENDED: ((E.PAUSE, R.RESOLUTION),),
    TicketEvent.INBOUND: ((E.RESUME, R.RESOLUTION),),  # resumes only a paused clock
    TicketEvent.RESOLVED: ((E.STOP, R.RESOLUTION),),
    TicketEvent.REOPENED: ((E.RESUME_USED, R.RESOLUTION),),
    TicketEvent.CLOSED: ((E.CANCEL, R.RESPONSE), (E.CANCEL, R.RESOLUTION)),
}


def clock_kind(role: ClockRole, ticket_type: str) -> TicketClock:
    """The clock kind playing `role` for a ticket of `ticket_type`: a negative review answers on
    its 1-hour clock (SVC-7) instead of the channel's first-response clock."""
    match role:
        case R.RESPONSE:
            if ticket_type == TicketType.NEGATIVE_REVIEW:
                return TicketClock.NEGATIVE_REVIEW
            return TicketClock.FIRST_RESPONSE
        case R.RESOLUTION:
            return TicketClock.RESOLUTION


def clock_duration(kind: TicketClock, channel: str, rules: policy.Service) -> timedelta:
    match kind:
        case TicketClock.FIRST_RESPONSE:
            seconds = rules.first_response_seconds_by_channel.get(channel, rules.first_response_seconds)  # type: ignore[call-overload]
            return timedelta(seconds=seconds)
        case TicketClock.NEGATIVE_REVIEW:
            return timedelta(hours=rules.negative_review_response_hours)
        case TicketClock.RESOLUTION:
            return timedelta(hours=rules.resolution_hours)


def clock_basis(kind: TicketClock, channel: str) -> str:
    """The policy key (`sla.basis`) saying whether the clock runs in calendar or business time:
    first response by channel ("ticket.first_response.email", falling back to the kind and
    "ticket"), the others by kind. `core.sla` computes every deadline from it and the duration."""
    if kind == TicketClock.FIRST_RESPONSE:
        return f"{kind}.{channel}"
    return str(kind)


def clock_source(settings: policy.Policy) -> str:
    """A digest of every setting a ticket clock's plan comes from (the durations, the `sla.basis`
    keys of tickets): clocks planned under another are recomputed (`tasks.rebudget`). The
    calendar is not in it: `sla.recompute` follows a calendar change."""
    rules = settings.service
    basis = sorted((k, v) for k, v in settings.sla.basis.items() if k == "ticket" or k.startswith("ticket."))
    text = repr(
        (
            rules.first_response_seconds,
            sorted(rules.first_response_seconds_by_channel.items()),
            rules.resolution_hours,
            rules.negative_review_response_hours,
            basis,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ticket_subject(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def ticket_of_subject(subject: str) -> int:
    return int(subject.removeprefix("ticket:"))


def reopen_deadline(resolved_at: datetime, rules: policy.Service) -> datetime:
    return resolved_at + timedelta(days=rules.reopen_within_days)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_state_assignee", "state", "assignee_id"),
        Index("ix_tickets_escalated", "escalated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Personal data, sealed: {"phone": ...} as given; found by `phone_hash` (the blind index).
    contact: Mapped[dict[str, Any] | None] = mapped_column(Sealed)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("aftersales_cases.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalation: Mapped[str | None] = mapped_column(String(20))  # Escalation
    escalation_reason: Mapped[str | None] = mapped_column(String(500))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def move_to(self, target: TicketState, at: datetime) -> TicketState:
        """Change state if TRANSITIONS allows it (409 otherwise); returns the state left."""
        previous = TicketState(self.state)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("ticket", self.state, target)
        self.state = target
        self.updated_at = at
        match target:
            case T.RESOLVED:
                self.resolved_at = at
            case T.CLOSED:
                self.closed_at = at
            case T.OPEN:
                if previous in DONE_STATES:
                    self.reopened += 1
                    self.closed_at = None
            case T.NEW | T.PENDING_CUSTOMER:
                pass
        return previous


class TicketMessage(Base):
    """One message of a ticket's conversation; its text sealed ({"body": ...})."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(80))
    content: Mapped[dict[str, Any]] = mapped_column(Sealed)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssignmentCursor(Base):
    """Where round robin goes on from (SVC-3): one row, locked by each assignment, so concurrent
    tickets take turns."""

    __tablename__ = "ticket_assignment_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(BigInteger)


def is_negative(rating: int, text: str, rules: policy.Service) -> bool:
    """SVC-7: a review is negative when its rating is at most the policy's, or its text holds
    one of the policy's negative keywords (any case)."""
    lowered = text.casefold()
    return rating <= rules.negative_rating_at_most or any(
        w.casefold() in lowered for w in rules.negative_keywords
    )


class Review(Base):
    """A customer's review from a review site or marketplace (SVC-7); a negative one opened its
    `negative_review` ticket."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    content: Mapped[dict[str, Any]] = mapped_column(Sealed)  # {"text": ...}
    negative: Mapped[bool] = mapped_column(Boolean)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
