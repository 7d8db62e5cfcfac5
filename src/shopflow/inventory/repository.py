"""Every query of the inventory domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import Sku
from shopflow.core.db import (
    driver_connection,
    fresh,
    insert_for,
    insert_rows,
    placeholders,
    write,
)
from shopflow.inventory.models import (
    LedgerEntry,
    Pick,
    Reservation,
    ReservationState,
    SkuStock,
    Stock,
    StockLevel,
    Warehouse,
)

stock_table = Stock.__table__


async def warehouse_by_code(session: AsyncSession, code: str) -> Warehouse | None:
    return await session.scalar(select(Warehouse).where(Warehouse.code == code))


async def warehouse_code_taken(session: AsyncSession, code: str) -> bool:
    return await session.scalar(select(Warehouse.id).where(Warehouse.code == code)) is not None


async def list_warehouses(session: AsyncSession) -> list[Warehouse]:
    stmt = select(Warehouse).order_by(Warehouse.priority, Warehouse.id)
    return list((await session.scalars(stmt)).all())


# PostgreSQL statements for the driver (core.db.driver_connection). One plain parameter per value,
# never an array: PostgreSQL keeps planning a statement with an array parameter anew at every
# execution (its generic plan looks dearer), and that planning cost more than the rest of the
# statement (measured); with plain parameters one cached plan per number of values serves all.


@lru_cache(maxsize=64)
def _stock_levels_pg(count: int) -> str:
    return (
        "SELECT stock.id, stock.sku_id, stock.warehouse_id, warehouses.priority,"
        " stock.on_hand - stock.reserved, warehouses.province"
        " FROM stock JOIN warehouses ON warehouses.id = stock.warehouse_id"
        f" WHERE stock.sku_id IN ({placeholders(1, count)}) AND warehouses.active"
    )


async def stock_levels(session: AsyncSession, sku_ids: Iterable[int]) -> list[StockLevel]:
    driver = await driver_connection(session)
    if driver is not None:
        ids = list(sku_ids)
        return [StockLevel(*row) for row in await driver.fetch(_stock_levels_pg(len(ids)), *ids)]
    stmt = (
        select(
            Stock.id,
            Stock.sku_id,
            Stock.warehouse_id,
            Warehouse.priority,
            (Stock.on_hand - Stock.reserved).label("available"),
            Warehouse.province,
        )
        .join(Warehouse, Warehouse.id == Stock.warehouse_id)
        .where(Stock.sku_id.in_(list(sku_ids)), Warehouse.active.is_(True))
    )
    return [StockLevel(*row) for row in (await session.execute(stmt)).all()]


def _quantity_by_id(quantities: dict[int, int]) -> Any:
    return case(quantities, value=stock_table.c.id)


@lru_cache(maxsize=64)
def _reserve_pg(count: int) -> str:
    """The conditional UPDATE of `count` stock rows ($1.. ids, then quantities, the order, the
    state, the allocation's reason).

    With an order, the same statement records its reservations when every row was won."""
    wanted = ", ".join(f"(${i}::BIGINT, ${count + i}::BIGINT)" for i in range(1, count + 1))
    order, state, reason = (
        f"${2 * count + 1}::BIGINT",
        f"${2 * count + 2}::VARCHAR",
        f"${2 * count + 3}::VARCHAR",
    )
    return f"""
WITH won AS (
    UPDATE stock SET reserved = stock.reserved + wanted.quantity
    FROM (VALUES {wanted}) AS wanted(id, quantity)
    WHERE stock.id = wanted.id
      AND stock.id IN (SELECT id FROM stock WHERE id IN ({placeholders(1, count)}) ORDER BY id FOR UPDATE)
      AND stock.on_hand - stock.reserved >= wanted.quantity
    RETURNING stock.id, stock.sku_id, stock.warehouse_id, wanted.quantity
), recorded AS (
    INSERT INTO reservations (order_id, sku_id, warehouse_id, stock_id, quantity, state, reason)
    SELECT {order}, sku_id, warehouse_id, id, quantity, {state}, {reason} FROM won
    WHERE {order} IS NOT NULL AND (SELECT count(*) FROM won) = {count}
    ORDER BY id
)
SELECT id FROM won
"""


async def reserve(
    session: AsyncSession, picks: Sequence[Pick], order_id: int | None = None, reason: str | None = None
) -> set[int]:
    """One conditional UPDATE for every pick (ARCHITECTURE rule 8); returns the rows it reserved.

    Rows are locked in primary-key order (the locking sub-select) so that two orders touching
    the same rows cannot deadlock; a row without enough available stock is left untouched.
    With `order_id`, the order's reservations are recorded too (with the allocation's `reason`,
    INV-3) if every pick was won.
    """
    quantities = {pick.stock_id: pick.quantity for pick in picks}
    driver = await driver_connection(session)
    if driver is not None:
        sql = _reserve_pg(len(quantities))
        won = await driver.fetch(
            sql, *quantities, *quantities.values(), order_id, ReservationState.ACTIVE, reason
        )
        return {row[0] for row in won}
    wanted = _quantity_by_id(quantities)
    locked = (
        select(stock_table.c.id)
        .where(stock_table.c.id.in_(list(quantities)))
        .order_by(stock_table.c.id)
        .with_for_update()
    )
    stmt = (
        update(stock_table)
        .where(
            stock_table.c.id.in_(locked),
            stock_table.c.on_hand - stock_table.c.reserved >= wanted,
        )
        .values(reserved=stock_table.c.reserved + wanted)
        .returning(stock_table.c.id)
    )
    won_ids = set((await session.execute(stmt)).scalars())
    if order_id is not None and len(won_ids) == len(quantities):
        await add_reservations(session, order_id, picks, reason)
    return won_ids


async def unreserve(session: AsyncSession, quantities: dict[int, int]) -> None:
    if not quantities:
        return
    wanted = _quantity_by_id(quantities)
    await session.execute(
        update(stock_table)
        .where(stock_table.c.id.in_(sorted(quantities)))
        .values(reserved=stock_table.c.reserved - wanted)
    )


@lru_cache(maxsize=64)
def _consume_pg(count: int) -> str:
    """`consume` of `count` stock rows ($1.. ids, then quantities), locked in primary-key order."""
    wanted = ", ".join(f"(${i}::BIGINT, ${count + i}::BIGINT)" for i in range(1, count + 1))
    return f"""
UPDATE stock SET on_hand = stock.on_hand - wanted.quantity, reserved = stock.reserved - wanted.quantity
FROM (VALUES {wanted}) AS wanted(id, quantity)
WHERE stock.id = wanted.id
  AND stock.id IN (SELECT id FROM stock WHERE id IN ({placeholders(1, count)}) ORDER BY id FOR UPDATE)
RETURNING stock.id, stock.on_hand
"""


async def consume(session: AsyncSession, quantities: dict[int, int]) -> dict[int, int]:
    """Reserved units leave the building: on-hand and reserved both drop. New on-hand per row.

    Rows are locked in primary-key order (the locking sub-select), as `reserve` locks them."""
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(_consume_pg(len(quantities)), *quantities, *quantities.values())
        return {row[0]: row[1] for row in rows}
    wanted = _quantity_by_id(quantities)
    locked = (
        select(stock_table.c.id)
        .where(stock_table.c.id.in_(sorted(quantities)))
        .order_by(stock_table.c.id)
        .with_for_update()
    )
    stmt = (
        update(stock_table)
        .where(stock_table.c.id.in_(locked))
        .values(on_hand=stock_table.c.on_hand - wanted, reserved=stock_table.c.reserved - wanted)
        .returning(stock_table.c.id, stock_table.c.on_hand)
    )
    return {row.id: row.on_hand for row in (await session.execute(stmt)).all()}


async def add_reservations(
    session: AsyncSession, order_id: int, picks: Sequence[Pick], reason: str | None = None
) -> None:
    rows = [
        {
            "order_id": order_id,
            "sku_id": p.sku_id,
            "warehouse_id": p.warehouse_id,
            "stock_id": p.stock_id,
            "quantity": p.quantity,
            "state": ReservationState.ACTIVE,
            "reason": reason,
        }
        for p in picks
    ]
    await insert_rows(session, Reservation, rows)


async def active_reservations(session: AsyncSession, order_id: int) -> list[Reservation]:
    stmt = (
        select(Reservation)
        .where(Reservation.order_id == order_id, Reservation.state == ReservationState.ACTIVE)
        .order_by(Reservation.stock_id)
    )
    return list((await session.scalars(stmt)).all())


async def reservations_of(session: AsyncSession, order_id: int) -> list[Reservation]:
    stmt = select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.id)
    return list((await session.scalars(stmt)).all())


async def ensure_stock_rows(session: AsyncSession, warehouse_id: int, sku_ids: Iterable[int]) -> None:
    rows = [{"sku_id": s, "warehouse_id": warehouse_id, "on_hand": 0, "reserved": 0} for s in sku_ids]
    stmt = insert_for(session, Stock).on_conflict_do_nothing(index_elements=["sku_id", "warehouse_id"])
    await session.execute(stmt, rows)


async def add_on_hand(session: AsyncSession, warehouse_id: int, sku_id: int, quantity: int) -> int:
    """Change on-hand by `quantity` (signed) and return the new balance."""
    stmt = (
        update(stock_table)
        .where(stock_table.c.sku_id == sku_id, stock_table.c.warehouse_id == warehouse_id)
        .values(on_hand=stock_table.c.on_hand + quantity)
        .returning(stock_table.c.on_hand)
    )
    return int((await session.execute(stmt)).scalar_one())


async def shift_on_hand(
    session: AsyncSession, warehouse_id: int, quantities: dict[int, int]
) -> dict[int, int]:
    """Change on-hand of several SKUs in one warehouse by `quantities` (signed) in one conditional
    UPDATE, rows locked in primary-key order: a row whose on-hand would fall below its reserved
    units is left untouched. The new on-hand of each SKU it changed."""
    wanted = case(quantities, value=stock_table.c.sku_id)
    locked = (
        select(stock_table.c.id)
        .where(stock_table.c.warehouse_id == warehouse_id, stock_table.c.sku_id.in_(sorted(quantities)))
        .order_by(stock_table.c.id)
        .with_for_update()
    )
    stmt = (
        update(stock_table)
        .where(stock_table.c.id.in_(locked), stock_table.c.on_hand + wanted >= stock_table.c.reserved)
        .values(on_hand=stock_table.c.on_hand + wanted)
        .returning(stock_table.c.sku_id, stock_table.c.on_hand)
    )
    return {row.sku_id: row.on_hand for row in (await session.execute(stmt)).all()}


async def stock_in(session: AsyncSession, warehouse_id: int, sku_ids: Sequence[int]) -> dict[int, Stock]:
    """The stock rows of some SKUs in one warehouse, by SKU id."""
    stmt = select(Stock).where(Stock.warehouse_id == warehouse_id, Stock.sku_id.in_(list(sku_ids)))
    return {stock.sku_id: stock for stock in (await session.scalars(stmt)).all()}


async def stocked_skus(session: AsyncSession, warehouse_id: int) -> list[int]:
    """The SKUs with a stock row in the warehouse, by id."""
    stmt = select(Stock.sku_id).where(Stock.warehouse_id == warehouse_id).order_by(Stock.sku_id)
    return list((await session.scalars(stmt)).all())


async def available_by_warehouse(session: AsyncSession) -> dict[tuple[int, int], int]:
    """Units available per (SKU, warehouse) in active warehouses."""
    stmt = (
        select(Stock.sku_id, Stock.warehouse_id, Stock.on_hand - Stock.reserved)
        .join(Warehouse, Warehouse.id == Stock.warehouse_id)
        .where(Warehouse.active.is_(True))
    )
    return {(sku, warehouse): int(units) for sku, warehouse, units in (await session.execute(stmt)).all()}


async def add_ledger(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Ledger rows, with the rows the transaction has queued (`db.PendingRows`), in one round trip."""
    await write(session, (LedgerEntry, rows))


CONSUME_RESERVATIONS_PG = (
    "UPDATE reservations SET state = $3 WHERE order_id = $1 AND warehouse_id = $2 AND state = $4"
    f" RETURNING {', '.join(c.name for c in Reservation.__table__.columns)}"
)


async def consume_reservations(session: AsyncSession, order_id: int, warehouse_id: int) -> list[Reservation]:
    """The order's active reservations in the warehouse, consumed by one conditional UPDATE (only
    an active reservation may be consumed); by stock row. On PostgreSQL they are the session's
    instances, refreshed, where it holds them (`db.fresh`)."""
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(
            CONSUME_RESERVATIONS_PG,
            order_id,
            warehouse_id,
            ReservationState.CONSUMED,
            ReservationState.ACTIVE,
        )
        found = [fresh(session, Reservation, dict(row)) for row in rows]
        return sorted(found, key=lambda r: (r.stock_id, r.id))
    stmt = (
        update(Reservation)
        .where(
            Reservation.order_id == order_id,
            Reservation.warehouse_id == warehouse_id,
            Reservation.state == ReservationState.ACTIVE,
        )
        .values(state=ReservationState.CONSUMED)
        .returning(Reservation)
        .execution_options(populate_existing=True)
    )
    return sorted((await session.scalars(stmt)).all(), key=lambda r: (r.stock_id, r.id))


async def stock_by_warehouse(session: AsyncSession, sku_id: int) -> list[tuple[Warehouse, Stock]]:
    stmt = (
        select(Warehouse, Stock)
        .join(Stock, Stock.warehouse_id == Warehouse.id)
        .where(Stock.sku_id == sku_id)
        .order_by(Warehouse.priority, Warehouse.id)
    )
    return [(w, s) for w, s in (await session.execute(stmt)).all()]


async def ledger(
    session: AsyncSession, sku_id: int, offset: int, limit: int
) -> tuple[list[tuple[LedgerEntry, str]], int]:
    total = await session.scalar(select(func.count()).where(LedgerEntry.sku_id == sku_id))
    stmt = (
        select(LedgerEntry, Warehouse.code)
        .join(Warehouse, Warehouse.id == LedgerEntry.warehouse_id)
        .where(LedgerEntry.sku_id == sku_id)
        .order_by(LedgerEntry.id)
        .offset(offset)
        .limit(limit)
    )
    return [(e, code) for e, code in (await session.execute(stmt)).all()], int(total or 0)


async def stock_page(
    session: AsyncSession,
    search: str | None,
    low_only: bool,
    safety_stock: int,
    offset: int,
    limit: int | None,
) -> tuple[list[SkuStock], int]:
    """SKUs by code with units available over all warehouses and their safety stock (INV-4);
    `low_only` keeps those below it. `search` matches part of the code or the name."""
    available = func.coalesce(func.sum(Stock.on_hand - Stock.reserved), 0)
    threshold = func.coalesce(Sku.safety_stock, safety_stock)
    stmt = (
        select(Sku.id, Sku.code, Sku.name, available.label("available"), threshold.label("safety_stock"))
        .outerjoin(Stock, Stock.sku_id == Sku.id)
        .group_by(Sku.id, Sku.code, Sku.name, Sku.safety_stock)
    )
    if search:
        found = Sku.code.icontains(search, autoescape=True) | Sku.name.icontains(search, autoescape=True)
        stmt = stmt.where(found)
    if low_only:
        stmt = stmt.having(available < threshold)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (await session.execute(stmt.order_by(Sku.code).offset(offset).limit(limit))).all()
    return [SkuStock(*row) for row in rows], int(total or 0)


async def stock_of_skus(session: AsyncSession, sku_ids: Sequence[int]) -> list[Stock]:
    if not sku_ids:
        return []
    return list((await session.scalars(select(Stock).where(Stock.sku_id.in_(sku_ids)))).all())


async def active_reservations_of_orders(session: AsyncSession, order_ids: Sequence[int]) -> list[Reservation]:
    stmt = (
        select(Reservation)
        .where(Reservation.order_id.in_(list(order_ids)), Reservation.state == ReservationState.ACTIVE)
        .order_by(Reservation.order_id, Reservation.id)
    )
    return list((await session.scalars(stmt)).all())
