"""Risk (RSK-1, RSK-2): the rules' versioned rows, each order's scores, the review of a held order,
the velocity counters and the blocklists; their states and TRANSITIONS."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class RuleMode(StrEnum):
    ACTIVE = "active"  # scored, and counts towards the order's total
    SHADOW = "shadow"  # scored and recorded, no effect (RSK-1: what it would have held)


class Decision(StrEnum):
    PASS = "pass"
    REVIEW = "review"  # held for review (ORD-3 `on_hold`, `risk_review`)
    REJECT = "reject"  # held and marked for cancellation review


class Stage(StrEnum):
    INTAKE = "intake"
    PAYMENT = "payment"  # the payment rules, when the order's payment is captured


class ReviewState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


R = ReviewState
TRANSITIONS: dict[ReviewState, frozenset[ReviewState]] = {
    R.OPEN: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset(),
    R.REJECTED: frozenset(),
}


class BlockKind(StrEnum):
    PHONE = "phone"  # by the phone's keyed hash (`crypto.vault().lookup_hash`)
    ADDRESS = "address"  # by the keyed hash of the normalised address (`rules.normalised_address`)
    IP = "ip"
    DEVICE = "device"


class CounterKind(StrEnum):
    """A velocity window's counter rows (one per key and minute, upserted at intake)."""

    IP = "ip"
    DEVICE = "device"
    DUPLICATE = "duplicate"  # the same customer, items and address (`rules.order_fingerprint`)


class RiskRule(Base):
    """One version of a rule (or of the thresholds, code `thresholds`): a rule's current version is
    its latest row; a rule without rows scores by the policy's defaults (version 0). Append-only:
    a change is a new version, so every score names the versions it was made with."""

    __tablename__ = "risk_rules"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("weight >= 0", name="weight_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10))  # RuleMode
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RiskScore(Base):
    """An order's score at a stage: the total of its active rules, the decision it made, what
    the shadow rules would have added and decided, and why (`reasons`: one entry per rule that
    scored, with its version, mode, score and sentence)."""

    __tablename__ = "risk_scores"
    __table_args__ = (
        UniqueConstraint("order_id", "stage"),
        # The shadow results of the last days: only the scores a shadow rule added to (an order
        # scored by active rules alone writes no entry here).
        Index(
            "ix_risk_scores_shadow",
            "created_at",
            postgresql_where=text("shadow_score > 0"),
            sqlite_where=text("shadow_score > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    stage: Mapped[str] = mapped_column(String(10))  # Stage
    score: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))  # Decision
    shadow_score: Mapped[int] = mapped_column(Integer)
    shadow_decision: Mapped[str] = mapped_column(String(10))  # with the shadow rules counted
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    rules_version: Mapped[int] = mapped_column(Integer)  # the latest rule row in force (0: defaults)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RiskReview(Base):
    """The review of an order held for risk (RSK-2): open until a reviewer approves (the hold is
    released) or rejects (the order is cancelled and refunded); its clock is the order's
    `risk_review` SLA clock."""

    __tablename__ = "risk_reviews"
    __table_args__ = (Index("ix_risk_reviews_state_opened", "state", "opened_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    state: Mapped[str] = mapped_column(String(10))  # ReviewState
    decision: Mapped[str] = mapped_column(String(10))  # Decision: review, or reject (to cancel)
    score: Mapped[int] = mapped_column(Integer)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))

    def decide(self, target: ReviewState, by: int | None, reason: str, at: datetime) -> ReviewState:
        """Approved or rejected, once (TRANSITIONS): InvalidTransition (409) otherwise."""
        current = ReviewState(self.state)
        if target not in TRANSITIONS[current]:
            raise InvalidTransition("risk_review", current, target)
        self.state = target
        self.decided_by = by
        self.decided_at = at
        self.reason = reason
        return current


class RiskCounter(Base):
    """A velocity window's count for one key and minute (RSK-1): intake upserts it, the rules sum
    the minutes of their window by the primary key; the worker deletes old minutes."""

    __tablename__ = "risk_counters"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # CounterKind
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class BlockEntry(Base):
    """A blocked phone, address, IP or device (RSK-1): `value_key` is what intake matches (a keyed
    hash for a phone or an address, the text for an IP or a device), `shown` what staff see (a
    phone or address masked). It ends at `expires_at`, or when removed."""

    __tablename__ = "risk_blocks"
    __table_args__ = (Index("ix_risk_blocks_value", "kind", "value_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # BlockKind
    value_key: Mapped[str] = mapped_column(String(128))
    shown: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
