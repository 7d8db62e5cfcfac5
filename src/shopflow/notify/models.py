"""Notifications (NTF-1, ORD-8): webhook subscribers, deliveries with their state, the attempt log.

An outbox event fans out into deliveries, one per channel and recipient (the customer's email
and phone, each webhook subscriber). A delivery is sent until it succeeds or has failed
`policy.notify.max_attempts` times in a row (dead letter); it keeps one idempotency id for every
attempt, so a receiver can drop a repeat (delivery is at-least-once).

A worker claims a delivery with a lease (`claimed_by`, `lease_until`) and records its attempt as
`sending` before it sends; the attempt then becomes `sent` or `failed`. A worker killed in between
leaves the `sending` attempt; once the lease has run out the next worker marks it `interrupted`
(it may or may not have arrived) and sends again under the same idempotency id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class AttemptStatus(StrEnum):
    SENDING = "sending"  # recorded before the send; still so while it lasts, or if its worker died
    SENT = "sent"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its worker died mid-send: it may have arrived; sent again after


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at `next_attempt_at`
    DELIVERED = "delivered"
    DEAD = "dead"  # failed `max_attempts` times, or its webhook is gone; only a person requeues it


D = DeliveryState
# A failed attempt below the limit keeps the delivery pending, with a later `next_attempt_at`.
TRANSITIONS: dict[DeliveryState, frozenset[DeliveryState]] = {
    D.PENDING: frozenset({D.DELIVERED, D.DEAD}),
    D.DEAD: frozenset({D.PENDING}),
    D.DELIVERED: frozenset(),
}

# The customer notices of ORD-8 (and ORD-4's stock-shortage hold), and of an after-sales case's
# decisions, its goods' arrival and its refund (issue 11, item 7); other events go to webhooks only.
CASE_EVENTS = frozenset(
    {"aftersales.approved", "aftersales.rejected", "aftersales.received", "aftersales.refunded"}
)
CUSTOMER_EVENTS = (
    frozenset(
        {
            "order.confirmed",
            "order.paid",
            "order.shipped",
            "order.delivered",
            "order.cancelled",
            "order.on_hold",
            "order.backordered",  # ORD-4: held for stock, with its expected ship date
        }
    )
    | CASE_EVENTS
)
ERROR_LENGTH = 500


def matches(patterns: list[str], event: str) -> bool:
    """Whether a subscriber with these event filters wants `event`."""
    for pattern in patterns:
        if pattern == "*" or pattern == event:
            return True
        if pattern.endswith(".*") and event.startswith(pattern[:-1]):
            return True
    return False


def backoff(failures: int, base_seconds: int) -> timedelta:
    """The wait after the `failures`-th failed attempt: base, 2×base, 4×base, …"""
    return timedelta(seconds=base_seconds * 2 ** (failures - 1))


class Webhook(Base):
    """A subscriber: events matching `events` are POSTed to `url`, signed with `secret`."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    # The signing key, encrypted at rest; shown once, when the subscriber is created.
    secret: Mapped[str] = mapped_column(Sealed)
    events: Mapped[list[str]] = mapped_column(JSONType)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def wants(self, event: str) -> bool:
        return self.deleted_at is None and matches(self.events, event)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt to send a delivery came to."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    final: bool = False  # a failure no retry can mend (e.g. the webhook was deleted)


class Delivery(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        # One delivery per outbox event, channel and target: a fan-out done twice adds nothing.
        UniqueConstraint("outbox_id", "channel", "target"),
        Index(
            "ix_notification_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_notification_deliveries_state_channel", "state", "channel", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    event: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(40))  # "customer", or "webhook:<id>"
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"), index=True)
    # Sent as X-Shopflow-Delivery (and in the body) on every attempt: the receiver's dedupe key.
    idempotency_id: Mapped[str] = mapped_column(String(36), unique=True)
    recipient: Mapped[str] = mapped_column(String(500))  # masked for people, the URL for webhooks
    # The rendered message, encrypted at rest (it carries the customer's address and name).
    message: Mapped[dict[str, Any]] = mapped_column(Sealed)
    state: Mapped[str] = mapped_column(String(20))
    failures: Mapped[int] = mapped_column(Integer)  # failed attempts since created or requeued
    # Attempts in a row whose worker died mid-send (neither sent nor failed: not failures).
    interruptions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    # The worker sending it ("host:pid:batch") and until when no other worker may: set when
    # claimed, cleared when the attempt's outcome is recorded.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    log: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.id", lazy="raise")

    def _move_to(self, target: DeliveryState) -> DeliveryState:
        previous = DeliveryState(self.state)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("delivery", previous, target)
        self.state = target
        return previous

    def claim(self, worker: str, at: datetime, lease_seconds: int) -> None:
        """Reserve the delivery for `worker`'s attempt: no other worker takes it before the lease ends."""
        self.claimed_by = worker
        self.lease_until = at + timedelta(seconds=lease_seconds)

    def interrupted(self, at: datetime, max_interruptions: int) -> bool:
        """Its last claim ran out unrecorded: its worker died mid-send. Dead (and True) once that
        has happened `max_interruptions` times in a row; else it is sent again."""
        self.interruptions += 1
        if self.interruptions < max_interruptions:
            return False
        self.claimed_by = None
        self.lease_until = None
        self.last_error = f"its worker died while sending it {self.interruptions} times in a row"
        self._move_to(D.DEAD)
        self.dead_at = at
        return True

    def record(self, outcome: Outcome, at: datetime, max_attempts: int, backoff_seconds: int) -> None:
        """Apply an attempt's outcome: delivered, retried after a back-off, or dead; the claim ends."""
        self.claimed_by = None
        self.lease_until = None
        self.interruptions = 0
        if outcome.ok:
            self._move_to(D.DELIVERED)
            self.delivered_at = at
            self.last_error = None
            return
        self.failures += 1
        self.last_error = (outcome.error or "failed")[:ERROR_LENGTH]
        if outcome.final or self.failures >= max_attempts:
            self._move_to(D.DEAD)
            self.dead_at = at
        else:
            self.next_attempt_at = at + backoff(self.failures, backoff_seconds)

    def requeue(self, at: datetime) -> None:
        """A person sends a dead delivery again: due now, with a fresh run of attempts."""
        self._move_to(D.PENDING)
        self.failures = 0
        self.interruptions = 0
        self.next_attempt_at = at
        self.dead_at = None


class DeliveryAttempt(Base):
    """The delivery log: every attempt, recorded before it is sent, with its outcome (HTTP status
    or error), time and duration."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    duration_ms: Mapped[int] = mapped_column(Integer)

    @property
    def ok(self) -> bool:
        return self.status == AttemptStatus.SENT

    def finish(self, outcome: Outcome) -> None:
        """The send's outcome, also when the attempt was meanwhile taken for interrupted (a send
        slower than its lease): what happened is what the log shows."""
        self.status = AttemptStatus.SENT if outcome.ok else AttemptStatus.FAILED
        self.status_code = outcome.status_code
        self.error = None if outcome.ok else (outcome.error or "failed")[:ERROR_LENGTH]
        self.duration_ms = outcome.duration_ms
