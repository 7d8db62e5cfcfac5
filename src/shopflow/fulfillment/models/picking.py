"""Waves of pick tasks (FUL-1) and their packing and quality check (FUL-2).

A pick task is one order's part in one warehouse: the parcel that warehouse packs and ships. An
order served from two warehouses has two tasks, two parcels, two shipments (split shipment).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.fulfillment.models.transitions import checked


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
        self.status = checked("wave", WAVE_TRANSITIONS, previous, target)
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
        self.status = checked("pick task", TASK_TRANSITIONS, previous, target)
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
