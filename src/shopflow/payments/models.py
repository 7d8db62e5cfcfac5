"""Payments, gateway callbacks and the receipts ledger (PAY-1, PAY-2, PAY-5)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
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

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(30))
    method: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def can_move_to(self, target: PaymentStatus) -> bool:
        return target in TRANSITIONS[PaymentStatus(self.status)]

    def move_to(self, target: PaymentStatus, at: datetime) -> None:
        if not self.can_move_to(target):
            raise InvalidTransition("payment", self.status, target)
        self.status = target
        self.updated_at = at


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
