from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from shopflow.core.money import Amount, AmountText
from shopflow.core.risk_policy import Quantile
from shopflow.core.schemas import AwareWhen, Id, Input
from shopflow.risk.models import BlockKind, Decision, ReviewState, RuleMode

Weight = Annotated[int, Field(ge=0, le=1000)]
Minutes = Annotated[int, Field(ge=1, le=1440)]
Limit = Annotated[int, Field(ge=1, le=10_000)]
Word = Annotated[str, Field(min_length=1, max_length=40)]


# --- each rule's parameters (RSK-1) ---


class VelocityParams(Input):
    limit: Limit
    window_minutes: Minutes


class WindowParams(Input):
    window_minutes: Minutes


class WordsParams(Input):
    words: list[Word] = Field(max_length=200)


class AreasParams(Input):
    areas: list[Word] = Field(max_length=200)


class NoParams(Input):
    pass


class FirstOrderParams(Input):
    """Unusual: above the `quantile` of the store's order totals of the last `days`, once it has
    `min_orders` of them; until then above `over`. A row saved before these existed reads the
    policy's (`rules.in_force`)."""

    over: AmountText
    quantile: Quantile | None = None
    days: Annotated[int, Field(ge=1, le=3650)] | None = None
    min_orders: Annotated[int, Field(ge=1, le=10_000_000)] | None = None


class LimitParams(Input):
    limit: Limit


class ThresholdParams(Input):
    review: Annotated[int, Field(ge=1, le=10_000)]
    reject: Annotated[int, Field(ge=1, le=10_000)]

    @model_validator(mode="after")
    def _rising(self) -> ThresholdParams:
        if self.reject < self.review:
            raise ValueError("reject must be at least review")
        return self


PARAMS: dict[str, type[Input]] = {
    "velocity_ip": VelocityParams,
    "velocity_device": VelocityParams,
    "duplicate": WindowParams,
    "sensitive_words": WordsParams,
    "remote_area": AreasParams,
    "name_mismatch": NoParams,
    "first_order_value": FirstOrderParams,
    "blocked": NoParams,
    "failed_payments": LimitParams,
    "thresholds": ThresholdParams,
}


class RuleIn(Input):
    """A rule's new version: its weight, mode and parameters (a field left out keeps the rule's
    current value). Code `thresholds` sets `review` and `reject` in `params`."""

    code: Annotated[str, Field(min_length=1, max_length=40)]
    weight: Weight | None = None
    mode: RuleMode | None = None
    params: dict[str, Any] | None = None
    note: Annotated[str, Field(max_length=200)] = ""


class RuleOut(BaseModel):
    code: str
    version: int  # 0: the policy's default, never edited
    weight: int
    mode: RuleMode
    params: dict[str, Any]
    shadow_hits_7d: int = 0  # orders it scored in shadow mode in the last 7 days


class RulesOut(BaseModel):
    version: int
    review: int
    reject: int
    rules: list[RuleOut]


class ReasonOut(BaseModel):
    rule: str
    version: int
    mode: RuleMode
    score: int
    reason: str


class ScoreOut(BaseModel):
    stage: str
    score: int
    decision: Decision
    shadow_score: int
    shadow_decision: Decision
    rules_version: int
    reasons: list[ReasonOut]
    created_at: datetime


class ReviewOut(BaseModel):
    order_id: int
    order_no: str
    order_status: str
    total: Amount
    state: ReviewState
    decision: Decision
    score: int
    reasons: list[ReasonOut]
    assignee_id: int | None
    opened_at: datetime
    due_at: datetime
    late: bool
    decided_at: datetime | None
    reason: str | None


class SimilarOut(BaseModel):
    """Another buyer's order from the same IP address (RSK-2)."""

    order_id: int
    order_no: str
    status: str
    total: Amount
    created_at: datetime


class OrderRiskOut(BaseModel):
    order_id: int
    score: int | None  # None: the order was never scored (placed before risk, or a replacement)
    decision: Decision | None
    rules_version: int | None
    reasons: list[ReasonOut]
    scores: list[ScoreOut]
    review: ReviewOut | None
    similar_orders: list[SimilarOut]  # with a review: other buyers' orders from its IP, latest first


class DecisionIn(Input):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AssignIn(Input):
    assignee_id: Id | None


class BlockIn(Input):
    """A phone (a mobile), an address (its text, matched normalised), an IP or a device id."""

    kind: BlockKind
    value: Annotated[str, Field(min_length=1, max_length=300)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    expires_at: AwareWhen | None = None  # None: the policy's `block_days` from now


class BlockOut(BaseModel):
    id: int
    kind: BlockKind
    value: str  # a phone or address masked
    reason: str
    author: str
    created_at: datetime
    expires_at: datetime
