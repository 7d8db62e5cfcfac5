"""Every query of the planning domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.catalog.models import Sku
from shopflow.core.db import driver_connection, insert_rows
from shopflow.inventory.models import Stock, Warehouse
from shopflow.planning.models import (
    OPEN,
    DailyDemand,
    DemandForecast,
    ForecastRun,
    PurchaseOrder,
    PurchaseOrderLine,
    SafetyLevel,
    ShortageNotice,
    Supplier,
    SupplierItem,
)

# Rows per INSERT: under PostgreSQL's 32,767 parameters for the widest rows here.
CHUNK = 2000


# Safety stock (INV-4)


async def ensure_sku_levels(session: AsyncSession, sku_ids: Collection[int]) -> None:
    """A watch over all warehouses for each SKU that has none yet."""
    rows = [{"sku_id": s, "warehouse_id": None, "alerted": False, "falls": 0} for s in sorted(sku_ids)]
    for start in range(0, len(rows), CHUNK):
        await insert_rows(session, SafetyLevel, rows[start : start + CHUNK], skip_conflicts=True)


async def flip(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], alerted: bool, at: datetime
) -> list[tuple[int, int, int | None, int]]:
    """Set `alerted` on the watches matching `conditions` that do not have it yet, by one
    conditional UPDATE (a fall counted); each watch changed: id, SKU, warehouse, falls."""
    values: dict[str, Any] = {"alerted": alerted, "changed_at": at}
    if alerted:
        values["falls"] = SafetyLevel.falls + 1
    stmt = (
        update(SafetyLevel)
        .where(*conditions, SafetyLevel.alerted.is_(not alerted))
        .values(values)
        .returning(SafetyLevel.id, SafetyLevel.sku_id, SafetyLevel.warehouse_id, SafetyLevel.falls)
        .execution_options(synchronize_session=False)
    )
    return [tuple(row) for row in (await session.execute(stmt)).tuples()]  # type: ignore[misc]


async def warehouse_watches(session: AsyncSession) -> list[tuple[int, str, str, str, int, int]]:
    """Every per-warehouse threshold: watch id, SKU code and name, warehouse code, units
    available there, threshold."""
    available = func.coalesce(Stock.on_hand - Stock.reserved, 0)
    stmt = (
        select(SafetyLevel.id, Sku.code, Sku.name, Warehouse.code, available, SafetyLevel.threshold)
        .join(Sku, Sku.id == SafetyLevel.sku_id)
        .join(Warehouse, Warehouse.id == SafetyLevel.warehouse_id)
        .outerjoin(
            Stock, (Stock.sku_id == SafetyLevel.sku_id) & (Stock.warehouse_id == SafetyLevel.warehouse_id)
        )
        .where(SafetyLevel.warehouse_id.is_not(None), SafetyLevel.threshold.is_not(None))
        .order_by(SafetyLevel.id)
    )
    return [tuple(row) for row in (await session.execute(stmt)).tuples()]  # type: ignore[misc]


async def sku_codes(session: AsyncSession, sku_ids: Collection[int]) -> dict[int, str]:
    if not sku_ids:
        return {}
    stmt = select(Sku.id, Sku.code).where(Sku.id.in_(sorted(sku_ids)))
    return dict((await session.execute(stmt)).tuples().all())


async def set_warehouse_threshold(
    session: AsyncSession, sku_id: int, warehouse_id: int, threshold: int | None
) -> None:
    found = await session.scalar(
        select(SafetyLevel).where(SafetyLevel.sku_id == sku_id, SafetyLevel.warehouse_id == warehouse_id)
    )
    if found is None:
        session.add(
            SafetyLevel(sku_id=sku_id, warehouse_id=warehouse_id, threshold=threshold, alerted=False, falls=0)
        )
    else:
        found.threshold = threshold
    await session.flush()


async def warehouse_thresholds(session: AsyncSession, sku_id: int) -> dict[int, int]:
    stmt = select(SafetyLevel.warehouse_id, SafetyLevel.threshold).where(
        SafetyLevel.sku_id == sku_id,
        SafetyLevel.warehouse_id.is_not(None),
        SafetyLevel.threshold.is_not(None),
    )
    return {w: t for w, t in (await session.execute(stmt)).tuples() if w is not None and t is not None}


# Demand and forecasts (ANA-5)


async def last_demand_day(session: AsyncSession) -> date | None:
    return await session.scalar(select(func.max(DailyDemand.day)))


async def add_demand(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await insert_rows(session, DailyDemand, rows[start : start + CHUNK], skip_conflicts=True)


@dataclass(frozen=True, slots=True)
class Demand:
    """Units per SKU and day as three parallel columns (days without demand have no entry): the
    SKU id, the day as days since the window's first, the units."""

    sku_ids: list[int]
    days: list[int]
    units: list[int]


# PostgreSQL: each SKU's days and units as two arrays, one row per SKU, which the driver decodes in
# C: reading 5.7 million rows through SQLAlchemy took 24 s of the nightly run's 37 s
# (bench/forecast.py); with this statement the whole run takes 8 s.
DEMAND_PG = (
    "SELECT sku_id, array_agg(day - $1::date), array_agg(quantity) FROM daily_demand"
    " WHERE day >= $1::date AND day <= $2::date GROUP BY sku_id"
)


async def demand(session: AsyncSession, first: date, last: date) -> Demand:
    """Units per SKU and day from `first` to `last`."""
    driver = await driver_connection(session)
    found = Demand([], [], [])
    if driver is not None:
        for sku_id, days, units in await driver.fetch(DEMAND_PG, first, last):
            found.sku_ids.extend([sku_id] * len(days))
            found.days.extend(days)
            found.units.extend(units)
        return found
    stmt = select(DailyDemand.sku_id, DailyDemand.day, DailyDemand.quantity).where(
        DailyDemand.day >= first, DailyDemand.day <= last
    )
    for sku_id, day, units in (await session.execute(stmt)).tuples():
        found.sku_ids.append(sku_id)
        found.days.append((day - first).days)
        found.units.append(units)
    return found


async def demand_of(session: AsyncSession, sku_id: int, first: date) -> dict[date, int]:
    stmt = select(DailyDemand.day, DailyDemand.quantity).where(
        DailyDemand.sku_id == sku_id, DailyDemand.day >= first
    )
    return dict((await session.execute(stmt)).tuples().all())


async def sku(session: AsyncSession, sku_id: int) -> Sku | None:
    return await session.get(Sku, sku_id)


async def sku_codes_to_ids(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    stmt = select(Sku.code, Sku.id).where(Sku.code.in_(sorted(codes)))
    return dict((await session.execute(stmt)).tuples().all())


async def sku_facts(
    session: AsyncSession, sku_ids: Collection[int]
) -> dict[int, tuple[str, str, int | None]]:
    """Code, name and own safety stock (None: the policy's) per SKU id."""
    stmt = select(Sku.id, Sku.code, Sku.name, Sku.safety_stock).where(Sku.id.in_(sorted(sku_ids)))
    return {i: (code, name, safety) for i, code, name, safety in (await session.execute(stmt)).tuples()}


async def prices(session: AsyncSession) -> dict[int, int]:
    return dict((await session.execute(select(Sku.id, Sku.price))).tuples().all())


async def claim_run(session: AsyncSession, day: date, at: datetime) -> int | None:
    """The day's forecast run, claimed; None when it was claimed before (by this worker or another)."""
    stored = await insert_rows(
        session,
        ForecastRun,
        [{"day": day, "skus": 0, "summary": {}, "started_at": at}],
        returning="id",
        skip_conflicts=True,
    )
    return stored[0] if stored else None


async def finish_run(session: AsyncSession, run_id: int, skus: int, summary: dict[str, Any]) -> None:
    await session.execute(
        update(ForecastRun)
        .where(ForecastRun.id == run_id)
        .values(skus=skus, summary=summary)
        .execution_options(synchronize_session=False)
    )


async def replace_forecasts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(delete(DemandForecast).execution_options(synchronize_session=False))
    for start in range(0, len(rows), CHUNK):
        await insert_rows(session, DemandForecast, rows[start : start + CHUNK])


async def forecast_of(session: AsyncSession, sku_id: int) -> DemandForecast | None:
    return await session.get(DemandForecast, sku_id)


async def forecasts(session: AsyncSession, sku_ids: Collection[int] | None = None) -> list[DemandForecast]:
    stmt = select(DemandForecast)
    if sku_ids is not None:
        stmt = stmt.where(DemandForecast.sku_id.in_(sorted(sku_ids)))
    return list((await session.scalars(stmt)).all())


async def latest_run(session: AsyncSession) -> ForecastRun | None:
    return await session.scalar(select(ForecastRun).order_by(ForecastRun.day.desc()).limit(1))


# Suppliers and purchase orders (INV-5)


async def supplier_by_code(session: AsyncSession, code: str) -> Supplier | None:
    stmt = select(Supplier).where(Supplier.code == code).options(selectinload(Supplier.items))
    return await session.scalar(stmt)


async def suppliers(session: AsyncSession, offset: int, limit: int) -> tuple[list[Supplier], int]:
    total = await session.scalar(select(func.count()).select_from(Supplier))
    stmt = (
        select(Supplier)
        .options(selectinload(Supplier.items))
        .order_by(Supplier.code)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def suppliers_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Supplier]:
    if not ids:
        return {}
    stmt = select(Supplier).where(Supplier.id.in_(sorted(ids)))
    return {s.id: s for s in (await session.scalars(stmt)).all()}


async def offers(session: AsyncSession, sku_ids: Collection[int] | None = None) -> list[SupplierItem]:
    """What active suppliers sell, cheapest first per SKU (then the shortest lead time)."""
    stmt = (
        select(SupplierItem)
        .join(Supplier, Supplier.id == SupplierItem.supplier_id)
        .where(Supplier.active.is_(True))
        .order_by(SupplierItem.sku_id, SupplierItem.unit_cost, SupplierItem.lead_time_days, SupplierItem.id)
    )
    if sku_ids is not None:
        stmt = stmt.where(SupplierItem.sku_id.in_(sorted(sku_ids)))
    return list((await session.scalars(stmt)).all())


async def get_po(session: AsyncSession, po_id: int, *, lock: bool = False) -> PurchaseOrder | None:
    stmt = select(PurchaseOrder).where(PurchaseOrder.id == po_id).options(selectinload(PurchaseOrder.lines))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def pos(
    session: AsyncSession, status: str | None, offset: int, limit: int
) -> tuple[list[PurchaseOrder], int]:
    conditions = [] if status is None else [PurchaseOrder.status == status]
    total = await session.scalar(select(func.count()).select_from(PurchaseOrder).where(*conditions))
    stmt = (
        select(PurchaseOrder)
        .where(*conditions)
        .options(selectinload(PurchaseOrder.lines))
        .order_by(PurchaseOrder.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def on_order(session: AsyncSession, sku_ids: Collection[int] | None = None) -> dict[int, int]:
    """Units on open purchase orders not yet received, per SKU."""
    stmt = (
        select(PurchaseOrderLine.sku_id, func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.status.in_(sorted(OPEN)))
        .group_by(PurchaseOrderLine.sku_id)
    )
    if sku_ids is not None:
        stmt = stmt.where(PurchaseOrderLine.sku_id.in_(sorted(sku_ids)))
    return {sku: int(units) for sku, units in (await session.execute(stmt)).tuples()}


async def open_po_for(session: AsyncSession, sku_ids: Collection[int]) -> list[tuple[int, int, date]]:
    """Open purchase orders' outstanding units of these SKUs: SKU, units, expected date, the
    soonest first."""
    stmt = (
        select(
            PurchaseOrderLine.sku_id,
            PurchaseOrderLine.quantity - PurchaseOrderLine.received,
            PurchaseOrder.expected_on,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.status.in_(sorted(OPEN)), PurchaseOrderLine.sku_id.in_(sorted(sku_ids)))
        .order_by(PurchaseOrder.expected_on, PurchaseOrder.id)
    )
    return [tuple(row) for row in (await session.execute(stmt)).tuples()]  # type: ignore[misc]


async def noticed(session: AsyncSession, order_ids: Collection[int]) -> set[int]:
    if not order_ids:
        return set()
    stmt = select(ShortageNotice.order_id).where(ShortageNotice.order_id.in_(sorted(order_ids)))
    return set((await session.scalars(stmt)).all())


async def add_notices(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    return await insert_rows(session, ShortageNotice, rows, returning="order_id", skip_conflicts=True)


async def warehouses_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(Warehouse.id, Warehouse.code).where(Warehouse.id.in_(sorted(ids)))
    return dict((await session.execute(stmt)).tuples().all())
