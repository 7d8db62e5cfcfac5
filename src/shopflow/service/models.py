"""The service desk's tickets (SVC-1..3, SVC-7): types, channels, states and their TRANSITIONS
table, the event -> clock table (SLA-1), each clock's duration and time basis (calendar or
business time, `sla.basis`), the conversation's messages and the assignment cursor (SVC-3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import policy
from shopflow.core.crypto import Sealed, SealedFor, customer_secret, secret_through
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


SUBJECT_PREFIX = "ticket:"  # a ticket's clocks' and alerts' subject: "ticket:42"


def ticket_subject(ticket_id: int) -> str:
    return f"{SUBJECT_PREFIX}{ticket_id}"


def ticket_of_subject(subject: str) -> int:
    return int(subject.removeprefix(SUBJECT_PREFIX))


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
    # Personal data, sealed with the customer's own key when it has a customer (RSK-3):
    # {"phone": ...} as given; found by `phone_hash` (the blind index).
    contact: Mapped[dict[str, Any] | None] = mapped_column(SealedFor(customer_secret))
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


def _ticket_customer_secret(table: Any) -> ColumnElement[Any]:
    """The owner of a ticket's message: the ticket's customer (RSK-3)."""
    return secret_through(Ticket.__table__, table.c.ticket_id)


class TicketMessage(Base):
    """One message of a ticket's conversation; its text sealed ({"body": ...}), with the ticket's
    customer's own key when it has a customer (RSK-3)."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(80))
    content: Mapped[dict[str, Any]] = mapped_column(SealedFor(_ticket_customer_secret))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SVC-9: its text was purged at the end of the retention period (the body is empty since).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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


# --- surveys, call-backs, greetings, retention (SVC-5, SVC-6, SVC-8, SVC-9) ---------------------


class SurveyKind(StrEnum):
    FEEDBACK = "feedback"  # SVC-6: how was it, 3 days after delivery
    SATISFACTION = "satisfaction"  # SVC-6: the order's 1-5 score, asked at delivery, within 7 days
    TICKET = "ticket"  # a resolved ticket's own 1-5 score (STF-2's satisfaction)


def survey_key(kind: SurveyKind, subject_id: int) -> str:
    """The one survey of an order (by kind) or of a ticket: a unique key, so a worker running
    twice sends it once."""
    return f"{kind}:{subject_id}"


def follow_up_type(kind: SurveyKind) -> TicketType:
    """The ticket a low score opens: a complaint about a ticket's or an order's service, feedback
    after a delivery."""
    return TicketType.FEEDBACK if kind == SurveyKind.FEEDBACK else TicketType.COMPLAINT


class Survey(Base):
    """A survey sent to a customer through the outbox and answered once on `/s/{token}`."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who resolved the ticket
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[dict[str, Any] | None] = mapped_column(Sealed)  # {"text": ...}: the customer's words
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))


class CallbackReason(StrEnum):
    RESOLVED = "resolved"  # SVC-5: after a resolution
    PERIODIC = "periodic"  # SVC-8: every `service.callback_every_days`


class CallbackTask(Base):
    """A call an agent owes a customer, due at `due_at`; done or undone by hand."""

    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_tasks_open", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def periodic_key(customer_id: int, day: date, every_days: int) -> str:
    """The periodic call-back of a customer in the period holding `day`: one task per customer
    per period of `every_days`, the periods of each customer shifted by their id so that the
    tasks spread over the days instead of all falling due on one."""
    return f"periodic:{customer_id}:{((day - date(1970, 1, 1)).days + customer_id) // every_days}"


BIRTHDAY = "birthday"


class Greeting(Base):
    """A greeting sent to a customer (SVC-8): once per customer, occasion and year."""

    __tablename__ = "care_greetings"
    __table_args__ = (UniqueConstraint("customer_id", "occasion", "year"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    occasion: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(SmallInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CareSweep(Base):
    """How far the day's greeting sweep has gone through the customers (by id)."""

    __tablename__ = "care_sweeps"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_customer_id: Mapped[int] = mapped_column(BigInteger, default=0)


def occasions_on(day: date, birthday: date | None, holidays: tuple[policy.Holiday, ...]) -> list[str]:
    """What a customer born on `birthday` is greeted for on `day`: their birthday (29 February
    on 28 February in other years), and the policy's holidays falling on it."""
    found = [h.occasion for h in holidays if h.on == day]
    if birthday is not None:
        month, day_of = birthday.month, birthday.day
        if (month, day_of) == (2, 29) and not _leap(day.year):
            day_of = 28
        if (month, day_of) == (day.month, day.day):
            found.insert(0, BIRTHDAY)
    return found


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class RetentionPurge(Base):
    """What one retention run purged (SVC-9, AUD-1): counts and the cut-offs it used."""

    __tablename__ = "retention_purges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    messages_before: Mapped[datetime] = mapped_column(UTCDateTime)
    messages: Mapped[int] = mapped_column(Integer)
    tickets: Mapped[int] = mapped_column(Integer)
    audit_before: Mapped[datetime] = mapped_column(UTCDateTime)
    audit_rows: Mapped[int] = mapped_column(Integer)


def years_before(at: datetime, years: int) -> datetime:
    """`at` moved back `years` calendar years (29 February to 28 February)."""
    try:
        return at.replace(year=at.year - years)
    except ValueError:
        return at.replace(year=at.year - years, day=28)


# A survey's token: `<survey id>.<expiry, Unix seconds>.<signature>`, the signature the URL-safe
# base64 of HMAC-SHA256 over the first two parts under the survey link's own derived key.
SURVEY_KEY_PURPOSE = "survey link"
SURVEY_TOKEN = re.compile(r"([0-9]{1,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class SurveyLink:
    survey_id: int
    expires: datetime


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_survey(survey_id: int, expires: datetime, key: bytes) -> str:
    body = f"{survey_id}.{int(expires.timestamp())}"
    return f"{body}.{_mac(key, 'survey:' + body)}"


def read_survey(token: str, key: bytes) -> SurveyLink | None:
    """The survey a token names, or None when this key did not sign it."""
    found = SURVEY_TOKEN.fullmatch(token)
    if found is None:
        return None
    survey_id, expires, signature = found.groups()
    expected = _mac(key, f"survey:{survey_id}.{expires}")
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    return SurveyLink(int(survey_id), datetime.fromtimestamp(int(expires), UTC))
