"""Every query of quotes and contracts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import db
from shopflow.crm.quotes.models import EXPIRING, Contract, Quote


async def get(session: AsyncSession, quote_id: int, *, lock: bool = False) -> Quote | None:
    stmt = select(Quote).where(Quote.id == quote_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def page(session: AsyncSession, state: str | None, offset: int, limit: int) -> tuple[list[Quote], int]:
    """Quotes newest first, in `state` when given, and how many there are."""
    conditions = [] if state is None else [Quote.state == state]
    total = await session.scalar(select(func.count()).select_from(Quote).where(*conditions))
    stmt = select(Quote).where(*conditions).order_by(Quote.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def claim_expired(session: AsyncSession, now: datetime, limit: int) -> list[Quote]:
    """Approved or sent quotes past their validity, locked; rows another worker holds skipped."""
    stmt = (
        select(Quote)
        .where(Quote.state.in_(EXPIRING), Quote.expires_at < now)
        .order_by(Quote.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def contract(session: AsyncSession, contract_id: int) -> Contract | None:
    return await session.get(Contract, contract_id)


async def contract_of_quote(session: AsyncSession, quote_id: int) -> Contract | None:
    return (await session.scalars(select(Contract).where(Contract.quote_id == quote_id))).first()


async def contract_ids(session: AsyncSession, quote_ids: list[int]) -> dict[int, int]:
    stmt = select(Contract.quote_id, Contract.id).where(Contract.quote_id.in_(quote_ids))
    return dict((await session.execute(stmt)).tuples().all())


async def last_number_of_day(session: AsyncSession, day: date) -> str | None:
    """The highest contract number drawn on `day` (HT<yyyymmdd>nnnn), if any."""
    prefix = f"HT{day:%Y%m%d}"
    stmt = select(func.max(Contract.contract_no)).where(Contract.contract_no.like(f"{prefix}%"))
    return await session.scalar(stmt)


async def insert_contract(session: AsyncSession, row: dict[str, Any]) -> int | None:
    """INSERT the contract unless its number is taken: its id, or None."""
    stored = await db.insert_rows(session, Contract, [row], returning="id", skip_conflicts=True)
    return int(stored[0]) if stored else None
