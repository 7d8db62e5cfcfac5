"""Cycle counts (INV-6) and transfers between warehouses (INV-7): their tables, states and rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.errors import InvalidTransition
from shopflow.inventory.provinces import distance_km

# --- cycle counts (INV-6) --------------------------------------------------------------------


class CountKind(StrEnum):
    PARTIAL = "partial"  # 小盘点: the SKUs due by ABC class
    FULL = "full"  # 大盘点: every SKU stocked in the warehouse


class CountState(StrEnum):
    OPEN = "open"  # counting: lines keyed
    APPROVED = "approved"  # variances accepted, not yet in the ledger
    POSTED = "posted"  # variances in the ledger


COUNT_TRANSITIONS: dict[CountState, frozenset[CountState]] = {
    CountState.OPEN: frozenset({CountState.APPROVED}),
    CountState.APPROVED: frozenset({CountState.POSTED}),
    CountState.POSTED: frozenset(),
}


class StockCount(Base):
    """A count of some SKUs in one warehouse. Sales go on while it runs: each line's expected
    quantity is the on-hand when its count was keyed, and posting adjusts on-hand by the variance
    (counted - expected), so what shipped in the meantime is accounted for."""

    __tablename__ = "stock_counts"
    # The worker schedules one count per warehouse, kind and period (`period`); by hand, none.
    __table_args__ = (UniqueConstraint("warehouse_id", "kind", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), index=True)
    period: Mapped[str | None] = mapped_column(String(20))
    needs_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(200))  # of the posted variance
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[CountLine]] = relationship(order_by="CountLine.id", lazy="raise")

    def check(self, target: CountState) -> None:
        """InvalidTransition (409) unless INV-6's table allows the step; changes nothing."""
        current = CountState(self.state)
        if target not in COUNT_TRANSITIONS[current]:
            raise InvalidTransition("count", current, target)

    def move_to(self, target: CountState) -> None:
        self.check(target)
        self.state = target


class CountLine(Base):
    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "sku_id"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
        Index("ix_stock_count_lines_sku", "sku_id", "count_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    sku_code: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[int] = mapped_column(BigInteger)  # on-hand when the count started
    expected: Mapped[int | None] = mapped_column(BigInteger)  # on-hand when the line was keyed
    counted: Mapped[int | None] = mapped_column(BigInteger)
    counted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def variance(self) -> int | None:
        if self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected


def large_variance(variance: int, expected: int, units: int, share: float) -> bool:
    """INV-6: a variance a manager must approve: above `units` and above `share` of expected."""
    return abs(variance) > units and abs(variance) > share * expected


class AbcClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


def abc_classes(
    units_sold: Mapping[int, int], sku_ids: list[int], a_share: float, b_share: float
) -> dict[int, AbcClass]:
    """ABC by units sold: the best sellers making the first `a_share` of all units are A, up to
    `b_share` B, the rest (and SKUs that sold nothing) C."""
    total = sum(units_sold.get(sku, 0) for sku in sku_ids)
    classes = dict.fromkeys(sku_ids, AbcClass.C)
    if total == 0:
        return classes
    running = 0
    for sku in sorted(sku_ids, key=lambda s: (-units_sold.get(s, 0), s)):
        sold = units_sold.get(sku, 0)
        if sold == 0:
            break
        before = running / total
        running += sold
        classes[sku] = AbcClass.A if before < a_share else AbcClass.B if before < b_share else AbcClass.C
    return classes


def due_for_count(
    classes: Mapping[int, AbcClass],
    last_counted: Mapping[int, datetime],
    every_days: Mapping[AbcClass, int],
    now: datetime,
) -> list[int]:
    """The SKUs whose class's interval has passed since they were last counted (never: due)."""
    due = []
    for sku, kind in classes.items():
        last = last_counted.get(sku)
        if last is None or (now - last).days >= every_days[kind]:
            due.append(sku)
    return sorted(due)


# --- transfers (INV-7) -----------------------------------------------------------------------


class TransferState(StrEnum):
    DRAFT = "draft"
    SHIPPED = "shipped"  # in transit: out of the source, not yet at the destination
    RECEIVED = "received"


TRANSFER_TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    TransferState.DRAFT: frozenset({TransferState.SHIPPED}),
    TransferState.SHIPPED: frozenset({TransferState.RECEIVED}),
    TransferState.RECEIVED: frozenset(),
}


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (CheckConstraint("from_warehouse_id <> to_warehouse_id", name="two_warehouses"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    state: Mapped[str] = mapped_column(String(10), index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[TransferLine]] = relationship(order_by="TransferLine.id", lazy="raise")

    def check(self, target: TransferState) -> None:
        """InvalidTransition (409) unless INV-7's table allows the step; changes nothing."""
        current = TransferState(self.state)
        if target not in TRANSFER_TRANSITIONS[current]:
            raise InvalidTransition("transfer", current, target)

    def move_to(self, target: TransferState) -> None:
        self.check(target)
        self.state = target

    @property
    def in_transit(self) -> int:
        """Units on the road: out of the source, not yet at the destination (INV-7)."""
        return sum(line.quantity for line in self.lines) if self.state == TransferState.SHIPPED else 0


class TransferLine(Base):
    __tablename__ = "transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    sku_code: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class Depot:
    """A warehouse as the suggestion report sees it."""

    id: int
    code: str
    province: str
    priority: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    sku_id: int
    from_warehouse_id: int
    to_warehouse_id: int
    quantity: int
    demand_share: float  # of the destination's region in the SKU's sales


def region_of(province: str, depots: list[Depot]) -> int:
    """The warehouse serving a destination province: the nearest, then by priority."""
    return min(depots, key=lambda d: (distance_km(d.province, province), d.priority, d.id)).id


def suggest_transfers(
    sold: Mapping[tuple[int, str], int],
    stock: Mapping[tuple[int, int], int],
    depots: list[Depot],
) -> list[Suggestion]:
    """INV-7: for each SKU, its units available (plus those in transit to each warehouse),
    `stock[(sku, warehouse)]`, shared out in proportion to the units sold in each warehouse's
    region (`sold[(sku, province)]`, provinces served by their nearest warehouse); a warehouse
    above its share sends the surplus to those below theirs, largest gaps first."""
    if len(depots) < 2:
        return []
    demand: dict[int, dict[int, int]] = defaultdict(lambda: dict.fromkeys((d.id for d in depots), 0))
    for (sku, province), units in sold.items():
        demand[sku][region_of(province, depots)] += units
    suggestions: list[Suggestion] = []
    for sku in sorted(demand):
        regions = demand[sku]
        wanted = sum(regions.values())
        held = {d.id: max(stock.get((sku, d.id), 0), 0) for d in depots}
        total = sum(held.values())
        if wanted == 0 or total == 0:
            continue
        target = {wh: total * units // wanted for wh, units in regions.items()}
        surplus = sorted(((held[wh] - target[wh], wh) for wh in held if held[wh] > target[wh]), reverse=True)
        deficit = sorted(((target[wh] - held[wh], wh) for wh in held if held[wh] < target[wh]), reverse=True)
        givers = [[units, wh] for units, wh in surplus]
        for gap, to_wh in deficit:
            for giver in givers:
                take = min(gap, giver[0])
                if take > 0:
                    suggestions.append(Suggestion(sku, giver[1], to_wh, take, regions[to_wh] / wanted))
                    giver[0] -= take
                    gap -= take
                if gap == 0:
                    break
    return suggestions
