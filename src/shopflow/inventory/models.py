"""Warehouses, stock per SKU per warehouse, the movement ledger, reservations (INV-1..3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.errors import InvalidTransition
from shopflow.core.policy import Allocation
from shopflow.inventory.provinces import distance_km


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer)  # lower is served first (INV-3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("sku_id", "warehouse_id"),
        # The database's own guard for INV-1/INV-2: never negative, never over-reserved.
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)


class Movement(StrEnum):
    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    TRANSFER = "transfer"
    WRITE_OFF = "write_off"  # ASV-3: returned goods inspected as unsellable


# A ledger row's reference, and a receipt's: the ledger names a receipt by its id and reference
# ("receipt:<id>:<reference>", `receipt_reference`), which must fit the ledger's column with the
# largest id.
REFERENCE_LENGTH = 120
RECEIPT_REFERENCE_LENGTH = REFERENCE_LENGTH - len(f"receipt:{2**63 - 1}:")


def receipt_reference(receipt_id: int, reference: str) -> str:
    """The ledger's reference of a receipt's rows."""
    return f"receipt:{receipt_id}:{reference}"


class LedgerEntry(Base):
    """INV-1: every change of on-hand is a row here; on-hand equals the sum of quantity."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        Index("ix_stock_ledger_sku_warehouse", "sku_id", "warehouse_id", "id"),
        # Each (SKU, warehouse)'s movements in time order with their balance: the daily closing
        # stock of the metrics (ANA-1) read without a sort.
        Index(
            "ix_stock_ledger_pair_at",
            "sku_id",
            "warehouse_id",
            "at",
            "id",
            postgresql_include=["balance_after"],
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(BigInteger)  # signed
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Receipt(Base):
    __tablename__ = "inventory_receipts"
    __table_args__ = (UniqueConstraint("warehouse_id", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    reference: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReservationState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CONSUMED = "consumed"


RESERVATION_TRANSITIONS: dict[ReservationState, frozenset[ReservationState]] = {
    ReservationState.ACTIVE: frozenset({ReservationState.RELEASED, ReservationState.CONSUMED}),
    ReservationState.RELEASED: frozenset(),
    ReservationState.CONSUMED: frozenset(),
}


class Reservation(Base):
    """Stock held for an order line in one warehouse (INV-2); released on cancel, consumed on ship."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    stock_id: Mapped[int] = mapped_column(ForeignKey("stock.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=ReservationState.ACTIVE)
    # INV-3: why this warehouse: the strategy (`Allocation`), `_split` when the order was split.
    reason: Mapped[str | None] = mapped_column(String(20))

    def move_to(self, target: ReservationState) -> None:
        current = ReservationState(self.state)
        if target not in RESERVATION_TRANSITIONS[current]:
            raise InvalidTransition("reservation", current, target)
        self.state = target


@dataclass(frozen=True, slots=True)
class StockLevel:
    stock_id: int
    sku_id: int
    warehouse_id: int
    priority: int
    available: int
    province: str = ""


@dataclass(frozen=True, slots=True)
class SkuStock:
    """A SKU's units available over all warehouses against its safety stock (INV-4)."""

    sku_id: int
    code: str
    name: str
    available: int
    safety_stock: int

    @property
    def low(self) -> bool:
        return self.available < self.safety_stock


@dataclass(frozen=True, slots=True)
class Pick:
    stock_id: int
    sku_id: int
    warehouse_id: int
    quantity: int


def _by_priority(levels: Iterable[StockLevel]) -> list[StockLevel]:
    return sorted(levels, key=lambda level: (level.priority, level.warehouse_id))


def _by_distance(levels: Iterable[StockLevel], province: str) -> list[StockLevel]:
    """Nearest the destination province first; equally near (or unknown), by priority."""
    return sorted(
        levels, key=lambda level: (distance_km(level.province, province), level.priority, level.warehouse_id)
    )


def _fill_in_order(demand: Mapping[int, int], ordered: list[StockLevel]) -> list[Pick] | None:
    per_sku: dict[int, list[StockLevel]] = defaultdict(list)
    for level in ordered:
        per_sku[level.sku_id].append(level)
    picks: list[Pick] = []
    for sku_id, wanted in demand.items():
        remaining = wanted
        for level in per_sku[sku_id]:
            take = min(remaining, level.available)
            if take > 0:
                picks.append(Pick(level.stock_id, sku_id, level.warehouse_id, take))
                remaining -= take
            if remaining == 0:
                break
        if remaining > 0:
            return None
    return picks


def _single_warehouse(demand: Mapping[int, int], ordered: list[StockLevel]) -> list[Pick] | None:
    per_warehouse: dict[int, dict[int, StockLevel]] = defaultdict(dict)
    for level in ordered:
        per_warehouse[level.warehouse_id][level.sku_id] = level
    for warehouse_id, stock in per_warehouse.items():
        if all(sku in stock and stock[sku].available >= q for sku, q in demand.items()):
            return [Pick(stock[sku].stock_id, sku, warehouse_id, q) for sku, q in demand.items()]
    return None


def allocate(
    demand: Mapping[int, int], levels: list[StockLevel], strategy: Allocation, province: str = ""
) -> list[Pick] | None:
    """Choose where each unit comes from (INV-3); None when the stock cannot cover the demand.

    `priority` takes each SKU from the highest-priority warehouse with stock, splitting a line
    across warehouses when one is short. `whole_order` prefers the first warehouse (by priority)
    that can ship everything and otherwise splits like `priority`. `nearest` prefers the warehouse
    nearest the destination `province` (`provinces.distance_km`) that can ship everything, and
    otherwise splits taking each SKU from the nearest warehouses first.
    """
    match strategy:
        case Allocation.PRIORITY:
            plan = _fill_in_order(demand, _by_priority(levels))
        case Allocation.WHOLE_ORDER:
            ordered = _by_priority(levels)
            plan = _single_warehouse(demand, ordered) or _fill_in_order(demand, ordered)
        case Allocation.NEAREST:
            ordered = _by_distance(levels, province)
            plan = _single_warehouse(demand, ordered) or _fill_in_order(demand, ordered)
        case _:
            assert_never(strategy)
    return None if plan is None else sorted(plan, key=lambda pick: pick.stock_id)


def allocation_reason(strategy: Allocation, plan: list[Pick]) -> str:
    """What a reservation records of its allocation (INV-3): the strategy, `_split` if split."""
    split = len({pick.warehouse_id for pick in plan}) > 1
    return f"{strategy}_split" if split else str(strategy)
