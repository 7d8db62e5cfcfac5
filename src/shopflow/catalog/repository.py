from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import PriceChange, Sku


async def sku_by_code(session: AsyncSession, code: str) -> Sku | None:
    return await session.scalar(select(Sku).where(Sku.code == code))


async def skus_by_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, Sku]:
    found = await session.scalars(select(Sku).where(Sku.code.in_(set(codes))))
    return {sku.code: sku for sku in found}


async def sale_facts(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, Row[tuple[int, str, int, bool]]]:
    stmt = select(Sku.code, Sku.id, Sku.name, Sku.price, Sku.sellable).where(Sku.code.in_(set(codes)))
    return {row.code: row for row in (await session.execute(stmt)).all()}


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    return set(await session.scalars(select(Sku.code).where(Sku.code.in_(set(codes)))))


async def price_history(session: AsyncSession, sku_id: int) -> list[PriceChange]:
    stmt = select(PriceChange).where(PriceChange.sku_id == sku_id).order_by(PriceChange.id)
    return list((await session.scalars(stmt)).all())
