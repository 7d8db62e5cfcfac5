"""Shipments with their tracking events (FUL-4, FUL-5) and exception cases (FUL-6)."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.fulfillment.models.transitions import checked


class ShipmentStatus(StrEnum):
    SHIPPED = "shipped"  # handed to the carrier
    IN_TRANSIT = "in_transit"
    EXCEPTION = "exception"  # damaged, lost or another carrier-reported problem
    DELIVERED = "delivered"
    RETURNED = "returned"  # returned to sender


SS = ShipmentStatus
WAYBILL_DIGITS = 12


def new_waybill(carrier_code: str) -> str:
    """A waybill number drawn for a parcel given none: the carrier's code, a dash and 12 random
    digits ("SF-038215907461"), never mistaken for an order number (SF + date + digits)."""
    return f"{carrier_code}-{secrets.randbelow(10**WAYBILL_DIGITS):0{WAYBILL_DIGITS}d}"


SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    SS.SHIPPED: frozenset({SS.IN_TRANSIT, SS.EXCEPTION, SS.DELIVERED, SS.RETURNED}),
    SS.IN_TRANSIT: frozenset({SS.EXCEPTION, SS.DELIVERED, SS.RETURNED}),
    SS.EXCEPTION: frozenset({SS.IN_TRANSIT, SS.DELIVERED, SS.RETURNED}),
    SS.DELIVERED: frozenset(),
    SS.RETURNED: frozenset(),
}


class TrackingStatus(StrEnum):
    """The events a carrier reports (FUL-5)."""

    PICKED_UP = "picked_up"  # 已揽收
    IN_TRANSIT = "in_transit"  # 运输中
    AT_HUB = "at_hub"  # 到达网点
    OUT_FOR_DELIVERY = "out_for_delivery"  # 派送中
    DELIVERED = "delivered"  # 已签收
    EXCEPTION = "exception"  # 异常
    DAMAGED = "damaged"  # 破损
    LOST = "lost"  # 丢失
    RETURNED = "returned"  # 退回


# The Chinese names carriers' exports use, accepted beside the codes.
TRACKING_LABELS: dict[str, TrackingStatus] = {
    "已揽收": TrackingStatus.PICKED_UP,
    "运输中": TrackingStatus.IN_TRANSIT,
    "到达网点": TrackingStatus.AT_HUB,
    "派送中": TrackingStatus.OUT_FOR_DELIVERY,
    "已签收": TrackingStatus.DELIVERED,
    "异常": TrackingStatus.EXCEPTION,
    "破损": TrackingStatus.DAMAGED,
    "丢失": TrackingStatus.LOST,
    "退回": TrackingStatus.RETURNED,
}


class ExceptionKind(StrEnum):
    STUCK = "stuck"  # no tracking event for the policy's hours
    DAMAGED = "damaged"
    LOST = "lost"
    RETURNED = "returned"
    OTHER = "other"  # another problem the carrier reported


class ShipmentClock(StrEnum):
    NO_EVENT = "shipment.no_event"  # FUL-6: restarted by every newer event
    EXCEPTION_CONTACT = "shipment.exception_contact"  # FUL-6: the customer hears a solution


def shipment_status_for(event: TrackingStatus) -> ShipmentStatus:
    match event:
        case (
            TrackingStatus.PICKED_UP
            | TrackingStatus.IN_TRANSIT
            | TrackingStatus.AT_HUB
            | TrackingStatus.OUT_FOR_DELIVERY
        ):
            return SS.IN_TRANSIT
        case TrackingStatus.DELIVERED:
            return SS.DELIVERED
        case TrackingStatus.EXCEPTION | TrackingStatus.DAMAGED | TrackingStatus.LOST:
            return SS.EXCEPTION
        case TrackingStatus.RETURNED:
            return SS.RETURNED
        case _:
            assert_never(event)


def exception_kind_for(event: TrackingStatus) -> ExceptionKind | None:
    """The exception case an event opens (FUL-6), if any."""
    match event:
        case (
            TrackingStatus.PICKED_UP
            | TrackingStatus.IN_TRANSIT
            | TrackingStatus.AT_HUB
            | TrackingStatus.OUT_FOR_DELIVERY
            | TrackingStatus.DELIVERED
        ):
            return None
        case TrackingStatus.EXCEPTION:
            return ExceptionKind.OTHER
        case TrackingStatus.DAMAGED:
            return ExceptionKind.DAMAGED
        case TrackingStatus.LOST:
            return ExceptionKind.LOST
        case TrackingStatus.RETURNED:
            return ExceptionKind.RETURNED
        case _:
            assert_never(event)


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_carrier_shipped", "carrier_id", "shipped_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("pick_tasks.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    tracking_no: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    weight_g: Mapped[int] = mapped_column(Integer)
    expected_cost: Mapped[int] = mapped_column(BigInteger)  # fen, by the carrier's tariff
    billed_cost: Mapped[int | None] = mapped_column(BigInteger)  # fen, from its freight bill (FUL-8)
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deliver_by: Mapped[datetime] = mapped_column(UTCDateTime)  # the delivery promise (ORD-6)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event: Mapped[str | None] = mapped_column(String(20))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def finished(self) -> bool:
        return not SHIPMENT_TRANSITIONS[ShipmentStatus(self.status)]

    def track(self, event: TrackingStatus, at: datetime) -> ShipmentStatus | None:
        """Take a newly stored event into account; returns the status left, if it changed.

        Events count in their own time order: an event older than the latest one known is kept
        in the timeline but moves nothing (FUL-5). A finished shipment stays finished.
        """
        if self.last_event_at is not None and at < self.last_event_at:
            return None
        if self.finished:
            return None
        self.last_event = event
        self.last_event_at = at
        previous = ShipmentStatus(self.status)
        target = shipment_status_for(event)
        if target is previous:
            return None
        self.status = checked("shipment", SHIPMENT_TRANSITIONS, previous, target)
        if target is SS.DELIVERED:
            self.delivered_at = at
        return previous


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    # A repeated event (same parcel, status and time) is stored once (FUL-5).
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20))  # push or import
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # the customer was contacted with a solution


CASE_TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.OPEN: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
}


class ShipmentException(Base):
    """FUL-6: a parcel problem that must reach the customer with a solution in time."""

    __tablename__ = "shipment_exceptions"
    __table_args__ = (
        # One open case per parcel and kind: a repeated report adds nothing.
        Index(
            "uq_shipment_exceptions_open",
            "shipment_id",
            "kind",
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    contact_by: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    solution: Mapped[str | None] = mapped_column(Text)

    def close(self, solution: str, at: datetime, by: int | None) -> CaseState:
        previous = CaseState(self.state)
        self.state = checked("exception case", CASE_TRANSITIONS, previous, CaseState.CLOSED)
        self.solution = solution
        self.closed_at = at
        self.closed_by = by
        return previous


def case_subject(case_id: int) -> str:
    return f"exception:{case_id}"


def shipment_subject(shipment_id: int) -> str:
    return f"shipment:{shipment_id}"


def shipment_of_subject(subject: str) -> int:
    kind, _, ident = subject.partition(":")
    if kind != "shipment" or not ident.isdigit():
        raise ValueError(f"not a shipment subject: {subject!r}")
    return int(ident)
