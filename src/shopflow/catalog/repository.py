from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import PriceChange, Sku
from shopflow.core.db import driver_connection, placeholders


class SaleFacts(NamedTuple):
    """What order intake checks of a SKU (ORD-2)."""

    id: int
    name: str
    price: int
    sellable: bool


async def sku_by_code(session: AsyncSession, code: str) -> Sku | None:
    return await session.scalar(select(Sku).where(Sku.code == code))


async def skus_by_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, Sku]:
    found = await session.scalars(select(Sku).where(Sku.code.in_(set(codes))))
    return {sku.code: sku for sku in found}


@lru_cache(maxsize=64)
def _sale_facts_pg(count: int) -> str:
    # One plain parameter per code (see inventory.repository on array parameters and plans).
    return f"SELECT code, id, name, price, sellable FROM skus WHERE code IN ({placeholders(1, count)})"


async def sale_facts(session: AsyncSession, codes: Iterable[str]) -> dict[str, SaleFacts]:
    """Order intake's read, on PostgreSQL straight through the driver (the hot path)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(_sale_facts_pg(len(wanted)), *wanted)
    else:
        stmt = select(Sku.code, Sku.id, Sku.name, Sku.price, Sku.sellable).where(Sku.code.in_(wanted))
        rows = (await session.execute(stmt)).all()
    return {row[0]: SaleFacts(row[1], row[2], row[3], row[4]) for row in rows}


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    return set(await session.scalars(select(Sku.code).where(Sku.code.in_(set(codes)))))


async def price_history(session: AsyncSession, sku_id: int) -> list[PriceChange]:
    stmt = select(PriceChange).where(PriceChange.sku_id == sku_id).order_by(PriceChange.id)
    return list((await session.scalars(stmt)).all())
