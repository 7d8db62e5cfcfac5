"""Leads (CRM-2..4): sources, states, the TRANSITIONS table, the follow-up log, the intakes a
lead gathered, and the knowledge base's reply scripts (CRM-4, SVC)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class Source(StrEnum):
    FORM = "form"  # the storefront's form
    CHAT = "chat"
    ORDER = "order"
    PHONE = "phone"
    FAIR = "fair"  # a trade fair
    IMPORT = "import"  # a CSV file


class LeadState(StrEnum):
    NEW = "new"  # 新线索
    CONTACTED = "contacted"  # 已联系
    QUALIFIED = "qualified"  # 已确认需求
    CONVERTED = "converted"  # 已成交
    LOST = "lost"  # 已流失


class Grade(StrEnum):
    A = "A"  # high intent and high buying power: followed up within 24 h
    B = "B"  # clear intent, budget open: within 3 days
    C = "C"  # potential need: within 7 days


L = LeadState
TRANSITIONS: dict[LeadState, frozenset[LeadState]] = {
    L.NEW: frozenset({L.CONTACTED, L.CONVERTED, L.LOST}),
    L.CONTACTED: frozenset({L.QUALIFIED, L.CONVERTED, L.LOST}),
    L.QUALIFIED: frozenset({L.CONVERTED, L.LOST}),
    L.CONVERTED: frozenset(),
    L.LOST: frozenset(),
}
# A lead in these states is done: never regraded, never followed up, its phone free for a new lead.
CLOSED_STATES = frozenset({L.CONVERTED, L.LOST})


class Channel(StrEnum):
    """How a follow-up reached the contact."""

    PHONE = "phone"
    WECHAT = "wechat"
    EMAIL = "email"
    CHAT = "chat"
    VISIT = "visit"


class Outcome(StrEnum):
    NO_ANSWER = "no_answer"  # tried; the clock restarts all the same
    REACHED = "reached"
    QUALIFIED = "qualified"  # the need is confirmed: the lead becomes qualified
    LOST = "lost"  # no longer interested: the lead is lost


class LeadClock(StrEnum):
    """A lead's SLA clocks (SLA-1, CRM-3)."""

    FIRST_CONTACT = "lead.first_contact"  # created -> first follow-up, in working days
    FOLLOW_UP = "lead.follow_up"  # a follow-up -> the next one, by grade


def lead_subject(lead_id: int) -> str:
    return f"lead:{lead_id}"


def lead_of_subject(subject: str) -> int:
    return int(subject.removeprefix("lead:"))


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_state_grade", "state", "grade"),
        Index("ix_leads_owner_state", "owner_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Personal data, sealed: {"name": ..., "phone": ...}; found by `phone_hash` (the blind index
    # orders keep too).
    contact: Mapped[dict[str, Any]] = mapped_column(Sealed)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The phone's hash while the lead is open, NULL once closed: at most one open lead per phone,
    # held by the database (concurrent intakes of one phone make one lead).
    open_phone: Mapped[str | None] = mapped_column(String(64), unique=True)
    need_tags: Mapped[list[str]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(20))
    # The grading's inputs besides tags and source: {"quote_asked", "quantity", "budget" (fen)}.
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType)
    grade: Mapped[str] = mapped_column(String(1))
    reasons: Mapped[list[str]] = mapped_column(JSONType)
    grade_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    intakes: Mapped[int] = mapped_column(Integer, default=1)  # how many requests this lead gathered
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))  # the order that converted it
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STATES

    def move_to(self, target: LeadState, at: datetime) -> LeadState:
        """Change state if TRANSITIONS allows it (409 otherwise); returns the state left."""
        previous = LeadState(self.state)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("lead", self.state, target)
        self.state = target
        self.updated_at = at
        match target:
            case L.CONTACTED:
                self.first_contacted_at = self.first_contacted_at or at
            case L.CONVERTED:
                self.converted_at = at
                self.open_phone = None
            case L.LOST:
                self.lost_at = at
                self.open_phone = None
            case L.NEW | L.QUALIFIED:
                pass
        return previous


class FollowUp(Base):
    """One follow-up (CRM-4): how, what came of it, what next, when."""

    __tablename__ = "lead_follow_ups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    next_step: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Intake(Base):
    """One request that made or joined a lead (a second form for the same phone appends here)."""

    __tablename__ = "lead_intakes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))
    # Sealed: {"name", "note", "need_tags", "budget", "quantity", "quote_asked"} as sent.
    details: Mapped[dict[str, Any]] = mapped_column(Sealed)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConversionMark(Base):
    """How far the conversion sweep has read the orders (one row per sweep name)."""

    __tablename__ = "lead_conversion_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_order_id: Mapped[int] = mapped_column(BigInteger)


class Stage(StrEnum):
    """The stages a reply script serves (its `category`)."""

    FIRST_TOUCH = "first_touch"
    NEEDS_DISCOVERY = "needs_discovery"
    OBJECTION = "objection"
    CLOSING = "closing"
