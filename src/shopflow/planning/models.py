"""Planning's tables: safety-stock levels and their alert state (INV-4), daily demand and its
forecast (ANA-5), suppliers, what they sell at what terms, purchase orders and their lines (INV-5);
the purchase order's states and TRANSITIONS, and the pure rules of replenishment."""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition


class SafetyLevel(Base):
    """INV-4: one SKU's watch, over all warehouses (`warehouse_id` None: its threshold is the SKU's
    or the policy's) or in one warehouse (`threshold` overrides both there). `alerted` is set by
    one conditional UPDATE when the stock falls below (the alert is raised only by the UPDATE that
    set it) and cleared when it is back at or above; `falls` numbers the alerts."""

    __tablename__ = "safety_levels"
    __table_args__ = (
        Index(
            "ux_safety_levels_sku",
            "sku_id",
            unique=True,
            sqlite_where=text("warehouse_id IS NULL"),
            postgresql_where=text("warehouse_id IS NULL"),
        ),
        Index(
            "ux_safety_levels_sku_warehouse",
            "sku_id",
            "warehouse_id",
            unique=True,
            sqlite_where=text("warehouse_id IS NOT NULL"),
            postgresql_where=text("warehouse_id IS NOT NULL"),
        ),
        CheckConstraint("threshold IS NULL OR threshold >= 0", name="threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    threshold: Mapped[int | None] = mapped_column(Integer)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    falls: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DailyDemand(Base):
    """ANA-5: units ordered of a SKU on a day (the store's zone), rolled up nightly from orders."""

    __tablename__ = "daily_demand"

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)


class DemandForecast(Base):
    """ANA-5: a SKU's latest forecast (daily units from `start` on) and its backtest errors."""

    __tablename__ = "demand_forecasts"

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    start: Mapped[date] = mapped_column(Date)
    daily: Mapped[list[float]] = mapped_column(JSONType)
    abc: Mapped[str] = mapped_column(String(1))
    mape: Mapped[float | None] = mapped_column(Float)
    wape: Mapped[float | None] = mapped_column(Float)
    naive_mape: Mapped[float | None] = mapped_column(Float)
    naive_wape: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ForecastRun(Base):
    """One nightly forecast per day: the unique day is the claim, so two workers never both run it."""

    __tablename__ = "forecast_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    skus: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    items: Mapped[list[SupplierItem]] = relationship(
        back_populates="supplier", order_by="SupplierItem.id", lazy="raise"
    )


class SupplierItem(Base):
    """What a supplier sells of one SKU: lead time, pack size, minimum order and price (INV-5)."""

    __tablename__ = "supplier_items"
    __table_args__ = (
        UniqueConstraint("supplier_id", "sku_id"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
        CheckConstraint("pack_size > 0", name="pack_size_positive"),
        CheckConstraint("moq > 0", name="moq_positive"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    lead_time_days: Mapped[int] = mapped_column(Integer)
    pack_size: Mapped[int] = mapped_column(Integer)
    moq: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[int] = mapped_column(BigInteger)  # fen

    supplier: Mapped[Supplier] = relationship(back_populates="items", lazy="raise")


class PoStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class PoSource(StrEnum):
    SUGGESTION = "suggestion"  # from the replenishment board (INV-4)
    SHORTAGE = "shortage"  # raised for orders held for a stock shortage (ORD-4)
    MANUAL = "manual"


P = PoStatus
TRANSITIONS: dict[PoStatus, frozenset[PoStatus]] = {
    P.DRAFT: frozenset({P.SUBMITTED, P.CANCELLED}),
    P.SUBMITTED: frozenset({P.CONFIRMED, P.CANCELLED}),
    P.CONFIRMED: frozenset({P.PARTIALLY_RECEIVED, P.RECEIVED, P.CANCELLED}),
    P.PARTIALLY_RECEIVED: frozenset({P.PARTIALLY_RECEIVED, P.RECEIVED}),
    P.RECEIVED: frozenset(),
    P.CANCELLED: frozenset(),
}
# Still to come: its lines' outstanding units count as "on order" (INV-4's suggestion).
OPEN = frozenset({P.DRAFT, P.SUBMITTED, P.CONFIRMED, P.PARTIALLY_RECEIVED})
RECEIVABLE = frozenset(s for s, targets in TRANSITIONS.items() if P.RECEIVED in targets)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (Index("ix_purchase_orders_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20), default=PoStatus.DRAFT)
    source: Mapped[str] = mapped_column(String(20))
    expected_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        back_populates="purchase_order", order_by="PurchaseOrderLine.sku_id", lazy="raise"
    )

    @property
    def number(self) -> str:
        return po_number(self.id)

    def move_to(self, target: PoStatus, at: datetime) -> PoStatus:
        previous = PoStatus(self.status)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("purchase_order", previous, target)
        self.status = target
        self.changed_at = at
        return previous

    def received_in_full(self) -> bool:
        return all(line.received >= line.quantity for line in self.lines)


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_within_quantity"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    unit_cost: Mapped[int] = mapped_column(BigInteger)  # fen

    purchase_order: Mapped[PurchaseOrder] = relationship(back_populates="lines", lazy="raise")


class ShortageNotice(Base):
    """ORD-4: an order held for a stock shortage was put on a purchase order and its customer told
    the expected ship date, once (the order id is the key)."""

    __tablename__ = "shortage_notices"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    # The new order raised for it; None when stock or an open order already covered it.
    purchase_order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    ship_by: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def po_number(po_id: int) -> str:
    return f"PO-{po_id:06d}"


def order_quantity(needed: float, pack_size: int, moq: int) -> int:
    """INV-4: `needed` units rounded up to whole packs and at least the minimum order (itself
    rounded up to whole packs); 0 when nothing is needed."""
    if needed <= 0:
        return 0
    packs = max(math.ceil(needed / pack_size), math.ceil(moq / pack_size))
    return packs * pack_size
