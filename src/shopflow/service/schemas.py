from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.schemas import Id, Input
from shopflow.service.models import Category, MessageKind, Priority, TicketChannel, TicketState, TicketType

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
OrderNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class TicketIn(Input):
    """A ticket (SVC-1): the customer by phone (found among customers) or by id; the order by id
    or number; the first inbound message, if any, as `body`."""

    type: TicketType
    channel: TicketChannel
    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    priority: Priority = Priority.NORMAL
    category: Category = Category.OTHER
    phone: str | None = Field(default=None, max_length=30)
    customer_id: Id | None = None
    order_id: Id | None = None
    order_no: OrderNo | None = None
    case_id: Id | None = None
    body: Text | None = None
    assignee: str | None = Field(default=None, max_length=80, description="a username; else SVC-3 assigns")


class MessageIn(Input):
    body: Text
    kind: Literal["outbound", "internal"] = "outbound"


class InboundIn(Input):
    body: Text


class AssignIn(Input):
    user: str = Field(min_length=1, max_length=80)


class EscalateIn(Input):
    reason: Reason


class ClockOut(BaseModel):
    kind: str
    state: str
    deadline: datetime
    late: bool


class MessageOut(BaseModel):
    id: int
    kind: MessageKind
    author: str
    body: str
    at: datetime


class TicketOut(BaseModel):
    id: int
    type: TicketType
    channel: TicketChannel
    priority: Priority
    category: Category
    state: TicketState
    subject: str
    customer_id: int | None
    phone: str | None
    order_id: int | None
    case_id: int | None
    assignee: str | None
    escalation: str | None
    escalation_reason: str | None
    escalated_to: str | None
    escalated_at: datetime | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    late: bool = False
    clocks: list[ClockOut] = []
    messages: list[MessageOut] = []


class ReviewIn(Input):
    """A review from a review site or a marketplace (SVC-7)."""

    channel: Literal["review_site", "marketplace"]
    order_no: OrderNo | None = None
    rating: int = Field(ge=1, le=5)
    text: Text


class ReviewOut(BaseModel):
    id: int
    ticket_id: int | None  # the negative_review ticket it opened; null when it opened none


class SurveyIn(Input):
    """A customer's answer to a survey (SVC-6)."""

    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class SurveyOut(BaseModel):
    survey_id: int
    kind: str
    score: int
    follow_up_ticket_id: int | None


class CallbackOut(BaseModel):
    id: int
    reason: str
    ticket_id: int | None
    customer_id: int | None
    assignee: str | None
    due_at: datetime
    done_at: datetime | None


class AgentMonthOut(BaseModel):
    """One agent's month (STF-2); rates are fractions 0..1 (null when nothing was counted)."""

    user_id: int
    username: str
    handled: int
    first_responses: int
    first_response_breaches: int
    response_clocks_ended: int
    response_timeout_rate: float | None
    resolution_rate: float | None
    resolution_24h_rate: float | None
    satisfaction: float | None
    satisfaction_answers: int
    flagged: bool


class AgentMetricsOut(BaseModel):
    month: str
    timeout_rate_limit: float
    agents: list[AgentMonthOut]


class ScriptOut(BaseModel):
    """A reply script rendered for one ticket (SVC-4): `text` has the customer's name and the
    order number filled in, ready to send."""

    id: int
    title: str
    text: str
    language: str
    category: str
