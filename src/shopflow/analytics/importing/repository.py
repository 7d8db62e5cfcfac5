"""Every statement of the history writer: multi-row INSERTs through SQLAlchemy Core (one
statement per table and batch, cut where a statement would pass the drivers' parameter limit),
the same on SQLite and PostgreSQL, and the reads that find what a batch names already.

Imported history spans the catalog, customers, orders and payments; like the metric queries it
reads and writes their tables through their models, in one place, and changes no domain's rows
after it wrote them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import Product, Sku
from shopflow.core.db import insert_for
from shopflow.crm.models import Customer, CustomerKey, CustomerPhone
from shopflow.orders.models import Order, OrderLine
from shopflow.payments.models import Payment

# Bound parameters per statement: under asyncpg's 32,767 and SQLite's 32,766.
MAX_PARAMETERS = 30_000


def _chunks(rows: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    if not rows:
        return []
    size = max(1, MAX_PARAMETERS // len(rows[0]))
    return [rows[start : start + size] for start in range(0, len(rows), size)]


async def _ordered_ids(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """INSERT `rows` into `table`; the new ids, in the order of `rows`."""
    ids: list[int] = []
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for chunk in _chunks(rows):
        ids += [int(i) for i in (await session.execute(stmt, list(chunk))).scalars()]
    return ids


async def _plain(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        await session.execute(insert(table), list(chunk))


async def _skipping(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows`, skipping those a unique constraint refuses (ON CONFLICT DO NOTHING)."""
    for chunk in _chunks(rows):
        await session.execute(insert_for(session, table).on_conflict_do_nothing(), list(chunk))


async def add_products(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    return await _ordered_ids(session, Product.__table__, rows)


async def add_skus(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """The SKUs (unique codes): one another transaction stored meanwhile is skipped."""
    await _skipping(session, Sku.__table__, rows)


async def sku_ids(session: AsyncSession, codes: Collection[str]) -> dict[str, int]:
    stmt = select(Sku.code, Sku.id).where(Sku.code.in_(list(codes)))
    return {code: int(i) for code, i in await session.execute(stmt)}


async def customers_known(
    session: AsyncSession, phone_hashes: Collection[str], key_hashes: Collection[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """The customers of the phones (blind index) and the platform keys among the hashes given."""
    phones: dict[str, int] = {}
    keys: dict[str, int] = {}
    if phone_hashes:
        stmt = select(CustomerPhone.phone_hash, CustomerPhone.customer_id).where(
            CustomerPhone.phone_hash.in_(list(phone_hashes))
        )
        phones = {h: int(c) for h, c in await session.execute(stmt)}
    if key_hashes:
        stmt = select(CustomerKey.key_hash, CustomerKey.customer_id).where(
            CustomerKey.key_hash.in_(list(key_hashes))
        )
        keys = {h: int(c) for h, c in await session.execute(stmt)}
    return phones, keys


async def add_customers(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    phones: Sequence[dict[str, Any]],
    keys: Sequence[dict[str, Any]],
) -> list[int]:
    """New customers (their ids in the order of `rows`) with their phones and platform keys, each
    row of those naming its customer by index into `rows` (`customer_id`)."""
    ids = await _ordered_ids(session, Customer.__table__, rows)
    await _skipping(
        session, CustomerPhone.__table__, [{**p, "customer_id": ids[p["customer_id"]]} for p in phones]
    )
    await _skipping(
        session, CustomerKey.__table__, [{**k, "customer_id": ids[k["customer_id"]]} for k in keys]
    )
    return ids


async def add_orders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """The orders whose (channel, channel order number) no order has (ORD-1's idempotency by
    that unique pair); the ids of those stored, by that pair."""
    table = Order.__table__
    stmt = (
        insert_for(session, table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.channel, table.c.channel_order_no)
    )
    stored: dict[tuple[str, str], int] = {}
    for chunk in _chunks(rows):
        for order_id, channel, number in await session.execute(stmt, list(chunk)):
            stored[(channel, number)] = int(order_id)
    return stored


async def add_lines_and_payments(
    session: AsyncSession, lines: Sequence[dict[str, Any]], payments: Sequence[dict[str, Any]]
) -> None:
    await _plain(session, OrderLine.__table__, lines)
    await _plain(session, Payment.__table__, payments)
