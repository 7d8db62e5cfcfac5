from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, selectinload

from shopflow.catalog.models import (
    BASIS_POINTS,
    Category,
    ListingStatus,
    PriceBand,
    PriceChange,
    PriceRule,
    PriceRuleKind,
    PriceRuleState,
    Product,
    Sku,
)
from shopflow.core import clock, policy
from shopflow.core.auth import User
from shopflow.core.db import driver_connection, placeholders


class SaleFacts(NamedTuple):
    """What order intake checks of a SKU (ORD-2)."""

    id: int
    name: str
    price: int  # the effective price now (CAT-3): the list price unless a price rule is in force
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


# CAT-3: the effective price now, stated once in SQL (models.effective_price states it in
# Python; tests/catalog/test_pricing.py checks they agree). A rule is in force when active, within
# its window and (a markdown) triggered; it covers the SKU, its product's category or that
# category's parent. Its price is its fixed price or the list price less its percent (rounded half
# up), never under its floor (its own, else the band's: the policy percent of the list price,
# rounded up); the lowest wins, never above the list price. Only rules whose state is 'active' are
# indexed (ix_price_rules_*_active), so with none the subquery costs one index probe per SKU.
_RULE_PRICE_PG = (
    "LEAST(s.price, COALESCE((SELECT MIN(GREATEST("
    "COALESCE(r.price, (s.price * (10000 - r.percent_bp) + 5000) / 10000),"
    " COALESCE(r.floor, (s.price * CASE s.price_band WHEN 'traffic' THEN $2::bigint"
    " WHEN 'profit' THEN $3::bigint WHEN 'image' THEN $4::bigint ELSE 10000 END + 9999) / 10000)))"
    " FROM price_rules r"
    " WHERE r.state = 'active' AND r.starts_at <= $1::timestamptz AND (r.ends_at IS NULL OR r.ends_at > $1)"
    " AND (r.kind = 'promotion' OR r.marked_from <= $1)"
    " AND (r.sku_id = s.id OR r.category_id = p.category_id OR r.category_id = c.parent_id)),"
    " s.price))"
)


@lru_cache(maxsize=64)
def _sale_facts_pg(count: int) -> str:
    # One plain parameter per code (see inventory.repository on array parameters and plans); $1 is
    # the moment, $2..$4 the band floors in basis points (traffic, profit, image).
    return (
        f"SELECT s.code, s.id, s.name, {_RULE_PRICE_PG}, s.sellable, s.cost,"
        " p.status = 'published', p.category_id"
        " FROM skus s"
        " JOIN products p ON p.id = s.product_id"
        " LEFT JOIN categories c ON c.id = p.category_id"
        f" WHERE s.code IN ({placeholders(5, count)})"
    )


def band_floor_bp() -> tuple[int, int, int]:
    """The policy's band floors (traffic, profit, image) in basis points, as the SQL takes them."""
    floors = policy.current().catalog.band_floor_percent
    return round(floors.traffic * 100), round(floors.profit * 100), round(floors.image * 100)


_PARENT = aliased(Category)  # the parent of a SKU's product's category


def _larger(a: Any, b: Any) -> Any:
    return case((a >= b, a), else_=b)


def effective_price_sql(at: datetime) -> Any:
    """The SQLAlchemy form of `_RULE_PRICE_PG` (the fallback's), over Sku, Product and `parent`."""
    traffic, profit, image = band_floor_bp()
    rule = aliased(PriceRule)
    band_bp = case(
        (Sku.price_band == PriceBand.TRAFFIC, literal(traffic)),
        (Sku.price_band == PriceBand.PROFIT, literal(profit)),
        (Sku.price_band == PriceBand.IMAGE, literal(image)),
        else_=literal(BASIS_POINTS),
    )
    asked = func.coalesce(rule.price, (Sku.price * (BASIS_POINTS - rule.percent_bp) + 5000) // BASIS_POINTS)
    floor = func.coalesce(rule.floor, (Sku.price * band_bp + 9999) // BASIS_POINTS)
    lowest = (
        select(func.min(_larger(asked, floor)))
        .where(
            rule.state == PriceRuleState.ACTIVE,
            rule.starts_at <= at,
            or_(rule.ends_at.is_(None), rule.ends_at > at),
            or_(rule.kind == PriceRuleKind.PROMOTION, rule.marked_from <= at),
            or_(
                rule.sku_id == Sku.id,
                rule.category_id == Product.category_id,
                rule.category_id == _PARENT.parent_id,
            ),
        )
        .correlate(Sku, Product, _PARENT)
        .scalar_subquery()
    )
    found = func.coalesce(lowest, Sku.price)
    return case((found < Sku.price, found), else_=Sku.price)


async def sale_facts(
    session: AsyncSession, codes: Iterable[str], at: datetime | None = None
) -> dict[str, SaleFacts]:
    """Order intake's read, on PostgreSQL straight through the driver (the hot path); `price` is
    the effective price at `at` (default: now, CAT-3), read in the same statement."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    moment = clock.now() if at is None else at
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(_sale_facts_pg(len(wanted)), moment, *band_floor_bp(), *wanted)
    else:
        published = Product.status == ListingStatus.PUBLISHED
        stmt = (
            select(
                Sku.code,
                Sku.id,
                Sku.name,
                effective_price_sql(moment),
                Sku.sellable,
                Sku.cost,
                published,
                Product.category_id,
            )
            .join(Product, Product.id == Sku.product_id)
            .outerjoin(_PARENT, _PARENT.id == Product.category_id)
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


async def price_rule(session: AsyncSession, rule_id: int, *, lock: bool = False) -> PriceRule | None:
    return await session.get(PriceRule, rule_id, with_for_update=lock)


async def rules_covering(session: AsyncSession, sku_id: int, category_ids: Iterable[int]) -> list[PriceRule]:
    """The active rules of a SKU or of any of `category_ids` (its category and that one's parent),
    whatever their window, by id."""
    categories = set(category_ids)
    covers = PriceRule.sku_id == sku_id
    if categories:
        covers = covers | PriceRule.category_id.in_(categories)
    stmt = select(PriceRule).where(PriceRule.state == PriceRuleState.ACTIVE, covers).order_by(PriceRule.id)
    return list((await session.scalars(stmt)).all())


async def existing_rule_ids(session: AsyncSession, rule_ids: Iterable[int]) -> set[int]:
    wanted = set(rule_ids)
    if not wanted:
        return set()
    return set(await session.scalars(select(PriceRule.id).where(PriceRule.id.in_(wanted))))


async def rules_page(session: AsyncSession, offset: int, limit: int) -> tuple[list[PriceRule], int]:
    """Price rules, newest first, and how many there are."""
    total = await session.scalar(select(func.count()).select_from(PriceRule))
    stmt = select(PriceRule).order_by(PriceRule.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def rules_between(session: AsyncSession, start: datetime, end: datetime) -> list[PriceRule]:
    """The rules not rejected whose window meets [start, end), by start."""
    stmt = (
        select(PriceRule)
        .where(
            PriceRule.state != PriceRuleState.REJECTED,
            PriceRule.starts_at < end,
            or_(PriceRule.ends_at.is_(None), PriceRule.ends_at > start),
        )
        .order_by(PriceRule.starts_at, PriceRule.id)
    )
    return list((await session.scalars(stmt)).all())


async def markdown_rules(session: AsyncSession, at: datetime, *, lock: bool = False) -> list[PriceRule]:
    """The active markdown rules whose window has not ended at `at`, by id (the stock sweep's)."""
    stmt = (
        select(PriceRule)
        .where(
            PriceRule.state == PriceRuleState.ACTIVE,
            PriceRule.kind == PriceRuleKind.MARKDOWN,
            or_(PriceRule.ends_at.is_(None), PriceRule.ends_at > at),
        )
        .order_by(PriceRule.id)
    )
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.scalars(stmt)).all())


async def skus_by_ids(session: AsyncSession, sku_ids: Iterable[int]) -> dict[int, Sku]:
    wanted = set(sku_ids)
    if not wanted:
        return {}
    return {sku.id: sku for sku in await session.scalars(select(Sku).where(Sku.id.in_(wanted)))}
