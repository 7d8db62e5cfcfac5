"""Fulfillment (FUL-1..8): waves of pick tasks, packing with a quality check, carriers and the
rule table choosing them, shipments with their tracking events, exception cases, freight bills.

A pick task is one order's part in one warehouse: the parcel that warehouse packs and ships. An
order served from two warehouses has two tasks, two parcels, two shipments (split shipment).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar, assert_never
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition

E = TypeVar("E", bound=StrEnum)


def _checked(subject: str, table: Mapping[E, frozenset[E]], current: E, target: E) -> E:
    if target not in table[current]:
        raise InvalidTransition(subject, current, target)
    return target


# --- waves and pick tasks (FUL-1, FUL-2) -----------------------------------------------------


class WaveStatus(StrEnum):
    OPEN = "open"  # its tasks are being picked, packed and shipped
    DONE = "done"  # every task shipped


WAVE_TRANSITIONS: dict[WaveStatus, frozenset[WaveStatus]] = {
    WaveStatus.OPEN: frozenset({WaveStatus.DONE}),
    WaveStatus.DONE: frozenset(),
}


class TaskStatus(StrEnum):
    PICKING = "picking"  # 拣货中
    PACKED = "packed"  # packed, weighed, waiting for the quality check
    CHECKED = "checked"  # quality check passed: ready to ship
    SHIPPED = "shipped"


T = TaskStatus
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    T.PICKING: frozenset({T.PACKED}),
    T.PACKED: frozenset({T.CHECKED, T.PICKING}),  # FUL-2: a failed check goes back to picking
    T.CHECKED: frozenset({T.SHIPPED}),
    T.SHIPPED: frozenset(),
}
# The task is packed (or further): when all of an order's tasks are, the order is `packed`.
PACKED_OR_LATER = frozenset({T.PACKED, T.CHECKED, T.SHIPPED})


class Wave(Base):
    __tablename__ = "waves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wave_no: Mapped[str] = mapped_column(String(32), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def move_to(self, target: WaveStatus, at: datetime) -> WaveStatus:
        previous = WaveStatus(self.status)
        self.status = _checked("wave", WAVE_TRANSITIONS, previous, target)
        if target is WaveStatus.DONE:
            self.done_at = at
        return previous


class PickTask(Base):
    __tablename__ = "pick_tasks"
    __table_args__ = (UniqueConstraint("order_id", "warehouse_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_no: Mapped[str] = mapped_column(String(32))  # printed on lists and slips
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20))
    weight_g: Mapped[int | None] = mapped_column(Integer)
    materials: Mapped[list[str] | None] = mapped_column(JSONType)
    qc_failures: Mapped[int] = mapped_column(Integer, default=0)
    qc_note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[PickTaskLine]] = relationship(order_by="PickTaskLine.id", lazy="raise")

    def move_to(self, target: TaskStatus, at: datetime) -> TaskStatus:
        previous = TaskStatus(self.status)
        self.status = _checked("pick task", TASK_TRANSITIONS, previous, target)
        self.updated_at = at
        return previous

    def pack(self, weight_g: int, materials: list[str], at: datetime) -> TaskStatus:
        previous = self.move_to(T.PACKED, at)
        self.weight_g = weight_g
        self.materials = materials
        return previous

    def fail_check(self, reason: str, at: datetime) -> TaskStatus:
        previous = self.move_to(T.PICKING, at)
        self.qc_failures += 1
        self.qc_note = reason
        return previous


class PickTaskLine(Base):
    __tablename__ = "pick_task_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("pick_tasks.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    sku_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)


def picks_by_warehouse(
    held: Iterable[tuple[int, int, int, int]],
) -> dict[int, dict[int, dict[int, int]]]:
    """FUL-1: (order, warehouse, SKU, units) reservations -> warehouse -> order -> SKU -> units.

    Each (warehouse, order) pair is one pick task; an order in two warehouses has two.
    """
    plan: dict[int, dict[int, dict[int, int]]] = {}
    for order_id, warehouse_id, sku_id, quantity in held:
        per_sku = plan.setdefault(warehouse_id, {}).setdefault(order_id, {})
        per_sku[sku_id] = per_sku.get(sku_id, 0) + quantity
    return plan


def all_packed(statuses: Iterable[str]) -> bool:
    """FUL-2: the order is packed when every one of its parcels is (checked or shipped counts)."""
    return all(TaskStatus(s) in PACKED_OR_LATER for s in statuses)


# --- carriers and the rule table (FUL-3) -----------------------------------------------------

TRACKING_PLACEHOLDER = "{tracking_no}"
GRAMS_PER_KG = 1000


class Carrier(Base):
    __tablename__ = "carriers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    tracking_url: Mapped[str] = mapped_column(String(300))  # with "{tracking_no}"
    push_secret: Mapped[str] = mapped_column(Sealed)  # HMAC key of its pushed events, encrypted at rest
    base_fee: Mapped[int] = mapped_column(BigInteger)  # fen, first kilogram (首重)
    per_kg_fee: Mapped[int] = mapped_column(BigInteger)  # fen, each further started kilogram (续重)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def link(self, tracking_no: str) -> str:
        return tracking_link(self.tracking_url, tracking_no)

    def cost(self, weight_g: int) -> int:
        return freight_cost(weight_g, self.base_fee, self.per_kg_fee)


class CarrierRule(Base):
    """A row of the rule table: the first matching rule by (priority, id) names the carrier.

    Empty conditions match anything; ranges include their minimum and exclude their maximum.
    """

    __tablename__ = "carrier_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    province: Mapped[str | None] = mapped_column(String(40))
    min_weight_g: Mapped[int | None] = mapped_column(Integer)
    max_weight_g: Mapped[int | None] = mapped_column(Integer)
    min_order_value: Mapped[int | None] = mapped_column(BigInteger)
    max_order_value: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def matches(self, parcel: Parcel) -> bool:
        return (
            (self.province is None or self.province == parcel.province)
            and _within(parcel.weight_g, self.min_weight_g, self.max_weight_g)
            and _within(parcel.order_value, self.min_order_value, self.max_order_value)
        )


@dataclass(frozen=True, slots=True)
class Parcel:
    """What a rule looks at: destination province, package weight, order value (goods, fen)."""

    province: str
    weight_g: int
    order_value: int


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value < high)


def choose_carrier(rules: Iterable[CarrierRule], active: set[int], parcel: Parcel) -> int | None:
    """FUL-3: the carrier of the first matching rule (by priority, then age) whose carrier is active."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.id)):
        if rule.carrier_id in active and rule.matches(parcel):
            return rule.carrier_id
    return None


def freight_cost(weight_g: int, base_fee: int, per_kg_fee: int) -> int:
    """The expected charge: the first kilogram, then each further started kilogram."""
    extra_kg = math.ceil(max(0, weight_g - GRAMS_PER_KG) / GRAMS_PER_KG)
    return base_fee + extra_kg * per_kg_fee


def tracking_link(template: str, tracking_no: str) -> str:
    return template.replace(TRACKING_PLACEHOLDER, quote(tracking_no, safe=""))


# --- shipments and tracking (FUL-4..6) -------------------------------------------------------


class ShipmentStatus(StrEnum):
    SHIPPED = "shipped"  # handed to the carrier
    IN_TRANSIT = "in_transit"
    EXCEPTION = "exception"  # damaged, lost or another carrier-reported problem
    DELIVERED = "delivered"
    RETURNED = "returned"  # returned to sender


SS = ShipmentStatus
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
        self.status = _checked("shipment", SHIPMENT_TRANSITIONS, previous, target)
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
        self.state = _checked("exception case", CASE_TRANSITIONS, previous, CaseState.CLOSED)
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


# --- scorecards (FUL-7) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CarrierFigures:
    """What the database counts per carrier over parcels shipped in a period."""

    parcels: int
    due: int  # delivered, or past the promise without delivery: on-time is decided for these
    on_time: int  # delivered within the promise
    with_exception: int
    damaged: int
    cost_total: int  # fen: billed cost where billed, else the expected cost


@dataclass(frozen=True, slots=True)
class Scorecard:
    parcels: int
    on_time_rate: float | None
    exception_rate: float | None
    damage_rate: float | None
    average_cost: int | None  # fen


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def scorecard(figures: CarrierFigures) -> Scorecard:
    """FUL-7. On-time rate = delivered within the promise / parcels whose promise is decided
    (delivered, or undelivered past it); exception and damage rate = parcels with such a case /
    parcels; average cost = cost / parcels, rounded to the fen."""
    f = figures
    return Scorecard(
        parcels=f.parcels,
        on_time_rate=_rate(f.on_time, f.due),
        exception_rate=_rate(f.with_exception, f.parcels),
        damage_rate=_rate(f.damaged, f.parcels),
        average_cost=None if f.parcels == 0 else round(f.cost_total / f.parcels),
    )


# --- freight bills (FUL-8) -------------------------------------------------------------------


class BillOutcome(StrEnum):
    MATCHED = "matched"  # billed at most the expected cost
    OVER_CHARGED = "over_charged"  # billed more than expected, or billed again
    UNKNOWN_WAYBILL = "unknown_waybill"  # not a shipment of this carrier
    MISSING_BILL = "missing_bill"  # shipped with this carrier in the period, not billed


class FreightBill(Base):
    __tablename__ = "freight_bills"
    __table_args__ = (UniqueConstraint("carrier_id", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    reference: Mapped[str] = mapped_column(String(120))
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FreightBillLine(Base):
    __tablename__ = "freight_bill_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("freight_bills.id"), index=True)
    row: Mapped[int | None] = mapped_column(Integer)  # the file's line; None for a missing bill
    waybill: Mapped[str] = mapped_column(String(40))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    billed: Mapped[int | None] = mapped_column(BigInteger)
    expected: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(20))
