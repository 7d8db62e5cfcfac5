"""Every query of coupons (LOY-4): reading codes with their coupons, and the conditional
statements that reserve and release a use inside the order's transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.db import driver_connection, insert_for, placeholders
from shopflow.loyalty.models import (
    EXPIRING,
    Coupon,
    CouponAllowance,
    CouponCode,
    CouponUse,
    PointAccount,
    PointEntry,
    PointKind,
)

OFFER_COLUMNS = (
    Coupon.id.label("coupon_id"),
    CouponCode.id.label("code_id"),
    CouponCode.code,
    Coupon.kind,
    Coupon.value,
    Coupon.min_spend,
    Coupon.limit_total,
    Coupon.limit_per_customer,
    Coupon.starts_at,
    Coupon.ends_at,
    Coupon.skus,
    Coupon.categories,
    Coupon.stacking_group,
    Coupon.combines_with,
    Coupon.used,
    CouponCode.max_uses.label("code_max_uses"),
    CouponCode.used.label("code_used"),
)


@lru_cache(maxsize=16)
def _offers_pg(count: int) -> str:
    """`OFFER_COLUMNS`' statement as SQL for the driver."""
    return (
        "SELECT c.id AS coupon_id, k.id AS code_id, k.code, c.kind, c.value, c.min_spend, c.limit_total,"
        " c.limit_per_customer, c.starts_at, c.ends_at, c.skus, c.categories, c.stacking_group,"
        " c.combines_with, c.used, k.max_uses AS code_max_uses, k.used AS code_used"
        " FROM coupon_codes k JOIN coupons c ON c.id = k.coupon_id"
        f" WHERE k.code IN ({placeholders(1, count)})"
    )


async def offers(session: AsyncSession, codes: Collection[str]) -> dict[str, Mapping[str, Any]]:
    """The coupon of each code that exists (one statement, order intake's: on PostgreSQL straight
    through the driver), by code."""
    wanted = sorted(codes)
    driver = await driver_connection(session)
    if driver is not None:
        # JSON arrives decoded: SQLAlchemy's asyncpg dialect sets the connection's JSON codecs.
        return {row["code"]: row for row in await driver.fetch(_offers_pg(len(wanted)), *wanted)}
    stmt = (
        select(*OFFER_COLUMNS)
        .join(Coupon, Coupon.id == CouponCode.coupon_id)
        .where(CouponCode.code.in_(wanted))
    )
    return {row.code: row._mapping for row in await session.execute(stmt)}


async def allowances_used(session: AsyncSession, buyer: str, coupon_ids: Collection[int]) -> dict[int, int]:
    """How many of each coupon's per-customer uses `buyer` holds."""
    stmt = select(CouponAllowance.coupon_id, CouponAllowance.used).where(
        CouponAllowance.buyer == buyer, CouponAllowance.coupon_id.in_(coupon_ids)
    )
    return dict((await session.execute(stmt)).tuples().all())


@lru_cache(maxsize=16)
def _take_uses_pg(count: int) -> str:
    return (
        f"UPDATE coupons SET used = used + 1 WHERE id IN ({placeholders(1, count)})"
        " AND (limit_total IS NULL OR used < limit_total) RETURNING id"
    )


async def take_uses(session: AsyncSession, coupon_ids: Sequence[int]) -> set[int]:
    """One use of each coupon reserved by one conditional UPDATE (`used < limit_total`): the ids
    that had one left. Rows are locked in primary-key order (callers pass them sorted). Order
    intake's: on PostgreSQL straight through the driver."""
    driver = await driver_connection(session)
    if driver is not None:
        return {row[0] for row in await driver.fetch(_take_uses_pg(len(coupon_ids)), *coupon_ids)}
    stmt = (
        update(Coupon)
        .where(Coupon.id.in_(coupon_ids), or_(Coupon.limit_total.is_(None), Coupon.used < Coupon.limit_total))
        .values(used=Coupon.used + 1)
        .returning(Coupon.id)
    )
    return set((await session.scalars(stmt, execution_options={"synchronize_session": False})).all())


async def take_codes(session: AsyncSession, code_ids: Sequence[int]) -> set[int]:
    """One use of each limited code (a batch's) reserved by one conditional UPDATE."""
    stmt = (
        update(CouponCode)
        .where(CouponCode.id.in_(code_ids), CouponCode.used < CouponCode.max_uses)
        .values(used=CouponCode.used + 1)
        .returning(CouponCode.id)
    )
    return set((await session.scalars(stmt, execution_options={"synchronize_session": False})).all())


async def take_allowances(session: AsyncSession, buyer: str, coupon_ids: Sequence[int]) -> set[int]:
    """One of `buyer`'s per-customer uses of each coupon reserved by one conditional upsert (a new
    row, or `used + 1` while under the coupon's `limit_per_customer`): the ids that had one left."""
    limit = select(Coupon.limit_per_customer).where(Coupon.id == CouponAllowance.coupon_id).scalar_subquery()
    insert = insert_for(session, CouponAllowance).values(
        [{"coupon_id": coupon_id, "buyer": buyer, "used": 1} for coupon_id in coupon_ids]
    )
    stmt = insert.on_conflict_do_update(
        index_elements=["coupon_id", "buyer"],
        set_={"used": CouponAllowance.used + 1},
        where=CouponAllowance.used < limit,
    ).returning(CouponAllowance.coupon_id)
    return set((await session.scalars(stmt)).all())


async def release_uses(session: AsyncSession, order_id: int, at: datetime) -> list[tuple[int, int, str]]:
    """The order's uses not yet released, marked released at `at`: (coupon, code, buyer) of each."""
    stmt = (
        update(CouponUse)
        .where(CouponUse.order_id == order_id, CouponUse.released_at.is_(None))
        .values(released_at=at)
        .returning(CouponUse.coupon_id, CouponUse.code_id, CouponUse.buyer)
    )
    result = await session.execute(stmt, execution_options={"synchronize_session": False})
    return [tuple(row) for row in result.all()]  # type: ignore[misc]


async def give_back(
    session: AsyncSession, coupon_ids: Sequence[int], code_ids: Sequence[int], buyer: str
) -> None:
    """The counters of released uses brought down: the limited coupons', the limited codes' and
    the buyer's allowances (rows in primary-key order)."""
    options = {"synchronize_session": False}
    await session.execute(
        update(Coupon)
        .where(Coupon.id.in_(coupon_ids), Coupon.limit_total.is_not(None))
        .values(used=Coupon.used - 1),
        execution_options=options,
    )
    await session.execute(
        update(CouponCode)
        .where(CouponCode.id.in_(code_ids), CouponCode.max_uses.is_not(None))
        .values(used=CouponCode.used - 1),
        execution_options=options,
    )
    await session.execute(
        update(CouponAllowance)
        .where(
            CouponAllowance.buyer == buyer,
            CouponAllowance.coupon_id.in_(coupon_ids),
            CouponAllowance.used > 0,
        )
        .values(used=CouponAllowance.used - 1),
        execution_options=options,
    )


async def uses_of_order(session: AsyncSession, order_id: int) -> list[CouponUse]:
    stmt = select(CouponUse).where(CouponUse.order_id == order_id).order_by(CouponUse.id)
    return list((await session.scalars(stmt)).all())


async def get(session: AsyncSession, coupon_id: int) -> Coupon | None:
    return await session.get(Coupon, coupon_id)


async def by_code(session: AsyncSession, code: str) -> Coupon | None:
    stmt = select(Coupon).join(CouponCode, CouponCode.coupon_id == Coupon.id).where(CouponCode.code == code)
    return (await session.scalars(stmt)).first()


async def page(session: AsyncSession, offset: int, limit: int) -> tuple[list[Coupon], int]:
    """Coupons newest first, and how many there are."""
    total = await session.scalar(select(func.count()).select_from(Coupon))
    stmt = select(Coupon).order_by(Coupon.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def code_counts(session: AsyncSession, coupon_ids: Iterable[int]) -> dict[int, int]:
    """How many codes each coupon has (its own and generated ones)."""
    stmt = (
        select(CouponCode.coupon_id, func.count())
        .where(CouponCode.coupon_id.in_(set(coupon_ids)))
        .group_by(CouponCode.coupon_id)
    )
    return dict((await session.execute(stmt)).tuples().all())


async def insert_codes(
    session: AsyncSession, coupon_id: int, codes: Iterable[str], max_uses: int | None
) -> set[str]:
    """The codes not taken yet inserted (a taken one is skipped, in batches of many rows): the
    ones that were."""
    rows = [{"coupon_id": coupon_id, "code": code, "max_uses": max_uses, "used": 0} for code in codes]
    if not rows:
        return set()
    stmt = insert_for(session, CouponCode).on_conflict_do_nothing(index_elements=["code"])
    return set((await session.scalars(stmt.returning(CouponCode.code), rows)).all())


async def codes_of(session: AsyncSession, coupon_id: int, after: int, limit: int) -> list[CouponCode]:
    stmt = (
        select(CouponCode)
        .where(CouponCode.coupon_id == coupon_id, CouponCode.id > after)
        .order_by(CouponCode.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def uses_page(
    session: AsyncSession, coupon_id: int, offset: int, limit: int
) -> tuple[list[CouponUse], int]:
    """A coupon's uses newest first (released ones too), and how many there are."""
    condition = CouponUse.coupon_id == coupon_id
    total = await session.scalar(select(func.count()).select_from(CouponUse).where(condition))
    stmt = select(CouponUse).where(condition).order_by(CouponUse.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def uses_held(session: AsyncSession, coupon_ids: Iterable[int]) -> dict[int, int]:
    """How many uses of each coupon are not released (the ledger's side of `Coupon.used`)."""
    stmt = (
        select(CouponUse.coupon_id, func.count())
        .where(CouponUse.coupon_id.in_(set(coupon_ids)), CouponUse.released_at.is_(None))
        .group_by(CouponUse.coupon_id)
    )
    return dict((await session.execute(stmt)).tuples().all())


# --- points (LOY-1) ------------------------------------------------------------------------------


async def account(session: AsyncSession, customer_id: int, *, lock: bool = False) -> PointAccount | None:
    stmt = select(PointAccount).where(PointAccount.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def credit(session: AsyncSession, customer_id: int, points: int, at: datetime) -> None:
    """`points` added to the member's balance (the account made on their first credit)."""
    stmt = insert_for(session, PointAccount).values(customer_id=customer_id, balance=points, updated_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={"balance": PointAccount.balance + points, "updated_at": at},
    )
    await session.execute(stmt)


DEBIT_PG = (
    "UPDATE point_accounts SET balance = balance - $2, updated_at = $3"
    " WHERE customer_id = $1 AND balance >= $2 RETURNING customer_id"
)


async def debit(session: AsyncSession, customer_id: int, points: int, at: datetime) -> bool:
    """`points` taken from the balance by one conditional UPDATE (`balance >= points`): whether
    there were enough. Order intake's: on PostgreSQL straight through the driver."""
    driver = await driver_connection(session)
    if driver is not None:
        return await driver.fetchval(DEBIT_PG, customer_id, points, at) is not None
    stmt = (
        update(PointAccount)
        .where(PointAccount.customer_id == customer_id, PointAccount.balance >= points)
        .values(balance=PointAccount.balance - points, updated_at=at)
        .returning(PointAccount.customer_id)
    )
    return (await session.scalar(stmt, execution_options={"synchronize_session": False})) is not None


async def entries_page(
    session: AsyncSession, customer_id: int, offset: int, limit: int
) -> tuple[list[PointEntry], int]:
    """A member's ledger, newest first, and how many entries it has."""
    condition = PointEntry.customer_id == customer_id
    total = await session.scalar(select(func.count()).select_from(PointEntry).where(condition))
    stmt = select(PointEntry).where(condition).order_by(PointEntry.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def entries_of_order(session: AsyncSession, order_id: int) -> list[PointEntry]:
    stmt = select(PointEntry).where(PointEntry.order_id == order_id).order_by(PointEntry.id)
    return list((await session.scalars(stmt)).all())


async def ledger_sum(session: AsyncSession, customer_id: int) -> int:
    stmt = select(func.coalesce(func.sum(PointEntry.points), 0)).where(PointEntry.customer_id == customer_id)
    return int(await session.scalar(stmt) or 0)


async def claim_expiring(session: AsyncSession, now: datetime, limit: int) -> list[PointAccount]:
    """Accounts with a credit expiring by `now` that the sweep has not taken into account, locked;
    accounts another worker holds skipped."""
    due = (
        select(PointEntry.customer_id)
        .where(
            PointEntry.customer_id == PointAccount.customer_id,
            PointEntry.expires_at <= now,
            or_(PointAccount.expired_through.is_(None), PointEntry.expires_at > PointAccount.expired_through),
        )
        .exists()
    )
    stmt = (
        select(PointAccount)
        .where(due)
        .order_by(PointAccount.customer_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def expiry_sums(session: AsyncSession, customer_id: int, now: datetime) -> tuple[int, int, int]:
    """(credits whose date has passed, spending net of returns, expired so far) of a member."""
    kind, points = PointEntry.kind, PointEntry.points
    due = (kind.in_([k.value for k in EXPIRING])) & (points > 0) & (PointEntry.expires_at <= now)
    spent = (kind != PointKind.EXPIRE) & ((points < 0) | (kind == PointKind.RETURN))
    stmt = select(
        func.coalesce(func.sum(case((due, points), else_=0)), 0),
        func.coalesce(func.sum(case((spent, -points), else_=0)), 0),
        func.coalesce(func.sum(case((kind == PointKind.EXPIRE, -points), else_=0)), 0),
    ).where(PointEntry.customer_id == customer_id)
    credits, debits, expired = (await session.execute(stmt)).one()
    return int(credits), int(debits), int(expired)
