from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, selectinload

from shopflow.catalog.models import Category, ListingStatus, PriceChange, Product, Sku
from shopflow.core.auth import User
from shopflow.core.db import driver_connection, placeholders


class SaleFacts(NamedTuple):
    """What order intake checks of a SKU (ORD-2)."""

    id: int
    name: str
    price: int
    sellable: bool
    cost: int
    published: bool  # CAT-4: its product's listing is published
    category_id: int | None  # its product's category (what coupons of a category cover, LOY-4)


async def sku_by_code(session: AsyncSession, code: str) -> Sku | None:
    return await session.scalar(select(Sku).where(Sku.code == code))


async def product(session: AsyncSession, product_id: int, *, lock: bool = False) -> Product | None:
    return await session.get(Product, product_id, with_for_update=lock, options=[selectinload(Product.skus)])


async def products_page(session: AsyncSession, after: int, limit: int) -> list[Product]:
    """Products with an id above `after`, in id order (the catalog check's batches)."""
    stmt = select(Product).where(Product.id > after).order_by(Product.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def product_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Product)) or 0)


async def skus_by_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, Sku]:
    found = await session.scalars(select(Sku).where(Sku.code.in_(set(codes))))
    return {sku.code: sku for sku in found}


@lru_cache(maxsize=64)
def _sale_facts_pg(count: int) -> str:
    # One plain parameter per code (see inventory.repository on array parameters and plans).
    return (
        "SELECT s.code, s.id, s.name, s.price, s.sellable, s.cost, p.status = 'published', p.category_id"
        " FROM skus s"
        f" JOIN products p ON p.id = s.product_id WHERE s.code IN ({placeholders(1, count)})"
    )


async def sale_facts(session: AsyncSession, codes: Iterable[str]) -> dict[str, SaleFacts]:
    """Order intake's read, on PostgreSQL straight through the driver (the hot path)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(_sale_facts_pg(len(wanted)), *wanted)
    else:
        published = Product.status == ListingStatus.PUBLISHED
        stmt = (
            select(
                Sku.code, Sku.id, Sku.name, Sku.price, Sku.sellable, Sku.cost, published, Product.category_id
            )
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.code.in_(wanted))
        )
        rows = (await session.execute(stmt)).all()
    return {row[0]: SaleFacts(row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7]) for row in rows}


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    return set(await session.scalars(select(Sku.code).where(Sku.code.in_(set(codes)))))


async def price_history(session: AsyncSession, sku_id: int) -> list[tuple[PriceChange, str | None]]:
    """A SKU's price changes, oldest first, each with the username of who made it."""
    stmt = (
        select(PriceChange, User.username)
        .outerjoin(User, User.id == PriceChange.changed_by)
        .where(PriceChange.sku_id == sku_id)
        .order_by(PriceChange.id)
    )
    return [(change, name) for change, name in (await session.execute(stmt)).all()]


async def sku_page(
    session: AsyncSession,
    search: str | None,
    band: str | None,
    sellable: bool | None,
    offset: int,
    limit: int,
) -> tuple[list[Sku], int]:
    """SKUs by code with their product; `search` matches part of the code, the SKU's name or its
    product's name."""
    conditions = []
    if search:
        conditions.append(
            Sku.code.icontains(search, autoescape=True)
            | Sku.name.icontains(search, autoescape=True)
            | Product.name.icontains(search, autoescape=True)
        )
    if band is not None:
        conditions.append(Sku.price_band == band)
    if sellable is not None:
        conditions.append(Sku.sellable.is_(sellable))
    total = await session.scalar(select(func.count()).select_from(Sku).join(Sku.product).where(*conditions))
    stmt = (
        select(Sku)
        .join(Sku.product)
        .options(contains_eager(Sku.product))
        .where(*conditions)
        .order_by(Sku.code)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def category_id(session: AsyncSession, parent_id: int | None, name: str) -> int | None:
    parent = Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    return await session.scalar(select(Category.id).where(parent, Category.name == name))


async def add_category(session: AsyncSession, parent_id: int | None, name: str) -> int | None:
    """The new category's id, or None when a concurrent transaction added the same one first."""
    try:
        async with session.begin_nested():
            found = Category(parent_id=parent_id, name=name)
            session.add(found)
            await session.flush()
    except IntegrityError:
        return None
    return found.id


async def category_names(
    session: AsyncSession, category_ids: Iterable[int]
) -> dict[int, tuple[str, str | None]]:
    """Each category's name and its parent's (None for a top-level one), by id."""
    wanted = set(category_ids)
    if not wanted:
        return {}
    parent = aliased(Category)
    stmt = (
        select(Category.id, Category.name, parent.name)
        .outerjoin(parent, parent.id == Category.parent_id)
        .where(Category.id.in_(wanted))
    )
    return {found: (name, above) for found, name, above in (await session.execute(stmt)).all()}


async def category_parents(session: AsyncSession, category_ids: Iterable[int]) -> dict[int, int | None]:
    """Each existing category's parent (None for a top-level one), by id."""
    wanted = set(category_ids)
    if not wanted:
        return {}
    stmt = select(Category.id, Category.parent_id).where(Category.id.in_(wanted))
    return dict((await session.execute(stmt)).tuples().all())
