"""Payments, gateway callbacks, the receipts ledger and the refund ledger (PAY-1..3, PAY-5, ASV-4)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


P = PaymentStatus
# A success after a failure is accepted: the gateway captured the money. Nothing leaves success.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.PENDING: frozenset({P.SUCCEEDED, P.FAILED}),
    P.FAILED: frozenset({P.SUCCEEDED}),
    P.SUCCEEDED: frozenset(),
}


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("refund_reserved >= 0 AND refund_reserved <= amount", name="refund_within_amount"),
        # The worker's query of payments whose notification may have been missed (PAY-2).
        Index(
            "ix_payments_pending_created_at",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(30))
    method: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # PAY-3: the refunds not failed (requested, pending, succeeded), reserved by one conditional
    # UPDATE; always the sum of those rows of `refunds` (a ledger, this its running total).
    refund_reserved: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The provider's number of the trade (Alipay trade_no, WeChat Pay transaction_id), once paid.
    provider_reference: Mapped[str | None] = mapped_column(String(80), default=None)
    # When the worker last asked the provider about it, still pending (a notification missed).
    queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def out_trade_no(self) -> str:
        return payment_number(self.id)

    @property
    def captured(self) -> int:
        """The money the gateway captured: the amount once the payment succeeded, else nothing."""
        return self.amount if self.status == PaymentStatus.SUCCEEDED else 0

    def can_move_to(self, target: PaymentStatus) -> bool:
        return target in TRANSITIONS[PaymentStatus(self.status)]

    def move_to(self, target: PaymentStatus, at: datetime) -> None:
        if not self.can_move_to(target):
            raise InvalidTransition("payment", self.status, target)
        self.status = target
        self.updated_at = at


_NUMBER = re.compile(r"SF(\d{12,18})")
# What WeChat Pay (and Alipay) accept as a refund's number: out_refund_no / out_request_no.
_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")


def payment_number(payment_id: int) -> str:
    """Our payment number, the `out_trade_no` the provider echoes: SF and 12 or more digits."""
    return f"SF{payment_id:012d}"


def payment_id_of(number: str) -> int | None:
    """The payment a payment number names; None for a number that is not one of ours."""
    found = _NUMBER.fullmatch(number)
    return int(found.group(1)) if found else None


def refund_number(key: str) -> str:
    """A refund's number at the provider (out_request_no, out_refund_no), from its idempotency key
    alone, so every retry under the key is the same refund there: the key itself when the
    providers accept it, else a digest of it."""
    if _REFUND_NO.fullmatch(key):
        return key
    return "SFK" + hashlib.sha256(key.encode()).hexdigest()[:40]


class CallbackResult(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the same event delivered again: nothing changes (PAY-2)
    IGNORED = "ignored"  # e.g. a failure arriving after the success
    AMOUNT_MISMATCH = "amount_mismatch"  # rejected and alerted (PAY-2)
    ORDER_NOT_PAYABLE = "order_not_payable"  # money captured for an order that cannot take it


class PaymentCallback(Base):
    """Every verified callback, once per (provider, event id): the idempotency record."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str] = mapped_column(String(80))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(30))
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentReceipt(Base):
    """PAY-5: the receipts ledger: time, amount, method, customer, order."""

    __tablename__ = "payment_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- the refund ledger (PAY-3, ASV-4) ---------------------------------------------------------


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # its amount reserved on the payment, not yet with the gateway
    PENDING = "pending"  # the gateway accepted it; its callback settles it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # its reservation released, its key kept: a retry reuses it


RS = RefundStatus
# A failed refund is retried under its key (-> requested, reserved again), or settled by a
# callback arriving after the time-out that failed it (-> succeeded). A requested one is settled
# by a success callback that beat the gateway's own answer (the API commits the reservation before
# it meets the gateway). Nothing leaves success.
REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RS.REQUESTED: frozenset({RS.PENDING, RS.FAILED, RS.SUCCEEDED}),
    RS.PENDING: frozenset({RS.SUCCEEDED, RS.FAILED}),
    RS.FAILED: frozenset({RS.REQUESTED, RS.SUCCEEDED}),
    RS.SUCCEEDED: frozenset(),
}
# The states whose amount is reserved on the payment (`Payment.refund_reserved`).
RESERVING = frozenset({RS.REQUESTED, RS.PENDING, RS.SUCCEEDED})


class Refund(Base):
    """One refund of (part of) a payment, once per idempotency key."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_settled_at", "settled_at"),  # net sales by settlement (ANA-1)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # the after-sales case, if any
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    provider_reference: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200))
    failure: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def reserving(self) -> bool:
        return RefundStatus(self.status) in RESERVING

    def can_move_to(self, target: RefundStatus) -> bool:
        return target in REFUND_TRANSITIONS[RefundStatus(self.status)]

    def move_to(self, target: RefundStatus, at: datetime) -> RefundStatus:
        if not self.can_move_to(target):
            raise InvalidTransition("refund", self.status, target)
        previous = RefundStatus(self.status)
        self.status = target
        self.updated_at = at
        return previous

    def submitted(self, reference: str, at: datetime) -> RefundStatus:
        """The gateway accepted it under `reference`."""
        previous = self.move_to(RS.PENDING, at)
        self.provider_reference = reference
        self.failure = None
        return previous

    def retry(self, at: datetime) -> RefundStatus:
        """Requested again under its key, its amount reserved again."""
        return self.move_to(RS.REQUESTED, at)

    def fail(self, why: str, at: datetime) -> RefundStatus:
        """The gateway refused it, timed out, or called back a failure."""
        previous = self.move_to(RS.FAILED, at)
        self.failure = why[:200]
        return previous

    def succeed(self, at: datetime) -> RefundStatus:
        previous = self.move_to(RS.SUCCEEDED, at)
        self.failure = None
        self.settled_at = at
        return previous


class RefundCallbackResult(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the same event delivered again: nothing changes
    IGNORED = "ignored"  # a repeat of the refund's settled outcome under a new event id
    REFUSED = "refused"  # a failure after success, or a late success with no room left: recorded
    AMOUNT_MISMATCH = "amount_mismatch"  # rejected and alerted


def refund_callback_result(refund: Refund, outcome: str, amount: int) -> RefundCallbackResult:
    """What a verified refund callback does to `refund` (duplicates aside): a pure rule."""
    if amount != refund.amount:
        return RefundCallbackResult.AMOUNT_MISMATCH
    status = RefundStatus(refund.status)
    target = RS.SUCCEEDED if outcome == "succeeded" else RS.FAILED
    if status is target:
        return RefundCallbackResult.IGNORED
    if status is RS.SUCCEEDED:  # a failure after success: the money left, the failure is wrong
        return RefundCallbackResult.REFUSED
    return RefundCallbackResult.APPLIED


class RefundCallback(Base):
    """Every verified refund callback, once per (provider, event id)."""

    __tablename__ = "refund_callbacks"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    event_id: Mapped[str] = mapped_column(String(80))
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(30))
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RefundRetry(Base):
    """The worker's retries of a failed case refund (PAY-3): each under the refund's own
    idempotency key, so the gateway pays it once however often it is tried."""

    __tablename__ = "refund_retries"

    refund_id: Mapped[int] = mapped_column(BigId, ForeignKey("refunds.id"), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)  # tried by the worker so far
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: given up and alerted
