from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import MAX_INT32, Input, When
from shopflow.crm.leads.models import Channel, Grade, LeadState, Outcome, Source

# A mainland mobile number: 11 digits starting with 1 (what orders accept too).
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1[0-9]{10}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class LeadIn(Input):
    """A lead as the storefront's form or a person sends it (CRM-2)."""

    name: Name
    phone: Phone
    need_tags: list[Tag] = Field(min_length=1, max_length=20)
    source: Source = Source.FORM
    note: str | None = Field(default=None, max_length=2000)
    budget: AmountText | None = None
    quantity: int | None = Field(default=None, ge=1, le=MAX_INT32)
    quote_asked: bool = False


class StaffLeadIn(LeadIn):
    """A lead a person enters, optionally naming its owner (else CRM-4 assigns it)."""

    owner: str | None = Field(default=None, max_length=80, description="a sales user's username")


class FollowUpIn(Input):
    channel: Channel
    outcome: Outcome
    next_step: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=2000)
    at: When | None = None  # when it happened; now when left out


class GradeIn(Input):
    grade: Grade
    reason: str = Field(min_length=1, max_length=500)


class AssignIn(Input):
    user: str = Field(min_length=1, max_length=80)


class IntakeOut(BaseModel):
    """The storefront's answer: the lead, its grade and why; `appended` when the phone already
    had an open lead and this request joined it."""

    id: int
    grade: Grade
    reasons: list[str]
    appended: bool


class FollowUpOut(BaseModel):
    id: int
    channel: Channel
    outcome: Outcome
    next_step: str | None
    note: str | None
    at: datetime
    by: str | None


class ClockOut(BaseModel):
    kind: str
    state: str
    deadline: datetime
    late: bool


class LeadOut(BaseModel):
    id: int
    name: str
    phone: str
    need_tags: list[str]
    source: Source
    grade: Grade
    reasons: list[str]
    grade_overridden: bool
    state: LeadState
    owner: str | None
    note: str | None
    quote_asked: bool
    quantity: int | None
    budget: Amount | None
    intakes: int
    order_id: int | None
    appended: bool = False
    created_at: datetime
    first_contacted_at: datetime | None
    last_follow_up_at: datetime | None
    converted_at: datetime | None
    clocks: list[ClockOut] = []
    follow_ups: list[FollowUpOut] = []
